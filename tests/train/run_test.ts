// The epoch loop both front ends run: a checkpoint after every epoch and on every early stop, each
// epoch's log line written after its checkpoint, a step limit or a stop request honoured, and a
// divergence that says which checkpoint is left. The store is in memory, so the loop is seen alone.
import assert from "node:assert/strict";
import { generateSpriteDataset } from "../../data/generate.ts";
import {
  CHECKPOINT_FILES,
  type CheckpointFiles,
  decodeCheckpoint,
} from "../../gpu/formats/checkpoint.ts";
import { DEFAULT_CLASS_NAMES, randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { parseTrainingState, TRAINING_STATE_FILE } from "../../gpu/train/checkpoint.ts";
import type { SpriteDataset } from "../../gpu/train/dataset.ts";
import { REFERENCE_RECIPE, type TrainRecipe } from "../../gpu/train/recipe.ts";
import { type EpochRecord, type RunStore, runTraining } from "../../gpu/train/run.ts";
import { Trainer, TrainingDivergedError } from "../../gpu/train/trainer.ts";
import { getGpu, tinyConfig } from "../util.ts";

class MemoryStore implements RunStore {
  readonly where = "memory://run/checkpoint";
  /** Every write, in order: "checkpoint@<step>" or "log@<epoch>". */
  readonly events: string[] = [];
  checkpoints: CheckpointFiles[] = [];
  log: EpochRecord[] = [];
  saveCheckpoint(files: CheckpointFiles): Promise<void> {
    const state = parseTrainingState("state", files.get(TRAINING_STATE_FILE)!);
    this.events.push(`checkpoint@${state.state.step}`);
    this.checkpoints.push(files);
    return Promise.resolve();
  }
  appendLog(record: EpochRecord): Promise<void> {
    this.events.push(`log@${record.epoch}`);
    this.log.push(record);
    return Promise.resolve();
  }
}

function dataset(count: number): SpriteDataset {
  const g = generateSpriteDataset({ count, seed: 3 });
  return {
    images: g.images,
    labels: Float32Array.from(g.labels),
    count,
    height: 16,
    width: 16,
    classNames: [...DEFAULT_CLASS_NAMES],
  };
}

async function trainer(recipe: Partial<TrainRecipe>) {
  const gpu = await getGpu();
  const r = { ...REFERENCE_RECIPE, batch: 4, epochs: 2, lr: 1e-3, freezeEpoch: 1, ...recipe };
  return await Trainer.create(gpu, randomSpriteModel(gpu, tinyConfig, r.seed), dataset(12), r);
}

Deno.test("run: every epoch is checkpointed before its log line; the checkpoint decodes", async () => {
  const t = await trainer({});
  const store = new MemoryStore();
  const epochs: number[] = [];
  const outcome = await runTraining(t, store, {
    logEvery: 2,
    extra: { note: "kept" },
    onEpoch: (r) => epochs.push(r.epoch),
  });
  const n = t.stepsPerEpoch;
  assert.deepEqual(outcome, { status: "done", epoch: 2, step: 2 * n, stepInEpoch: 0 });
  assert.deepEqual(store.events, [`checkpoint@${n}`, "log@1", `checkpoint@${2 * n}`, "log@2"]);
  assert.deepEqual(epochs, [1, 2]);
  assert.deepEqual(store.log.map((r) => [r.step, r.lr, r.embedding_frozen]), [
    [n, 1e-3, false],
    [2 * n, 1e-3, true],
  ]);
  assert.ok(store.log.every((r) => Number.isFinite(r.mean_loss) && r.mean_loss > 0));
  const last = store.checkpoints.at(-1)!;
  const decoded = decodeCheckpoint(store.where, last);
  assert.equal(decoded.unet.size, t.model.unetParams.layout.entries.length);
  assert.ok(last.has(CHECKPOINT_FILES.embedding));
  const saved = parseTrainingState("state", last.get(TRAINING_STATE_FILE)!);
  assert.equal(saved.extra.note, "kept");
  assert.equal(saved.state.epoch, 2);
});

Deno.test("run: a stop request or a step limit mid-epoch checkpoints and logs nothing", async () => {
  const t = await trainer({ epochs: 3 });
  const store = new MemoryStore();
  let steps = 0;
  const outcome = await runTraining(t, store, {
    logEvery: 1,
    shouldStop: () => steps >= 1,
    onLog: () => steps++,
  });
  assert.deepEqual(outcome, { status: "stopped", epoch: 0, step: 1, stepInEpoch: 1 });
  assert.deepEqual(store.events, ["checkpoint@1"]);

  const limited = await trainer({ epochs: 3 });
  const store2 = new MemoryStore();
  const n = limited.stepsPerEpoch;
  const end = await runTraining(limited, store2, { logEvery: 5, stepLimit: n + 1 });
  assert.deepEqual(end, { status: "stopped", epoch: 1, step: n + 1, stepInEpoch: 1 });
  assert.deepEqual(store2.events, [`checkpoint@${n}`, "log@1", `checkpoint@${n + 1}`]);
});

Deno.test("run: a divergence names the last checkpoint it left", async () => {
  const t = await trainer({ lr: 1e38, freezeEpoch: 0, epochs: 3 });
  const store = new MemoryStore();
  await assert.rejects(
    () => runTraining(t, store, { logEvery: 1 }),
    (e: unknown) => {
      assert.ok(e instanceof TrainingDivergedError, String(e));
      // Diverged in the first epoch: nothing was saved, and nothing is said to be.
      assert.equal(e.lastSaved, undefined);
      return true;
    },
  );
  assert.deepEqual(store.events, []);
});
