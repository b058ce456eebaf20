// A training run on disk: <run>/checkpoint/ (the training checkpoint, replaced atomically) and
// <run>/train_log.jsonl (one line per finished epoch). The engine's epoch loop writes through the
// RunStore this provides; resuming reads the checkpoint's training state and optimizer back.
import type { CheckpointFiles } from "../gpu/formats/checkpoint.ts";
import { CheckpointError } from "../gpu/runtime/errors.ts";
import {
  OPTIMIZER_FILE,
  parseTrainingState,
  restoreOptimizerState,
  restoreTrainingWeights,
  type SavedTraining,
  TRAINING_STATE_FILE,
  TRAINING_WEIGHTS_FILE,
  trainingCheckpointFiles,
} from "../gpu/train/checkpoint.ts";
import type { EpochRecord, RunStore } from "../gpu/train/run.ts";
import type { Trainer } from "../gpu/train/trainer.ts";
import { InputError } from "../errors.ts";
import {
  FileReadError,
  MAX_DATA_FILE_BYTES,
  MAX_JSON_FILE_BYTES,
  readRegularFile,
} from "./files.ts";
import { joinPath, recoverCheckpointFolder, writeFolderFiles } from "./model_folder.ts";

export const TRAIN_LOG_FILE = "train_log.jsonl";

/** The run folder `runDir`: its checkpoint at `checkpointDir` (default <runDir>/checkpoint). */
export class RunFolder implements RunStore {
  readonly where: string;
  constructor(readonly runDir: string, readonly checkpointDir = joinPath(runDir, "checkpoint")) {
    this.where = checkpointDir;
  }

  get logPath(): string {
    return joinPath(this.runDir, TRAIN_LOG_FILE);
  }

  async saveCheckpoint(files: CheckpointFiles): Promise<void> {
    await Deno.mkdir(this.runDir, { recursive: true });
    await writeFolderFiles(this.checkpointDir, files);
  }

  async appendLog(record: EpochRecord): Promise<void> {
    await Deno.writeTextFile(this.logPath, JSON.stringify(record) + "\n", { append: true });
  }

  /**
   * Brings the log in line with a resumed checkpoint: a line cut short by a kill is dropped, lines
   * of epochs past the checkpoint's are dropped (they would be logged again), and the checkpoint's
   * last finished epoch is appended if a kill came between the checkpoint and its line.
   */
  async completeLog(saved: SavedTraining): Promise<{ dropped: number; appended: boolean }> {
    let text: string;
    try {
      text = new TextDecoder().decode(await readRegularFile(this.logPath, MAX_LOG_BYTES));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      text = "";
    }
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    const kept: string[] = [];
    let last = 0;
    for (const line of lines) {
      let epoch: unknown;
      try {
        epoch = JSON.parse(line).epoch;
      } catch {
        continue; // cut short by a kill mid-append
      }
      if (typeof epoch !== "number" || epoch > saved.state.epoch) continue;
      kept.push(line);
      last = Math.max(last, epoch);
    }
    const lost = saved.lastEpoch && saved.lastEpoch.epoch > last ? saved.lastEpoch : undefined;
    if (lost) kept.push(JSON.stringify(lost));
    const dropped = lines.length - (kept.length - (lost ? 1 : 0));
    if (dropped || lost) {
      await Deno.writeTextFile(this.logPath, kept.map((l) => l + "\n").join(""));
    }
    return { dropped, appended: lost !== undefined };
  }
}

const MAX_LOG_BYTES = 256 * 2 ** 20;

/** Writes model + optimizer + state atomically; refuses (keeping `dir`) if a weight is not finite. */
export async function saveTrainingCheckpoint(
  dir: string,
  trainer: Trainer,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await writeFolderFiles(dir, await trainingCheckpointFiles(trainer, dir, extra));
}

/** Reads and checks <dir>/training_state.json (no GPU needed): a folder without one is refused. */
export async function readTrainingState(dir: string): Promise<SavedTraining> {
  await recoverCheckpointFolder(dir);
  const path = joinPath(dir, TRAINING_STATE_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path, MAX_JSON_FILE_BYTES);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new InputError(
        `${dir} is not a training checkpoint (it has no ${TRAINING_STATE_FILE}); ` +
          "--resume takes a folder written by `deno task train`",
      );
    }
    throw new CheckpointError((e as Error).message);
  }
  return parseTrainingState(path, bytes);
}

/**
 * Loads <dir>/optimizer.safetensors into the trainer's moments and, for an EMA run (whose model
 * files hold the average), <dir>/training_weights.safetensors into its weights.
 */
export async function loadOptimizerState(trainer: Trainer, dir: string): Promise<void> {
  const read = async (name: string) => {
    const path = joinPath(dir, name);
    try {
      return { path, bytes: await readRegularFile(path, MAX_DATA_FILE_BYTES) };
    } catch (e) {
      throw new CheckpointError(
        e instanceof FileReadError ? e.message : `cannot read ${path}: ${(e as Error).message}`,
      );
    }
  };
  const optimizer = await read(OPTIMIZER_FILE);
  restoreOptimizerState(trainer, optimizer.path, optimizer.bytes);
  if (trainer.ema) {
    const weights = await read(TRAINING_WEIGHTS_FILE);
    restoreTrainingWeights(trainer, weights.path, weights.bytes);
  }
}
