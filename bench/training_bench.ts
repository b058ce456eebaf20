// Training throughput of a real training step: a random-init SpriteModel and synthetic sprites
// through Trainer.create (so the dispatch list is exactly the one the trainer records), on the wall
// clock after one warm-up step (which includes llvmpipe's compilation). Two figures: the trainer's
// pace (N steps as Trainer.runEpoch runs them, host writes, encode and submit back to back with one
// wait every DEFAULT_LOG_EVERY steps, where it reads the loss back), which it/s, img/s and GFLOP/s
// are computed from, and the median of N steps each run alone and waited for (it adds the encode
// and Deno's wait, ~10 ms on llvmpipe, to every step). Optionally profiles one step per kernel.
import { generateSpriteDataset } from "../data/generate.ts";
import { DEFAULT_CLASS_NAMES, type SpriteDataset } from "../data/sprites.ts";
import { adamwHyper } from "../gpu/ops/adamw.ts";
import type { Gpu, Precision } from "../gpu/runtime/device.ts";
import { trainingStepFlops } from "../gpu/model/flops.ts";
import { encode } from "../gpu/runtime/kernel.ts";
import { setSeed } from "../gpu/runtime/random.ts";
import { randomSpriteModel } from "../gpu/model/sprite_model.ts";
import { upload } from "../gpu/runtime/tensor.ts";
import { DEFAULT_LOG_EVERY, REFERENCE_RECIPE } from "../gpu/train/recipe.ts";
import { Trainer } from "../gpu/train/trainer.ts";
import type { UNetConfig } from "../gpu/model/config.ts";
import {
  type KernelRow,
  kernelTable,
  profileDispatches,
  profileDispatchesWallClock,
} from "./kernel_profile.ts";

export interface NamedConfig {
  name: string;
  config: UNetConfig;
}

export interface TrainingResult {
  config: string;
  batch: number;
  precision: Precision;
  /** Timed steps (after the warm-up). */
  steps: number;
  /** The warm-up step, compilation included. */
  warmUpMs: number;
  /** Wall time a step at the trainer's pace: the timed steps back to back, a wait per window. */
  msPerStep: number;
  /** The median of the timed steps each run alone, from host writes to the wait's end. */
  aloneMedianMs: number;
  itPerSec: number;
  imagesPerSec: number;
  /** Analytic FLOPs of the step per wall-clock second. */
  gflopsPerSec: number;
}

export interface KernelProfile {
  config: string;
  batch: number;
  /** Dispatches in one step (the trainer's warm-up list). */
  dispatches: number;
  /** Sum of the kernels' own times. */
  kernelMs: number;
  rows: KernelRow[];
}

export const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Synthetic 16x16 sprites in the five default classes (seeded, so every run trains the same). */
export function syntheticDataset(count: number): SpriteDataset {
  const g = generateSpriteDataset({ count, seed: 1 });
  return {
    images: g.images,
    labels: Float32Array.from(g.labels),
    count,
    height: 16,
    width: 16,
    classNames: [...DEFAULT_CLASS_NAMES],
  };
}

export async function benchTraining(
  gpu: Gpu,
  { name, config }: NamedConfig,
  batch: number,
  o: { steps: number; dataset: SpriteDataset; kernels?: boolean; precision?: Precision },
): Promise<{ result: TrainingResult; kernels?: KernelProfile }> {
  const model = randomSpriteModel(gpu, config, 0);
  const precision = o.precision ?? "f32";
  const recipe = { ...REFERENCE_RECIPE, batch, precision };
  const trainer = await Trainer.create(gpu, model, o.dataset, recipe);
  const step = trainer.step;
  const indices = new Uint32Array(batch);
  const adamw = { lr: recipe.lr, weightDecay: recipe.weightDecay };

  // What Trainer.runEpoch does per step, less the sampler and the loss readback.
  const submitStep = (k: number) => {
    for (let i = 0; i < batch; i++) indices[i] = (k * batch + i) % o.dataset.count;
    upload(gpu, step.indices, indices);
    setSeed(gpu, step.seed, 1, k);
    upload(gpu, step.hyper, adamwHyper(adamw, k + 1));
    const encoder = gpu.device.createCommandEncoder();
    encode(encoder, step.warmUp);
    gpu.device.queue.submit([encoder.finish()]);
  };
  const timed = async (first: number, count: number): Promise<number> => {
    const start = performance.now();
    for (let k = first; k < first + count; k++) submitStep(k);
    await gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };

  const warmUpMs = await timed(0, 1);
  let paceMs = 0;
  for (let done = 0; done < o.steps; done += DEFAULT_LOG_EVERY) {
    paceMs += await timed(1 + done, Math.min(DEFAULT_LOG_EVERY, o.steps - done));
  }
  const alone: number[] = [];
  for (let k = 1; k <= o.steps; k++) alone.push(await timed(o.steps + k, 1));
  const msPerStep = paceMs / o.steps;
  const result: TrainingResult = {
    config: name,
    batch,
    precision,
    steps: o.steps,
    warmUpMs,
    msPerStep,
    aloneMedianMs: median(alone),
    itPerSec: 1000 / msPerStep,
    imagesPerSec: (1000 * batch) / msPerStep,
    gflopsPerSec: trainingStepFlops(config, batch) / (msPerStep * 1e6),
  };
  if (!o.kernels) return { result };
  // llvmpipe's timestamps are written at launch: its profile times kernels on the wall clock.
  const ms = gpu.profile.bench.timing === "wall-clock"
    ? await profileDispatchesWallClock(gpu, step.warmUp)
    : await profileDispatches(gpu, step.warmUp);
  if (!ms) return { result };
  return {
    result,
    kernels: {
      config: name,
      batch,
      dispatches: step.warmUp.length,
      kernelMs: ms.reduce((a, b) => a + b, 0),
      rows: kernelTable(step.warmUp, ms),
    },
  };
}
