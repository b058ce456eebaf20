// The learning-rate schedule and the EMA of the weights: diffusers' formulas, the average the GPU
// keeps against a float64 one of the same weight trajectory, and a checkpoint whose model files
// hold the average with the trained weights beside them.
import assert from "node:assert/strict";
import { cleanDataset } from "../../data/clean.ts";
import { BUNDLED_LABELS_PATH, BUNDLED_SPRITES_PATH } from "../../data/generate.ts";
import { saveTrainingCheckpoint } from "../../data/run_folder.ts";
import { loadSpriteDataset, selectSprites } from "../../data/sprites.ts";
import { readSafetensors } from "../../gpu/formats/safetensors.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { readback } from "../../gpu/runtime/tensor.ts";
import { REFERENCE_RECIPE, type TrainRecipe } from "../../gpu/train/recipe.ts";
import { emaDecayAt, learningRateAt } from "../../gpu/train/schedule.ts";
import { Trainer } from "../../gpu/train/trainer.ts";
import { assertClose, getGpu, tinyConfig } from "../util.ts";

Deno.test("schedule: warm-up, constant and cosine learning rates; the EMA decay's warm-up", () => {
  const r = { lr: 1e-3, lrSchedule: "cosine" as const, warmupSteps: 4 };
  assert.deepEqual([0, 1, 3].map((s) => learningRateAt(r, s, 104)), [2.5e-4, 5e-4, 1e-3]);
  assert.equal(learningRateAt(r, 4, 104), 1e-3);
  assert.ok(Math.abs(learningRateAt(r, 54, 104) - 5e-4) < 1e-15, "half way: half the lr");
  assert.equal(learningRateAt(r, 104, 104), 0);
  assert.equal(learningRateAt(r, 500, 104), 0, "past the end (a longer resume): 0");
  const constant = { ...r, lrSchedule: "constant" as const, warmupSteps: 0 };
  assert.equal(learningRateAt(constant, 77, 104), 1e-3);
  // diffusers EMAModel(use_ema_warmup=True, inv_gamma=1, power=3/4): 0 for the first update, then
  // 1 - (1 + step)^-3/4 with step = updates - 1, capped at the decay asked for.
  assert.equal(emaDecayAt(0.9999, 1), 0);
  assert.ok(Math.abs(emaDecayAt(0.9999, 2) - (1 - 2 ** -0.75)) < 1e-15);
  assert.ok(Math.abs(emaDecayAt(0.9999, 1001) - (1 - 1001 ** -0.75)) < 1e-15);
  assert.equal(emaDecayAt(0.99, 1e6), 0.99);
});

Deno.test("EMA: the GPU's average of the weights is the float64 one of the same steps; checkpoints hold it", async () => {
  const gpu = await getGpu();
  const all =
    cleanDataset(await loadSpriteDataset(BUNDLED_SPRITES_PATH, BUNDLED_LABELS_PATH)).dataset;
  const dataset = selectSprites(all, Array.from({ length: 8 }, (_, i) => i * 300));
  const recipe: TrainRecipe = {
    ...REFERENCE_RECIPE,
    batch: 4,
    epochs: 3,
    lr: 1e-3,
    freezeEpoch: 1,
    seed: 3,
    emaDecay: 0.6,
  };
  const trainer = await Trainer.create(gpu, randomSpriteModel(gpu, tinyConfig, 3), dataset, recipe);
  const stores = [trainer.model.unetParams, trainer.model.embeddingParams!];
  const ema = await Promise.all(
    stores.map(async (s) => Float64Array.from(await readback(gpu, s.data))),
  );
  for (let step = 1; step <= 5; step++) {
    await trainer.runEpoch({ logEvery: 1, stepLimit: step });
    const d = emaDecayAt(recipe.emaDecay, step);
    for (const [i, s] of stores.entries()) {
      const w = await readback(gpu, s.data);
      for (let j = 0; j < w.length; j++) ema[i][j] -= (1 - Math.fround(d)) * (ema[i][j] - w[j]);
    }
  }
  assert.equal(trainer.state.step, 5);
  for (const i of [0, 1]) {
    assertClose(await readback(gpu, trainer.ema!.shadows[i]), ema[i], 1e-6, `EMA of store ${i}`);
  }

  const dir = await Deno.makeTempDir({ prefix: "ema_test_" });
  try {
    await saveTrainingCheckpoint(dir, trainer);
    const model = readSafetensors(
      await Deno.readFile(`${dir}/diffusion_pytorch_model.safetensors`),
    );
    const trained = readSafetensors(await Deno.readFile(`${dir}/training_weights.safetensors`));
    const shadow = await readback(gpu, trainer.ema!.shadows[0]);
    const weights = await readback(gpu, trainer.model.unetParams.data);
    const e = trainer.model.unetParams.layout.entries[0];
    assert.deepEqual(model.get(e.name)!.data, shadow.slice(e.offset, e.offset + e.size));
    assert.deepEqual(
      trained.get(`unet.${e.name}`)!.data,
      weights.slice(e.offset, e.offset + e.size),
    );
    assert.ok(trained.has("emb.0.weight"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
