// Sampling latency: SpriteSampler.generate for `count` sprites x `steps` DDIM steps (eta 0, no
// guidance) on a random-init model, request to bytes on the host, median of `repeats` after a
// warm-up request (which builds and compiles the program).
import { type Gpu, type Precision, withPrecision } from "../gpu/runtime/device.ts";
import { SpriteSampler } from "../gpu/sample/sampler.ts";
import { randomSpriteModel } from "../gpu/model/sprite_model.ts";
import { unetForwardFlops } from "../gpu/model/flops.ts";
import { median, type NamedConfig } from "./training_bench.ts";

export interface SamplingResult {
  config: string;
  precision: Precision;
  count: number;
  steps: number;
  repeats: number;
  warmUpMs: number;
  medianMs: number;
  spritesPerSec: number;
  /**
   * The UNet's analytic FLOPs for the sprites asked for (count x steps forwards, doubled with
   * guidance; padding rows of the batch not counted) per wall-clock second.
   */
  gflopsPerSec: number;
}

export async function benchSampling(
  gpu: Gpu,
  { name, config }: NamedConfig,
  o: { count: number; steps: number; repeats: number; precision?: Precision; guidance?: number },
): Promise<SamplingResult> {
  const precision = o.precision ?? "f32";
  const model = randomSpriteModel(gpu, config, 0);
  const sampler = new SpriteSampler(withPrecision(gpu, precision), model);
  const classes = sampler.classes;
  const labels = new Float32Array(o.count * classes);
  for (let i = 0; i < o.count; i++) labels[i * classes + (i % classes)] = 1;
  const request = {
    labels,
    count: o.count,
    steps: o.steps,
    eta: 0,
    seed: 0,
    guidance: o.guidance ?? 1,
    scheduler: "ddim" as const,
  };
  const time = async () => {
    const start = performance.now();
    await sampler.generate(request);
    return performance.now() - start;
  };
  const warmUpMs = await time();
  const times: number[] = [];
  for (let r = 0; r < o.repeats; r++) times.push(await time());
  const medianMs = median(times);
  const forwards = o.count * o.steps * (request.guidance === 1 ? 1 : 2);
  return {
    config: name,
    precision,
    count: o.count,
    steps: o.steps,
    repeats: o.repeats,
    warmUpMs,
    medianMs,
    spritesPerSec: (1000 * o.count) / medianMs,
    gflopsPerSec: (forwards * unetForwardFlops(config).total) / (medianMs * 1e6),
  };
}
