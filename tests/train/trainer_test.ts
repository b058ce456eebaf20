// The trainer on a tiny UNet and a few dozen bundled sprites: the loss falls, the embedding stays
// fixed after the freeze epoch, a resumed run repeats an uninterrupted one bit for bit, a NaN stops
// training, and bad flags, files and folders give clear errors.
import assert from "node:assert/strict";
import { trainCommand } from "../../cli/train.ts";
import { cleanDataset } from "../../data/clean.ts";
import { BUNDLED_LABELS_PATH, BUNDLED_SPRITES_PATH } from "../../data/generate.ts";
import {
  classIndices,
  loadSpriteDataset,
  selectSprites,
  type SpriteDataset,
} from "../../data/sprites.ts";
import { writeNpy } from "../../data/npy.ts";
import { EngineInputError } from "../../gpu/runtime/errors.ts";
import { loadSpriteModel } from "../../data/model_folder.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { type Dispatch, runNow } from "../../gpu/runtime/kernel.ts";
import { readback, tensorFrom } from "../../gpu/runtime/tensor.ts";
import { gatherRows } from "../../gpu/train/step.ts";
import {
  loadOptimizerState,
  readTrainingState,
  saveTrainingCheckpoint,
} from "../../data/run_folder.ts";
import { REFERENCE_RECIPE, type TrainRecipe } from "../../gpu/train/recipe.ts";
import { type StepLog, Trainer, TrainingDivergedError } from "../../gpu/train/trainer.ts";
import { assertClose, getGpu, gpuTensor, makeRng, poisoned, randn, tinyConfig } from "../util.ts";

const RECIPE: TrainRecipe = {
  ...REFERENCE_RECIPE,
  batch: 4,
  epochs: 2,
  lr: 1e-3,
  freezeEpoch: 1,
  seed: 7,
};

let data: SpriteDataset | undefined;

/** `count` cleaned bundled sprites, every class present (the first few of each, in file order). */
async function tinyDataset(count: number): Promise<SpriteDataset> {
  data ??= cleanDataset(await loadSpriteDataset(BUNDLED_SPRITES_PATH, BUNDLED_LABELS_PATH)).dataset;
  const cls = classIndices(data);
  const picked: number[] = [];
  for (let i = 0; i < data.count && picked.length < count; i++) {
    if (picked.filter((j) => cls[j] === cls[i]).length < Math.ceil(count / 5)) picked.push(i);
  }
  return selectSprites(data, picked);
}

async function newTrainer(recipe: TrainRecipe, dataset: SpriteDataset) {
  const gpu = await getGpu();
  const model = randomSpriteModel(gpu, tinyConfig, recipe.seed);
  return await Trainer.create(gpu, model, dataset, recipe);
}

function assertEqualArrays(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: lengths ${a.length} / ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!(Object.is(a[i], b[i]))) throw new Error(`${what}: differ at [${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function assertDiffers(a: Float32Array, b: Float32Array, what: string): void {
  if (a.every((v, i) => v === b[i])) throw new Error(`${what}: unchanged`);
}

Deno.test("gatherRows: rows of a table by index, repeats allowed", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const rows = 37, cols = 5, n = 13;
  const table = randn(rng, n * cols);
  const idx = Uint32Array.from({ length: rows }, () => Math.floor(rng.next() * n));
  const out = poisoned(gpu, [rows, cols]);
  await runNow(gpu, [
    await gatherRows(gpu, {
      table: gpuTensor(gpu, table, [n, cols]),
      indices: tensorFrom(gpu, idx, [rows]),
      out,
      rows,
      cols,
    }),
  ]);
  const expected = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) expected[r * cols + c] = table[idx[r] * cols + c];
  }
  assertClose(await readback(gpu, out), expected, 0, "gathered rows", rng.seed);
});

Deno.test("trainer: the loss falls over a few dozen steps", async () => {
  const dataset = await tinyDataset(20);
  const trainer = await newTrainer({ ...RECIPE, lr: 3e-3, epochs: 6, freezeEpoch: 6 }, dataset);
  const losses: number[] = [];
  while (!trainer.done) {
    await trainer.runEpoch({ logEvery: 5, onLog: (l) => losses.push(l.loss) });
  }
  // 6 epochs of 5 steps, one readback per epoch.
  if (trainer.state.step !== 30 || losses.length !== 6) {
    throw new Error(`ran ${trainer.state.step} steps, ${losses.length} readbacks`);
  }
  const first = (losses[0] + losses[1]) / 2;
  const last = (losses[4] + losses[5]) / 2;
  if (!(last < 0.85 * first)) {
    throw new Error(`loss did not fall: ${losses.map((l) => l.toFixed(3))}`);
  }
});

Deno.test("trainer (f16): mixed precision tracks the f32 run, and never skipped a step", async () => {
  const dataset = await tinyDataset(20);
  const recipe = { ...RECIPE, lr: 3e-3, epochs: 6, freezeEpoch: 3 };
  const curves: Record<string, number[]> = {};
  for (const precision of ["f32", "f16"] as const) {
    const trainer = await newTrainer({ ...recipe, precision }, dataset);
    const losses: number[] = curves[precision] = [];
    while (!trainer.done) {
      await trainer.runEpoch({ logEvery: 5, onLog: (l) => losses.push(l.loss) });
    }
    if (precision === "f16") {
      assert.deepEqual(trainer.state.lossScale, { scale: 65536, goodSteps: 30, skipped: 0 });
    } else assert.equal(trainer.step.scaler, undefined);
  }
  const [a, b] = [curves.f32, curves.f16];
  // Same seed, same batches and noise: only the operand rounding differs.
  const worst = Math.max(...a.map((l, i) => Math.abs(b[i] - l) / l));
  if (!(worst < 0.05) || !(b[5] < 0.85 * b[0])) {
    throw new Error(`f16 ${b.map((l) => l.toFixed(4))} vs f32 ${a.map((l) => l.toFixed(4))}`);
  }
  if (a.every((l, i) => l === b[i])) throw new Error("f16 and f32 runs are identical");
});

Deno.test("trainer (f16): a gradient overflow skips the step and halves the scale", async () => {
  const gpu = await getGpu();
  const trainer = await newTrainer({ ...RECIPE, precision: "f16" }, await tinyDataset(8));
  // dOutput = scale / (4 x 768) overflows f16 at once.
  trainer.step.scaler!.set({ scale: 2 ** 40, goodSteps: 0, skipped: 0 });
  const unet0 = await readback(gpu, trainer.model.unetParams.data);
  const emb0 = await readback(gpu, trainer.model.embeddingParams!.data);
  await trainer.runEpoch({ logEvery: 1, stepLimit: 2 });
  assert.deepEqual(trainer.state.lossScale, { scale: 2 ** 38, goodSteps: 0, skipped: 2 });
  assertEqualArrays(await readback(gpu, trainer.model.unetParams.data), unet0, "skipped UNet");
  assertEqualArrays(
    await readback(gpu, trainer.model.embeddingParams!.data),
    emb0,
    "skipped embedding",
  );
  trainer.step.scaler!.set({ scale: 256, goodSteps: 0, skipped: 2 });
  await trainer.runEpoch({ logEvery: 1, stepLimit: 3 });
  assert.deepEqual(trainer.state.lossScale, { scale: 256, goodSteps: 1, skipped: 2 });
  assertDiffers(
    await readback(gpu, trainer.model.unetParams.data),
    unet0,
    "UNet after a clean step",
  );
});

for (const precision of ["f32", "f16"] as const) {
  Deno.test(`trainer (${precision}): frozen embedding, and resume equals an uninterrupted run`, () =>
    frozenAndResumed({ ...RECIPE, precision }));
}

Deno.test("trainer (EMA, cosine with warm-up): resume equals an uninterrupted run, average included", () =>
  frozenAndResumed({ ...RECIPE, emaDecay: 0.999, lrSchedule: "cosine", warmupSteps: 2 }));

async function frozenAndResumed(recipe: TrainRecipe) {
  const gpu = await getGpu();
  // f16: a scale other than the default, so the resumed run must restore it to match.
  const startScale = (t: Trainer) => t.step.scaler?.set({ scale: 1024, goodSteps: 0, skipped: 0 });
  const dataset = await tinyDataset(12);
  const dir = await Deno.makeTempDir({ prefix: "trainer_test_" });
  try {
    // Uninterrupted: epoch 1 trains the embedding, epoch 2 has it frozen.
    const straight = await newTrainer(recipe, dataset);
    startScale(straight);
    const emb0 = await readback(gpu, straight.model.embeddingParams!.data);
    const losses: number[] = [];
    const e1 = await straight.runEpoch({ logEvery: 2, onLog: (l) => losses.push(l.loss) });
    const emb1 = await readback(gpu, straight.model.embeddingParams!.data);
    const unet1 = await readback(gpu, straight.model.unetParams.data);
    const e2 = await straight.runEpoch({ logEvery: 2, onLog: (l) => losses.push(l.loss) });
    const emb2 = await readback(gpu, straight.model.embeddingParams!.data);
    const unet2 = await readback(gpu, straight.model.unetParams.data);
    // Class vectors are masked only once the embedding is frozen (the rate: dropout_test.ts).
    const masks = (list: Dispatch[]) => list.filter((d) => d.name === "maskClassVectors").length;
    if (masks(straight.step.warmUp) !== 0 || masks(straight.step.frozen) !== 1) {
      throw new Error("masking is not wired to the frozen step only");
    }
    assertDiffers(emb0, emb1, "embedding during warm-up");
    assertEqualArrays(emb2, emb1, "embedding after the freeze epoch");
    assertDiffers(unet1, unet2, "UNet after the freeze epoch");

    // Interrupted in the middle of epoch 1 (as by Ctrl-C), checkpointed, and resumed by new objects.
    const first = await newTrainer(recipe, dataset);
    startScale(first);
    const resumedLosses: number[] = [];
    const onLog = (l: StepLog) => resumedLosses.push(l.loss);
    const r0 = await first.runEpoch({ logEvery: 2, onLog, stepLimit: 2 });
    if (r0.finished || first.state.stepInEpoch !== 2) throw new Error("did not stop at step 2");
    await saveTrainingCheckpoint(dir, first, { note: "test" });
    const saved = await readTrainingState(dir);
    if (saved.state.stepInEpoch !== 2 || saved.extra.note !== "test") {
      throw new Error(`state ${JSON.stringify(saved)}`);
    }
    const model = await loadSpriteModel(gpu, dir);
    const second = await Trainer.create(gpu, model, dataset, saved.recipe, saved.state);
    await loadOptimizerState(second, dir);
    if (recipe.precision === "f16") {
      const want = { scale: 1024, goodSteps: 2, skipped: 0 };
      assert.deepEqual(saved.state.lossScale, want, "saved loss scale");
      assert.deepEqual(await second.step.scaler!.read(), want, "restored loss scale");
    }
    const r1 = await second.runEpoch({ logEvery: 2, onLog });
    const r2 = await second.runEpoch({ logEvery: 2, onLog });

    if (losses.join() !== resumedLosses.join() || e1.meanLoss !== r1.meanLoss) {
      throw new Error(`losses differ: ${losses} vs ${resumedLosses}`);
    }
    if (e2.meanLoss !== r2.meanLoss) throw new Error(`epoch 2: ${e2.meanLoss} vs ${r2.meanLoss}`);
    assertEqualArrays(await readback(gpu, model.unetParams.data), unet2, "resumed UNet");
    assertEqualArrays(await readback(gpu, model.embeddingParams!.data), emb2, "resumed embedding");
    assertEqualArrays(
      await readback(gpu, second.step.unetMoments.v),
      await readback(gpu, straight.step.unetMoments.v),
      "resumed AdamW v",
    );
    if (recipe.emaDecay > 0) {
      for (const i of [0, 1]) {
        assertEqualArrays(
          await readback(gpu, second.ema!.shadows[i]),
          await readback(gpu, straight.ema!.shadows[i]),
          `resumed EMA of store ${i}`,
        );
      }
      assertDiffers(
        await readback(gpu, straight.ema!.shadows[0]),
        unet2,
        "the average is not the weights",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("trainer: a NaN loss stops training and the last checkpoint stays", async () => {
  const dataset = await tinyDataset(8);
  const dir = await Deno.makeTempDir({ prefix: "trainer_nan_" });
  try {
    const trainer = await newTrainer({ ...RECIPE, lr: 1e38, freezeEpoch: 0 }, dataset);
    await saveTrainingCheckpoint(dir, trainer);
    let error: unknown;
    try {
      while (!trainer.done) await trainer.runEpoch({ logEvery: 1 });
    } catch (e) {
      error = e;
    }
    if (!(error instanceof TrainingDivergedError)) throw new Error(`got ${error}`);
    if (!/loss became (NaN|-?Infinity)/.test(error.message)) throw new Error(error.message);
    const kept = await readTrainingState(dir);
    if (kept.state.step !== 0) throw new Error("the checkpoint was overwritten");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function assertInputError(argv: string[], pattern: RegExp): Promise<void> {
  try {
    await trainCommand(argv);
  } catch (e) {
    if (!(e instanceof EngineInputError)) throw new Error(`${argv.join(" ")}: threw ${e}`);
    if (!pattern.test(e.message)) {
      throw new Error(`${argv.join(" ")}: "${e.message}" lacks ${pattern}`);
    }
    return;
  }
  throw new Error(`${argv.join(" ")}: no error`);
}

Deno.test("train command: bad flags, files and folders give their errors", async () => {
  await assertInputError(["--batch", "0"], /--batch must be in/);
  await assertInputError(["--lr", "fast"], /--lr must be a number/);
  await assertInputError(["--loss", "huber"], /--loss must be "l1" or "mse"/);
  await assertInputError(
    ["--precision", "bf16"],
    /--precision must be "auto", "f32" or "f16", got "bf16"/,
  );
  await assertInputError(["--mask-prob", "1.5"], /--mask-prob must be in/);
  await assertInputError(["--freeze-epoch=-1"], /--freeze-epoch must be in/);
  await assertInputError(["--bogus"], /bogus/);
  await assertInputError(["--config", "tiny"], /config.*tiny/);
  await assertInputError(["--sprites", "/nonexistent/s.npy"], /--sprites and --labels/);
  await assertInputError(
    ["--sprites", "/nonexistent/s.npy", "--labels", "/nonexistent/l.npy"],
    /cannot read \/nonexistent\/s\.npy/,
  );
  const empty = await Deno.makeTempDir({ prefix: "trainer_empty_" });
  try {
    await assertInputError(["--resume", empty], /not a training checkpoint/);
    await assertInputError(["--resume", `${empty}/missing`], /does not exist/);
    await Deno.writeTextFile(`${empty}/training_state.json`, "{ nope");
    await assertInputError(["--resume", empty], /not valid JSON/);
    await Deno.writeTextFile(`${empty}/training_state.json`, '{"format": "other"}');
    await assertInputError(["--resume", empty], /format "other"/);
    await assertInputError(
      ["--resume", empty, "--batch", "8"],
      /--batch cannot be changed on resume/,
    );
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("train command: a tiny run writes its log and checkpoint, and resumes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "trainer_cli_" });
  try {
    const dataset = await tinyDataset(8);
    await writeNpy(`${dir}/s.npy`, dataset.images, [dataset.count, 16, 16, 3]);
    await writeNpy(`${dir}/l.npy`, Float64Array.from(dataset.labels), [dataset.count, 5]);
    await Deno.writeTextFile(`${dir}/tiny.json`, JSON.stringify(tinyConfig));
    const run = `${dir}/run`;
    const common = ["--log-every", "1"];
    await trainCommand([
      ...common,
      ...["--config", `${dir}/tiny.json`, "--sprites", `${dir}/s.npy`, "--labels", `${dir}/l.npy`],
      ...["--batch", "4", "--epochs", "1", "--freeze-epoch", "1", "--precision", "f16"],
      ...["--out", run],
    ]);
    await assertInputError(["--resume", run], /finished all 1 epochs/);
    await assertInputError(
      ["--resume", run, "--epochs", "2", "--lr", "0"],
      /--lr must be positive/,
    );
    await trainCommand([...common, "--resume", run, "--epochs", "2", "--lr", "0.0005"]);
    const log = (await Deno.readTextFile(`${run}/train_log.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    if (
      log.length !== 2 || log[1].epoch !== 2 || log[1].step !== 4 || !log[1].embedding_frozen ||
      log[0].lr !== 1e-4 || log[1].lr !== 5e-4
    ) {
      throw new Error(`log ${JSON.stringify(log)}`);
    }
    const state = await readTrainingState(`${run}/checkpoint`);
    if (
      state.state.epoch !== 2 || state.recipe.freezeEpoch !== 1 || state.recipe.lr !== 5e-4 ||
      state.recipe.precision !== "f16" || state.state.lossScale?.goodSteps !== 4
    ) {
      throw new Error(`state ${JSON.stringify(state)}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
