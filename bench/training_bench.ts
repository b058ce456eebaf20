// Training throughput of a real training step: a random-init SpriteModel and synthetic sprites
// through Trainer.create (so the dispatch list is exactly the one the trainer records), timed on the
// wall clock per step (host writes + encode + submit + onSubmittedWorkDone), median of N after one
// warm-up step (which includes llvmpipe's compilation). Optionally profiles one step per kernel.
import { generateSpriteDataset } from "../data/generate.ts";
import { DEFAULT_CLASS_NAMES, type SpriteDataset } from "../data/sprites.ts";
import { adamwHyper } from "../gpu/ops/adamw.ts";
import type { Gpu, Precision } from "../gpu/runtime/device.ts";
import { trainingStepFlops } from "../gpu/model/flops.ts";
import { encode } from "../gpu/runtime/kernel.ts";
import { setSeed } from "../gpu/runtime/random.ts";
import { randomSpriteModel } from "../gpu/model/sprite_model.ts";
import { upload } from "../gpu/runtime/tensor.ts";
import { REFERENCE_RECIPE } from "../gpu/train/recipe.ts";
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
  medianMs: number;
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
  const runStep = async (k: number): Promise<number> => {
    const start = performance.now();
    for (let i = 0; i < batch; i++) indices[i] = (k * batch + i) % o.dataset.count;
    upload(gpu, step.indices, indices);
    setSeed(gpu, step.seed, 1, k);
    upload(gpu, step.hyper, adamwHyper(adamw, k + 1));
    const encoder = gpu.device.createCommandEncoder();
    encode(encoder, step.warmUp);
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };

  const warmUpMs = await runStep(0);
  const times: number[] = [];
  for (let k = 1; k <= o.steps; k++) times.push(await runStep(k));
  const medianMs = median(times);
  const result: TrainingResult = {
    config: name,
    batch,
    precision,
    steps: o.steps,
    warmUpMs,
    medianMs,
    itPerSec: 1000 / medianMs,
    imagesPerSec: (1000 * batch) / medianMs,
    gflopsPerSec: trainingStepFlops(config, batch) / (medianMs * 1e6),
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
