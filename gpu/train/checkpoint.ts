// A training checkpoint: the model's diffusers-format folder (gpu/formats/checkpoint.ts) plus
//   optimizer.safetensors   AdamW's exp_avg / exp_avg_sq per parameter ("unet.exp_avg.<name>", ...)
//   training_state.json     epoch, step, seeds, whether the embedding is frozen, and the recipe
//   training_weights.safetensors   EMA runs only: the weights being trained ("unet.<name>", ...),
//                           since the model files then hold their average (the model to use)
// written in the same atomic folder swap, so a checkpoint is always whole. Bytes in and out only;
// data/run_folder.ts reads and writes them on disk.
import {
  type CheckpointFiles,
  checkTensors,
  encodeCheckpoint,
  parseJsonObject,
} from "../formats/checkpoint.ts";
import { type NamedTensor, readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import type { ParamStore } from "../model/params.ts";
import { packParams } from "../model/params.ts";
import { namedTensors, spriteModelCheckpoint } from "../model/sprite_model.ts";
import { CheckpointError, EngineInputError } from "../runtime/errors.ts";
import { numberField } from "../runtime/fields.ts";
import { readback, upload } from "../runtime/tensor.ts";
import { parseSavedRecipe, type TrainRecipe } from "./recipe.ts";
import type { Moments } from "./step.ts";
import { gpuSeedOf, type Trainer, TrainingDivergedError, type TrainingState } from "./trainer.ts";

export const OPTIMIZER_FILE = "optimizer.safetensors";
export const TRAINING_WEIGHTS_FILE = "training_weights.safetensors";
export const TRAINING_STATE_FILE = "training_state.json";
const STATE_FORMAT = "sprite-diffusion-training-state/1";

/** What training_state.json holds, beyond the model. */
export interface SavedTraining {
  recipe: TrainRecipe;
  state: TrainingState;
  /** The caller's own record (dataset paths, config name, ...), kept as it is. */
  extra: Record<string, unknown>;
  /** The last finished epoch's log record (train_log.jsonl's line), when the run wrote one. */
  lastEpoch?: { epoch: number } & Record<string, unknown>;
}

function storesOf(trainer: Trainer): [string, ParamStore, Moments][] {
  return [
    ["unet.", trainer.model.unetParams, trainer.step.unetMoments],
    ["emb.", trainer.model.embeddingParams!, trainer.step.embMoments],
  ];
}

const MOMENTS = ["exp_avg", "exp_avg_sq"] as const;

/** The tensors optimizer.safetensors must hold for this trainer's model. */
export function optimizerSpecs(trainer: Trainer): { name: string; shape: number[] }[] {
  return storesOf(trainer).flatMap(([prefix, store]) =>
    MOMENTS.flatMap((kind) =>
      store.layout.entries.map((e) => ({ name: `${prefix}${kind}.${e.name}`, shape: e.shape }))
    )
  );
}

async function assertFinite(trainer: Trainer, store: Pick<ParamStore, "data">): Promise<void> {
  const values = await readback(trainer.gpu, store.data);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new TrainingDivergedError(trainer.state.step, trainer.state.epoch, values[i]);
    }
  }
}

/**
 * The files of a checkpoint of the trainer (model + optimizer + state) for folder `where`; throws
 * TrainingDivergedError, writing nothing, if a weight is not finite.
 */
export async function trainingCheckpointFiles(
  trainer: Trainer,
  where: string,
  extra: Record<string, unknown> = {},
): Promise<CheckpointFiles> {
  const { gpu, model, recipe, state } = trainer;
  for (const [, store] of storesOf(trainer)) await assertFinite(trainer, store);
  for (const view of trainer.ema?.views ?? []) await assertFinite(trainer, view);
  const moments: NamedTensor[] = [];
  for (const [prefix, store, mo] of storesOf(trainer)) {
    for (const kind of MOMENTS) {
      const all = await readback(gpu, kind === "exp_avg" ? mo.m : mo.v);
      for (const e of store.layout.entries) {
        moments.push([
          `${prefix}${kind}.${e.name}`,
          e.shape,
          all.slice(e.offset, e.offset + e.size),
        ]);
      }
    }
  }
  const stateJson = {
    format: STATE_FORMAT,
    epoch: state.epoch,
    step_in_epoch: state.stepInEpoch,
    step: state.step,
    epoch_loss_sum: state.epochLossSum,
    ...(state.lossScale && {
      loss_scale: {
        scale: state.lossScale.scale,
        good_steps: state.lossScale.goodSteps,
        skipped: state.lossScale.skipped,
      },
    }),
    embedding_frozen: trainer.embeddingFrozen,
    seeds: { init: recipe.seed, sampler: recipe.seed, gpu: gpuSeedOf(recipe.seed) },
    recipe,
    ...extra,
  };
  const info = { ...model.info, recipe, epoch: state.epoch, step: state.step };
  const files: Record<string, Uint8Array> = {
    [OPTIMIZER_FILE]: writeSafetensors(moments, { format: "pt" }),
    [TRAINING_STATE_FILE]: new TextEncoder().encode(JSON.stringify(stateJson, null, 2) + "\n"),
  };
  let saved = model;
  if (trainer.ema) {
    // The model files hold the average; the weights being trained go beside them for a resume.
    const [unetView, embView] = trainer.ema.views;
    saved = { ...model, unetParams: unetView, embeddingParams: embView };
    const weights: NamedTensor[] = [];
    for (const [prefix, store] of storesOf(trainer)) {
      for (const [name, shape, data] of await namedTensors(gpu, store)) {
        weights.push([`${prefix}${name}`, shape, data]);
      }
    }
    files[TRAINING_WEIGHTS_FILE] = writeSafetensors(weights, { format: "pt" });
  }
  const contents = await spriteModelCheckpoint(gpu, saved, info, files);
  return encodeCheckpoint(where, contents);
}

/** A whole count: 0, 1, 2, ... */
function count(o: Record<string, unknown>, key: string, where: string): number {
  if (o[key] === undefined) throw new CheckpointError(`${where}: "${key}" is missing`);
  return numberField(o[key], `${where}: "${key}"`, 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
}

/** Parses and checks training_state.json (`path` names it in errors). */
export function parseTrainingState(path: string, bytes: Uint8Array): SavedTraining {
  const o = parseJsonObject(path, bytes);
  if (o.format !== STATE_FORMAT) {
    throw new CheckpointError(
      `${path}: format ${JSON.stringify(o.format)}, expected ${STATE_FORMAT}`,
    );
  }
  try {
    const r = o.recipe;
    if (typeof r !== "object" || r === null || Array.isArray(r)) {
      throw new CheckpointError(`${path}: "recipe" is missing or invalid (${JSON.stringify(r)})`);
    }
    const recipe = parseSavedRecipe(r as Record<string, unknown>, `${path} recipe`);
    const sum = o.epoch_loss_sum;
    if (typeof sum !== "number" || !Number.isFinite(sum)) {
      throw new CheckpointError(`${path}: "epoch_loss_sum" is missing or invalid (${sum})`);
    }
    const state: TrainingState = {
      epoch: count(o, "epoch", path),
      stepInEpoch: count(o, "step_in_epoch", path),
      step: count(o, "step", path),
      epochLossSum: sum,
    };
    if (o.loss_scale !== undefined) {
      const ls = (o.loss_scale ?? {}) as Record<string, unknown>;
      const where = `${path} loss_scale`;
      if (ls.scale === undefined) throw new CheckpointError(`${where}: "scale" is missing`);
      const scale = numberField(ls.scale, `${where}: "scale"`, 0, { min: 0, max: 3.4e38 });
      if (!(scale > 0)) throw new CheckpointError(`${where}: "scale" must be positive`);
      state.lossScale = {
        scale,
        goodSteps: count(ls, "good_steps", where),
        skipped: count(ls, "skipped", where),
      };
    }
    const known = new Set([
      "format",
      "recipe",
      "epoch",
      "step_in_epoch",
      "step",
      "epoch_loss_sum",
      "loss_scale",
      "embedding_frozen",
      "seeds",
      "last_epoch",
    ]);
    const extra = Object.fromEntries(Object.entries(o).filter(([k]) => !known.has(k)));
    let lastEpoch: SavedTraining["lastEpoch"];
    if (o.last_epoch !== undefined) {
      const l = o.last_epoch as Record<string, unknown>;
      if (typeof l !== "object" || l === null || Array.isArray(l)) {
        throw new CheckpointError(`${path}: "last_epoch" must be an object`);
      }
      const epoch = count(l, "epoch", `${path} last_epoch`);
      if (epoch > state.epoch || epoch < 1) {
        throw new CheckpointError(
          `${path}: "last_epoch" is epoch ${epoch}, but the state has finished ${state.epoch}`,
        );
      }
      lastEpoch = { ...l, epoch };
    }
    return { recipe, state, extra, lastEpoch };
  } catch (e) {
    // Field errors arrive as RequestErrors; in a file they describe a bad checkpoint.
    if (e instanceof EngineInputError && !(e instanceof CheckpointError)) {
      throw new CheckpointError(e.message);
    }
    throw e;
  }
}

/** Loads optimizer.safetensors' bytes into the trainer's moments; `path` names it in errors. */
export function restoreOptimizerState(trainer: Trainer, path: string, bytes: Uint8Array): void {
  let tensors;
  try {
    tensors = readSafetensors(bytes);
  } catch (e) {
    throw new CheckpointError(`${path}: ${(e as Error).message}`);
  }
  checkTensors(optimizerSpecs(trainer), tensors, path);
  for (const [prefix, store, mo] of storesOf(trainer)) {
    for (const kind of MOMENTS) {
      const named = new Map(
        store.layout.entries.map((e) => [e.name, tensors.get(`${prefix}${kind}.${e.name}`)!]),
      );
      upload(trainer.gpu, kind === "exp_avg" ? mo.m : mo.v, packParams(store.layout, named));
    }
  }
}

/**
 * Loads training_weights.safetensors' bytes (an EMA run's weights being trained) into the trainer's
 * parameter stores; the average stays as the model files gave it.
 */
export function restoreTrainingWeights(trainer: Trainer, path: string, bytes: Uint8Array): void {
  let tensors;
  try {
    tensors = readSafetensors(bytes);
  } catch (e) {
    throw new CheckpointError(`${path}: ${(e as Error).message}`);
  }
  const specs = storesOf(trainer).flatMap(([prefix, store]) =>
    store.layout.entries.map((e) => ({ name: `${prefix}${e.name}`, shape: e.shape }))
  );
  checkTensors(specs, tensors, path);
  for (const [prefix, store] of storesOf(trainer)) {
    const named = new Map(
      store.layout.entries.map((e) => [e.name, tensors.get(`${prefix}${e.name}`)!]),
    );
    upload(trainer.gpu, store.data, packParams(store.layout, named));
  }
}
