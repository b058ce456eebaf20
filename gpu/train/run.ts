// The epoch loop with its checkpoint cadence, the one both `deno task train` and the training route
// run: epochs until the recipe's last, a checkpoint after every epoch and whenever the run stops
// early, then the epoch's line for train_log.jsonl (written after its checkpoint, so a resumed run
// never logs an epoch twice). Where checkpoints and log lines go is the caller's RunStore.
import type { CheckpointFiles } from "../formats/checkpoint.ts";
import { trainingCheckpointFiles } from "./checkpoint.ts";
import { type StepLog, type Trainer, TrainingDivergedError } from "./trainer.ts";

/** One line of train_log.jsonl: an epoch that finished. */
export interface EpochRecord {
  epoch: number;
  mean_loss: number;
  seconds: number;
  it_per_s: number;
  step: number;
  lr: number;
  loss_scale?: number;
  skipped_steps?: number;
  embedding_frozen: boolean;
}

export interface RunStore {
  /** Names the checkpoint in messages (a folder, a URL). */
  readonly where: string;
  /** Replaces the run's checkpoint with these files, whole or not at all. */
  saveCheckpoint(files: CheckpointFiles): Promise<void>;
  /** Appends an epoch's record to the run's log. */
  appendLog(record: EpochRecord): Promise<void>;
}

export interface RunOptions {
  /** Read the loss back every N steps. */
  logEvery: number;
  /** Stop once this many optimizer steps are done in all. */
  stepLimit?: number;
  /** Checked after every step (a signal, a DELETE): true stops after a checkpoint. */
  shouldStop?: () => boolean;
  /** The caller's own record for training_state.json (dataset, config source). */
  extra?: Record<string, unknown>;
  /** A resumed run: the last finished epoch's record, as its checkpoint holds it. */
  lastEpoch?: EpochRecord;
  onLog?: (log: StepLog) => void;
  /** Awaited before every step (Trainer's EpochOptions.beforeStep). */
  beforeStep?: () => Promise<void>;
  /** After an epoch's checkpoint and log line are written. */
  onEpoch?: (record: EpochRecord) => void;
}

export interface RunOutcome {
  /** "done": every epoch of the recipe; "stopped": shouldStop or the step limit. */
  status: "done" | "stopped";
  epoch: number;
  step: number;
  stepInEpoch: number;
}

/**
 * Runs the trainer to the end of its recipe or until stopped. A divergence throws
 * TrainingDivergedError with `lastSaved` set to the checkpoint left in place (or undefined).
 */
export async function runTraining(
  trainer: Trainer,
  store: RunStore,
  o: RunOptions,
): Promise<RunOutcome> {
  const { state, recipe } = trainer;
  let lastSaved = state.step ? { epoch: state.epoch, step: state.step } : undefined;
  // Every checkpoint carries the record of the last finished epoch, so that a log line lost to a
  // kill between the checkpoint and its line can be written on resume (RunFolder.completeLog).
  let lastEpoch = o.lastEpoch;
  const save = async () => {
    const extra = { ...o.extra, ...(lastEpoch && { last_epoch: lastEpoch }) };
    await store.saveCheckpoint(await trainingCheckpointFiles(trainer, store.where, extra));
    lastSaved = { epoch: state.epoch, step: state.step };
  };
  const outcome = (status: RunOutcome["status"]): RunOutcome => ({
    status,
    epoch: state.epoch,
    step: state.step,
    stepInEpoch: state.stepInEpoch,
  });
  try {
    while (!trainer.done) {
      const epoch = state.epoch;
      const result = await trainer.runEpoch({
        logEvery: o.logEvery,
        stepLimit: o.stepLimit,
        shouldStop: o.shouldStop,
        onLog: o.onLog,
        beforeStep: o.beforeStep,
      });
      if (result.finished) {
        const record: EpochRecord = {
          epoch: epoch + 1,
          mean_loss: result.meanLoss,
          seconds: Number(result.seconds.toFixed(3)),
          it_per_s: Number((result.steps / result.seconds).toFixed(3)),
          step: state.step,
          lr: trainer.lastLr,
          ...(state.lossScale && {
            loss_scale: state.lossScale.scale,
            skipped_steps: state.lossScale.skipped,
          }),
          embedding_frozen: epoch >= recipe.freezeEpoch,
        };
        lastEpoch = record;
        await save();
        await store.appendLog(record);
        o.onEpoch?.(record);
      }
      const stopped = !result.finished || (o.shouldStop?.() ?? false) ||
        (o.stepLimit !== undefined && state.step >= o.stepLimit);
      if (stopped && !trainer.done) {
        if (state.stepInEpoch > 0) await save();
        return outcome("stopped");
      }
    }
    return outcome("done");
  } catch (e) {
    if (e instanceof TrainingDivergedError) e.lastSaved = lastSaved;
    throw e;
  }
}
