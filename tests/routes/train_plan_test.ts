// What a web training job runs (routes/train_plan.ts), with the shipped model's own record as the
// served model: by default a fine-tune with its recipe at a tenth of its lr, one epoch, the
// embedding frozen from the start; from scratch only when asked, with the preset's recipe. No GPU.
import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { DEFAULT_MODEL_DIR } from "../../data/model_source.ts";
import { compactConfig, referenceConfig } from "../../gpu/model/presets.ts";
import { EngineInputError } from "../../gpu/runtime/errors.ts";
import { REFERENCE_RECIPE } from "../../gpu/train/recipe.ts";
import type { ServingModel } from "../../routes/gpu_protocol.ts";
import { planJob, planView } from "../../routes/train_plan.ts";

const info = JSON.parse(await Deno.readTextFile(`${DEFAULT_MODEL_DIR}/sprite_diffusion.json`));
const shipped: ServingModel = {
  config: compactConfig,
  classNames: info.class_names,
  info,
  parameters: { unet: 0, embedding: 0, total: 0 },
  source: "sprite-compact",
  trainingFiles: { sprites: "", labels: "" },
};

Deno.test("train plan: the served model fine-tuned with its own recipe, a tenth of its lr", () => {
  const plan = planJob({}, shipped);
  assertEquals([plan.start, plan.base, plan.config], ["serving", "sprite-compact", compactConfig]);
  assertEquals(plan.recipe, {
    ...info.recipe,
    lr: 1e-5, // the shipped model's last stage ran at 1e-4
    epochs: 1,
    freezeEpoch: 0, // the embedding stays as it was trained; class masking goes on
    lrSchedule: "constant",
    warmupSteps: 0,
    emaDecay: 0,
    sampling: "balanced",
  });
  // A served run's schedule and EMA are its own: a fine-tune steps at one constant rate.
  const scheduled = planJob({}, {
    ...shipped,
    info: {
      ...info,
      recipe: { ...info.recipe, lr_schedule: "cosine", warmup_steps: 500, ema_decay: 0.9999 },
    },
  }).recipe;
  assertEquals([scheduled.lrSchedule, scheduled.warmupSteps, scheduled.emaDecay], [
    "constant",
    0,
    0,
  ]);
  assertEquals([plan.autoPrecision, plan.note], [true, null]);
  // Any recipe field the request names wins, with the training parser's limits and names.
  const longer = planJob({ epochs: "3", lr: 2e-5, max_steps: 9 }, shipped).recipe;
  assertEquals([longer.epochs, longer.lr, longer.batch], [3, 2e-5, 32]);
  throws(() => planJob({ lr: 0 }, shipped), /lr must be positive/);
  assertEquals(planView(plan).precision, "auto");
});

Deno.test("train plan: from scratch only when asked, with the preset's own recipe", () => {
  const compact = planJob({ start: "scratch" }, shipped);
  assertEquals([compact.base, compact.config], ["compact preset, random init", compactConfig]);
  assertEquals(compact.recipe, {
    ...REFERENCE_RECIPE,
    dropout: compactConfig.dropout,
    batch: 32,
    lr: 1e-3,
    epochs: 24,
    freezeEpoch: 16,
    seed: 1,
  });
  const reference = planJob({ start: "scratch", config: "reference" }, shipped);
  assertEquals([reference.config, reference.recipe], [referenceConfig, REFERENCE_RECIPE]);
  ok(/never frozen/.test(planJob({ start: "scratch", epochs: 4 }, shipped).note ?? ""));
  for (
    const [fields, pattern] of [
      [{ start: "serving", config: "compact" }, /^config goes with start "scratch"/],
      [{ start: "new" }, /^start must be "serving" or "scratch", got "new"$/],
      [{ config: "tiny" }, /^unknown config preset "tiny": use reference or compact$/],
      [{ config: "constructor" }, /^unknown config preset "constructor"/],
    ] as const
  ) {
    throws(
      () => planJob(fields, shipped),
      (e: Error) => e instanceof EngineInputError && pattern.test(e.message),
    );
  }
  // A preset named without `start` is a new model, as the route always read it.
  assertEquals(planJob({ config: "reference" }, shipped).start, "scratch");
});

Deno.test("train plan: a served model without a recipe is fine-tuned with the compact one's", () => {
  const plain = planJob({}, { ...shipped, info: {}, source: "random init (tiny, untrained)" });
  assertEquals([plain.recipe.lr, plain.recipe.batch, plain.recipe.seed], [1e-4, 32, 1]);
  assertEquals(plain.recipe.dropout, compactConfig.dropout);
});
