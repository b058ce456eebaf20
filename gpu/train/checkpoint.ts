// A training checkpoint: the model's diffusers-format folder (gpu/checkpoint.ts) plus
//   optimizer.safetensors   AdamW's exp_avg / exp_avg_sq per parameter ("unet.exp_avg.<name>", ...)
//   training_state.json     epoch, step, seeds, whether the embedding is frozen, and the recipe
// written in the same atomic folder swap, so a checkpoint is always whole.
import { InputError } from "../../errors.ts";
import { CheckpointError, checkTensors } from "../formats/checkpoint.ts";
import type { Gpu, Precision } from "../runtime/device.ts";
import { type NamedTensor, readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import { saveSpriteModel } from "../model/sprite_model.ts";
import { readback, upload } from "../runtime/tensor.ts";
import {
  gpuSeedOf,
  type Trainer,
  TrainingDivergedError,
  type TrainingState,
  type TrainRecipe,
} from "./trainer.ts";
import type { Moments } from "./step.ts";
import { packParams, type ParamStore } from "../model/params.ts";

export const OPTIMIZER_FILE = "optimizer.safetensors";
export const TRAINING_STATE_FILE = "training_state.json";
const STATE_FORMAT = "sprite-diffusion-training-state/1";

const join = (dir: string, name: string) => `${dir.replace(/\/+$/, "")}/${name}`;

/** What training_state.json holds, beyond the model. */
export interface SavedTraining {
  recipe: TrainRecipe;
  state: TrainingState;
  /** The caller's own record (dataset paths, config name, ...), kept as it is. */
  extra: Record<string, unknown>;
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

async function assertFinite(gpu: Gpu, store: ParamStore, trainer: Trainer): Promise<void> {
  const values = await readback(gpu, store.data);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new TrainingDivergedError(trainer.state.step, trainer.state.epoch, values[i]);
    }
  }
}

/** Writes model + optimizer + state atomically; refuses (keeping `dir`) if a weight is not finite. */
export async function saveTrainingCheckpoint(
  gpu: Gpu,
  dir: string,
  trainer: Trainer,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const { model, recipe, state } = trainer;
  for (const [, store] of storesOf(trainer)) await assertFinite(gpu, store, trainer);
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
  await saveSpriteModel(gpu, dir, model, info, {
    [OPTIMIZER_FILE]: writeSafetensors(moments, { format: "pt" }),
    [TRAINING_STATE_FILE]: new TextEncoder().encode(JSON.stringify(stateJson, null, 2) + "\n"),
  });
}

function field(o: Record<string, unknown>, key: string, what: string, ok: (v: unknown) => boolean) {
  const v = o[key];
  if (!ok(v)) {
    throw new InputError(`${what}: "${key}" is missing or invalid (${JSON.stringify(v)})`);
  }
  return v;
}

const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const positive = (v: unknown) => typeof v === "number" && v > 0 && Number.isFinite(v);
const probability = (v: unknown) => typeof v === "number" && v >= 0 && v < 1;

/** Reads and checks training_state.json (no GPU needed): a folder without one is refused. */
export async function readTrainingState(dir: string): Promise<SavedTraining> {
  const path = join(dir, TRAINING_STATE_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new InputError(
        `${dir} is not a training checkpoint (it has no ${TRAINING_STATE_FILE}); ` +
          "--resume takes a folder written by `deno task train`",
      );
    }
    throw new InputError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError(`${path} does not hold a JSON object`);
  }
  const o = json as Record<string, unknown>;
  if (o.format !== STATE_FORMAT) {
    throw new InputError(`${path}: format ${JSON.stringify(o.format)}, expected ${STATE_FORMAT}`);
  }
  const r = field(o, "recipe", path, (v) => typeof v === "object" && v !== null) as Record<
    string,
    unknown
  >;
  const what = `${path} recipe`;
  const recipe: TrainRecipe = {
    batch: field(r, "batch", what, (v) => count(v) && (v as number) > 0) as number,
    epochs: field(r, "epochs", what, count) as number,
    lr: field(r, "lr", what, positive) as number,
    weightDecay: field(r, "weightDecay", what, (v) => typeof v === "number" && v >= 0) as number,
    loss: field(r, "loss", what, (v) => v === "l1" || v === "mse") as "l1" | "mse",
    dropout: field(r, "dropout", what, probability) as number,
    embDropout: field(r, "embDropout", what, probability) as number,
    freezeEpoch: field(r, "freezeEpoch", what, count) as number,
    maskProb: field(r, "maskProb", what, (v) => probability(v) || v === 1) as number,
    seed: field(r, "seed", what, (v) => count(v) && (v as number) < 2 ** 32) as number,
    // Checkpoints from before mixed precision existed are f32 runs.
    precision: field(
      { precision: "f32", ...r },
      "precision",
      what,
      (v) => v === "f32" || v === "f16",
    ) as Precision,
  };
  const state: TrainingState = {
    epoch: field(o, "epoch", path, count) as number,
    stepInEpoch: field(o, "step_in_epoch", path, count) as number,
    step: field(o, "step", path, count) as number,
    epochLossSum: field(o, "epoch_loss_sum", path, (v) => Number.isFinite(v)) as number,
  };
  if (o.loss_scale !== undefined) {
    const ls = field(o, "loss_scale", path, (v) => typeof v === "object" && v !== null) as Record<
      string,
      unknown
    >;
    const where = `${path} loss_scale`;
    state.lossScale = {
      scale: field(ls, "scale", where, positive) as number,
      goodSteps: field(ls, "good_steps", where, count) as number,
      skipped: field(ls, "skipped", where, count) as number,
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
  ]);
  const extra = Object.fromEntries(Object.entries(o).filter(([k]) => !known.has(k)));
  return { recipe, state, extra };
}

/** Loads optimizer.safetensors into the trainer's moments; names the file in every error. */
export async function loadOptimizerState(trainer: Trainer, dir: string): Promise<void> {
  const path = join(dir, OPTIMIZER_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let tensors;
  try {
    tensors = readSafetensors(bytes);
    checkTensors(optimizerSpecs(trainer), tensors, path);
  } catch (e) {
    if (e instanceof CheckpointError) throw new InputError(e.message);
    throw new InputError(`${path}: ${(e as Error).message}`);
  }
  for (const [prefix, store, mo] of storesOf(trainer)) {
    for (const kind of MOMENTS) {
      const named = new Map(
        store.layout.entries.map((e) => [e.name, tensors.get(`${prefix}${kind}.${e.name}`)!]),
      );
      upload(trainer.gpu, kind === "exp_avg" ? mo.m : mo.v, packParams(store.layout, named));
    }
  }
}
