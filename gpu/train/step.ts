// One training step as a dispatch list, built once per (model, batch size):
//   gather images and class vectors by index -> [mask class vectors] -> class embedding ->
//   noise, timesteps, add_noise -> UNet forward -> loss -> UNet backward -> [embedding backward]
//   -> AdamW (one dispatch per parameter store).
// With precision "f16" the whole step is built with f16 GEMM/conv operands, the loss gradient is
// scaled, and an overflow check before AdamW and a scale update after it are added
// (gpu/loss_scale.ts).
// Two lists share every buffer: the warm-up step (embedding trained with dropout, no masking) and
// the frozen step (embedding fixed and in eval mode, class vectors masked).
import { ADAMW_HYPER_SIZE, adamwStep } from "../ops/adamw.ts";
import { buildClassEmbedding } from "../model/class_embedding.ts";
import { type Gpu, type Precision, withPrecision } from "../runtime/device.ts";
import { maskClassVectors } from "../ops/dropout.ts";
import { gatherBatch, uploadDataset } from "../ops/gather.ts";
import {
  createDispatch,
  type Dispatch,
  grid1d,
  type KernelSpec,
  withoutRedundantRefreshes,
} from "../runtime/kernel.ts";
import { l1Loss, mseLoss } from "../ops/loss.ts";
import { LossScaler } from "../ops/loss_scale.ts";
import { createSeed, fillNormal, randomTimesteps } from "../runtime/random.ts";
import { addNoise, DDPMScheduler } from "../sample/scheduler.ts";
import type { SpriteModel } from "../model/sprite_model.ts";
import { createTensor, type Tensor, tensorFrom } from "../runtime/tensor.ts";
import { buildUNet, type UNet } from "../model/unet.ts";
import type { ParamStore } from "../model/params.ts";

/** Random streams of the step's own draws (the dropouts use 0xffff and 0x10000 up). */
const NOISE_STREAM = 1;
const TIMESTEP_STREAM = 2;
const MASK_STREAM = 3;
export const TRAIN_TIMESTEPS = 1000;

const WG = 64;

const gatherRowsKernel: KernelSpec = {
  name: "gatherRows",
  params: { n: "u32", cols: "u32" },
  bindings: { table: "read", indices: "read array<u32>", out: "write" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let row = i / p.cols;
  out[i] = table[indices[row] * p.cols + i % p.cols];
}`,
};

/** out [rows, cols] = table[indices[r]] (table [N, cols] f32, indices u32 [rows]). */
export function gatherRows(
  gpu: Gpu,
  { table, indices, out, rows, cols }: {
    table: Tensor;
    indices: Tensor;
    out: Tensor;
    rows: number;
    cols: number;
  },
): Promise<Dispatch> {
  if (out.size !== rows * cols) throw new Error(`gatherRows: out is not [${rows}, ${cols}]`);
  if (indices.size < rows) throw new Error(`gatherRows: fewer than ${rows} indices`);
  if (table.size % cols) throw new Error(`gatherRows: table is not [N, ${cols}]`);
  return createDispatch(gpu, gatherRowsKernel, { table, indices, out }, grid1d(out.size, WG), {
    n: out.size,
    cols,
  });
}

/** AdamW's running moments of one parameter store, in the store's layout. */
export interface Moments {
  m: Tensor;
  v: Tensor;
}

function createMoments(gpu: Gpu, store: ParamStore, label: string): Moments {
  const n = store.layout.totalElements;
  return {
    m: createTensor(gpu, [n], "f32", `${label}.exp_avg`),
    v: createTensor(gpu, [n], "f32", `${label}.exp_avg_sq`),
  };
}

export interface StepSettings {
  batch: number;
  loss: "l1" | "mse";
  /** Probability that a class vector is zeroed in the frozen step. */
  maskProb: number;
  /** "f16": GEMM and convolution operands in f16, with dynamic loss scaling. Default "f32". */
  precision?: Precision;
}

/** The data the step reads: uint8 HWC sprites and their class vectors. */
export interface StepData {
  images: Uint8Array;
  /** [count, classes] f32. */
  labels: Float32Array;
  count: number;
}

export interface TrainingStep {
  unet: UNet;
  unetMoments: Moments;
  embMoments: Moments;
  /** Written by the host each step: u32 [B] batch indices, [seed, step], AdamW's hyper. */
  indices: Tensor;
  seed: Tensor;
  hyper: Tensor;
  /** f32 [1]: the per-step losses summed since the host last reset it. */
  lossSum: Tensor;
  /** Present in f16 steps: the dynamic loss scale. */
  scaler?: LossScaler;
  warmUp: Dispatch[];
  frozen: Dispatch[];
}

/** Uploads the data once and builds both step lists around the model's parameter stores. */
export async function buildTrainingStep(
  device: Gpu,
  model: SpriteModel,
  data: StepData,
  s: StepSettings,
): Promise<TrainingStep> {
  const f16 = s.precision === "f16";
  const gpu = withPrecision(device, s.precision ?? "f32");
  const scaler = f16 ? new LossScaler(gpu) : undefined;
  const embParams = model.embeddingParams;
  if (!embParams) throw new Error("training step: the model has no class-embedding net");
  const B = s.batch;
  const classes = model.embedding.inFeatures;
  const size = model.config.sample_size ?? 16;
  const images = uploadDataset(gpu, data.images, data.count, size, size, 3);
  const labels = tensorFrom(gpu, data.labels, [data.count, classes], "labels");
  const indices = createTensor(gpu, [B], "u32", "batch.indices");
  const seed = createSeed(gpu, 0);
  const hyper = createTensor(gpu, [ADAMW_HYPER_SIZE], "f32", "adamw.hyper");
  const lossSum = createTensor(gpu, [1], "f32", "loss.sum");
  const x0 = createTensor(gpu, [B, 3, size, size], "f32", "batch.x0");
  const noise = createTensor(gpu, [B, 3, size, size], "f32", "batch.noise");
  const alphasCumprod = tensorFrom(gpu, new DDPMScheduler().alphasCumprod, [TRAIN_TIMESTEPS]);

  const unet = await buildUNet(gpu, model.config, {
    batch: B,
    training: true,
    seed,
    params: model.unetParams,
  });
  const embTrain = await buildClassEmbedding(gpu, model.embedding, {
    batch: B,
    training: true,
    seed,
    params: embParams,
    output: unet.encoderHiddenStates,
    dOutput: unet.dEncoderHiddenStates,
  });
  // Eval mode once frozen, so the "no class" context it learns is the one sampling feeds it.
  const embFrozen = await buildClassEmbedding(gpu, model.embedding, {
    batch: B,
    training: false,
    params: embParams,
    output: unet.encoderHiddenStates,
  });

  const n = x0.size;
  const diffusion: Dispatch[] = [
    await fillNormal(gpu, { out: noise, seed, stream: NOISE_STREAM }),
    await randomTimesteps(gpu, {
      out: unet.timesteps,
      seed,
      stream: TIMESTEP_STREAM,
      count: TRAIN_TIMESTEPS,
    }),
    await addNoise(gpu, {
      x0,
      noise,
      timesteps: unet.timesteps,
      alphasCumprod,
      out: unet.sample,
      batch: B,
      perItem: n / B,
    }),
    ...unet.forward,
    // The loss writes dOutput, which the backward overwrites every parameter gradient from.
    ...await (s.loss === "l1" ? l1Loss : mseLoss)(gpu, {
      pred: unet.output,
      target: noise,
      dPred: unet.dOutput,
      loss: lossSum,
      n,
      accumulateLoss: true,
      lossScale: scaler?.state,
    }),
    ...unet.backward,
  ];
  const unetMoments = createMoments(gpu, model.unetParams, "unet");
  const embMoments = createMoments(gpu, embParams, "emb");
  const adamw = (store: ParamStore, mo: Moments) =>
    adamwStep(gpu, {
      param: store.data,
      grad: store.grads,
      ...mo,
      hyper,
      n: store.layout.totalElements,
      lossScale: scaler?.state,
    });
  // f16: every gradient the step applies is checked before AdamW, which skips the step on overflow.
  const check = (store: ParamStore) =>
    scaler ? [scaler.checkNonFinite(store.grads, store.layout.totalElements)] : [];
  // The UNet's check, update and the scale update appear in both lists: built once, shared.
  const unetCheck = await Promise.all(check(model.unetParams));
  const embCheck = await Promise.all(check(embParams));
  const unetUpdate = await adamw(model.unetParams, unetMoments);
  const updateScale = scaler ? [await scaler.update()] : [];
  const gather = await gatherBatch(gpu, {
    dataset: images,
    indices,
    out: x0,
    batch: B,
    height: size,
    width: size,
    channels: 3,
  });
  const classVectors = (out: Tensor) =>
    gatherRows(gpu, { table: labels, indices, out, rows: B, cols: classes });

  // A step is submitted whole, after the host's writes (indices, seed, hyperparameters).
  const warmUp = withoutRedundantRefreshes([
    gather,
    await classVectors(embTrain.input),
    ...embTrain.forward,
    ...diffusion,
    ...embTrain.backward,
    ...unetCheck,
    ...embCheck,
    ...unetUpdate,
    ...await adamw(embParams, embMoments),
    ...updateScale,
  ]).list;
  const frozen = withoutRedundantRefreshes([
    gather,
    await classVectors(embFrozen.input),
    await maskClassVectors(gpu, {
      x: embFrozen.input,
      rows: B,
      cols: classes,
      keepProbability: 1 - s.maskProb,
      seed,
      stream: MASK_STREAM,
    }),
    ...embFrozen.forward,
    ...diffusion,
    ...unetCheck,
    ...unetUpdate,
    ...updateScale,
  ]).list;
  return { unet, unetMoments, embMoments, indices, seed, hyper, lossSum, scaler, warmUp, frozen };
}
