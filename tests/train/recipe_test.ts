// The one recipe parser: the CLI's flags and the route's JSON give the same recipe and the same
// refusals (only the field's spelling differs), and a saved recipe is checked on resume.
import assert from "node:assert/strict";
import { flagFields, flagName } from "../../cli/args.ts";
import { RequestError } from "../../gpu/runtime/errors.ts";
import {
  freezeNote,
  parseRecipe,
  parseResumedRecipe,
  parseRunLimits,
  parseSavedRecipe,
  RECIPE_FIELD_NAMES,
  REFERENCE_RECIPE,
} from "../../gpu/train/recipe.ts";

const R = REFERENCE_RECIPE;

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RequestError, String(e));
    assert.match((e as Error).message, pattern);
    return true;
  });
}

Deno.test("recipe: absent fields are the base's; JSON numbers and flag text give the same recipe", () => {
  assert.deepEqual(parseRecipe({}, R).recipe, R);
  const json = {
    batch: 32,
    epochs: 3,
    lr: 0.001,
    weight_decay: 0,
    loss: "mse",
    dropout: 0.1,
    emb_dropout: 0,
    freeze_epoch: 2,
    mask_prob: 0.1,
    seed: 4294967295,
    precision: "f16",
    lr_schedule: "cosine",
    warmup_steps: 100,
    ema_decay: 0.999,
    sampling: "uniform",
  };
  const fromJson = parseRecipe(json, R);
  const flags = Object.fromEntries(
    Object.entries(json).map(([k, v]) => [flagName(k).slice(2), String(v)]),
  );
  const fromFlags = parseRecipe(flagFields(flags, RECIPE_FIELD_NAMES), R, { nameOf: flagName });
  assert.deepEqual(fromFlags, fromJson);
  assert.deepEqual(fromJson.recipe, {
    batch: 32,
    epochs: 3,
    lr: 0.001,
    weightDecay: 0,
    loss: "mse",
    dropout: 0.1,
    embDropout: 0,
    freezeEpoch: 2,
    maskProb: 0.1,
    seed: 4294967295,
    precision: "f16",
    lrSchedule: "cosine",
    warmupSteps: 100,
    emaDecay: 0.999,
    sampling: "uniform",
  });
  assert.equal(fromJson.autoPrecision, false);
});

Deno.test("recipe: precision auto is reported, and is the default of a new run", () => {
  assert.equal(parseRecipe({}, R, { precisionDefaultsToAuto: true }).autoPrecision, true);
  assert.equal(parseRecipe({ precision: "auto" }, R).autoPrecision, true);
  assert.equal(parseRecipe({}, R).autoPrecision, false);
  assert.equal(
    parseRecipe({ precision: "auto" }, { ...R, precision: "f16" }).recipe.precision,
    "f16",
  );
});

Deno.test("recipe: one set of limits, each refusal naming the field as the person wrote it", () => {
  const cases: [Record<string, unknown>, RegExp, RegExp][] = [
    [{ batch: 0 }, /^batch must be in \[1, 4096\], got 0$/, /^--batch must be in/],
    [{ batch: 4097 }, /batch must be in \[1, 4096\]/, /--batch must be in/],
    [{ batch: 2.5 }, /batch must be an integer/, /--batch must be an integer/],
    [{ lr: 0 }, /^lr must be positive, got 0$/, /^--lr must be positive/],
    [{ lr: "fast" }, /lr must be a number, got "fast"/, /--lr must be a number/],
    [{ lr: 11 }, /lr must be in \[0, 10\]/, /--lr must be in/],
    [{ weight_decay: -1 }, /weight_decay must be in/, /--weight-decay must be in/],
    [{ loss: "huber" }, /loss must be "l1" or "mse", got "huber"/, /--loss must be "l1"/],
    [{ dropout: 1 }, /dropout must be in \[0, 0.99\]/, /--dropout must be in/],
    [{ emb_dropout: -0.1 }, /emb_dropout must be in/, /--emb-dropout must be in/],
    [{ freeze_epoch: -1 }, /freeze_epoch must be in/, /--freeze-epoch must be in/],
    [{ mask_prob: 1.5 }, /mask_prob must be in \[0, 1\]/, /--mask-prob must be in/],
    [{ seed: 2 ** 32 }, /seed must be in/, /--seed must be in/],
    [{ precision: "bf16" }, /precision must be "auto", "f32" or "f16"/, /--precision must be/],
    [{ epochs: 0 }, /epochs must be in \[1, 1000000\]/, /--epochs must be in/],
  ];
  for (const [input, jsonPattern, flagPattern] of cases) {
    refused(() => parseRecipe(input, R), jsonPattern);
    const flags = Object.fromEntries(
      Object.entries(input).map(([k, v]) => [flagName(k).slice(2), String(v)]),
    );
    refused(
      () => parseRecipe(flagFields(flags, RECIPE_FIELD_NAMES), R, { nameOf: flagName }),
      flagPattern,
    );
  }
});

Deno.test("recipe: a resume changes only epochs, lr and the freeze epoch", () => {
  const saved = { ...R, batch: 8, lr: 1e-3 };
  assert.deepEqual(parseResumedRecipe({ epochs: 40, lr: 3e-4 }, saved, 5), {
    ...saved,
    epochs: 40,
    lr: 3e-4,
  });
  refused(() => parseResumedRecipe({ batch: 16 }, saved, 5), /batch cannot be changed on resume/);
  refused(
    () => parseResumedRecipe({ loss: "mse" }, saved, 5, flagName),
    /--loss cannot be changed on resume.*only --epochs, --lr and --freeze-epoch/,
  );
  refused(() => parseResumedRecipe({ lr: 0 }, saved, 5, flagName), /--lr must be positive/);
  // The freeze epoch moves with a shorter run (epoch 5 of a run frozen from epoch 81) ...
  assert.equal(parseResumedRecipe({ epochs: 40, freeze_epoch: 30 }, saved, 5).freezeEpoch, 30);
  // ... but a frozen embedding is never unfrozen.
  const frozen = { ...saved, freezeEpoch: 3 };
  assert.equal(parseResumedRecipe({ freeze_epoch: 2 }, frozen, 5).freezeEpoch, 2);
  refused(
    () => parseResumedRecipe({ freeze_epoch: 8 }, frozen, 5, flagName),
    /--freeze-epoch 8: the embedding is frozen since epoch 4/,
  );
});

Deno.test("recipe: a run whose embedding never freezes gets a note naming the flag", () => {
  assert.equal(freezeNote({ ...R, epochs: 100, freezeEpoch: 80 }), undefined);
  assert.match(
    freezeNote({ ...R, epochs: 40, freezeEpoch: 80 }, flagName)!,
    /never frozen in this run \(freeze epoch 80 >= 40 epochs\).*--freeze-epoch N \(< 40\)/,
  );
});

Deno.test("recipe: a saved recipe is checked, with the saved limits (an old run resumes)", () => {
  const saved = { ...R, batch: 65536, lr: 1e38 };
  assert.deepEqual(parseSavedRecipe({ ...saved }, "state.json recipe"), saved);
  // Written before mixed precision existed: an f32 run.
  const { precision: _, ...old } = R;
  assert.equal(parseSavedRecipe(old, "state.json recipe").precision, "f32");
  // Written before schedules and EMA: constant lr, no warm-up, no average.
  const { lrSchedule: _s, warmupSteps: _w, emaDecay: _e, sampling: _m, ...older } = R;
  const back = parseSavedRecipe(older, "state.json recipe");
  assert.deepEqual(
    [back.lrSchedule, back.warmupSteps, back.emaDecay, back.sampling],
    ["constant", 0, 0, "balanced"],
  );
  refused(
    () => parseSavedRecipe({ ...R, emaDecay: 1 }, "x recipe"),
    /x recipe: emaDecay must be in/,
  );
  refused(() => parseSavedRecipe({ ...R, lr: -1 }, "x recipe"), /x recipe: lr must be in/);
  refused(() => parseSavedRecipe({ ...R, dropout: 1 }, "x recipe"), /x recipe: dropout/);
  refused(() => parseSavedRecipe({ ...R, seed: 2 ** 32 }, "x recipe"), /x recipe: seed/);
  const { batch: _b, ...noBatch } = R;
  refused(() => parseSavedRecipe(noBatch, "x recipe"), /x recipe: "batch" is missing/);
});

Deno.test("run limits: log_every and max_steps", () => {
  assert.deepEqual(parseRunLimits({}), { logEvery: 10, maxSteps: undefined });
  assert.deepEqual(parseRunLimits({ log_every: "5", max_steps: 3 }), { logEvery: 5, maxSteps: 3 });
  refused(() => parseRunLimits({ max_steps: 0 }, flagName), /--max-steps must be in/);
  refused(() => parseRunLimits({ log_every: 1.5 }), /log_every must be an integer/);
});
