// The UNet's encoding of real sprites, for the tutorial's sub-class idea: the mid block's output
// (the bottom of the U, [C, H/4, W/4] for three levels) of each sprite noised to one fixed timestep
// and conditioned on the all-zero "no class" vector, so the clusters come from what the sprites
// look like, not from the labels they were given. Noise is seeded per sprite index: the features
// of a sprite do not depend on the batch it ran in.
import { buildClassEmbedding } from "../model/class_embedding.ts";
import type { SpriteModel } from "../model/sprite_model.ts";
import { buildUNet } from "../model/unet.ts";
import type { Gpu } from "../runtime/device.ts";
import { runNow } from "../runtime/kernel.ts";
import { readback, upload } from "../runtime/tensor.ts";
import { DDPMScheduler } from "../sample/scheduler.ts";
import { splitmix32 } from "../train/balanced_sampler.ts";

export interface MidFeatureOptions {
  /** The timestep the sprites are noised to (0: almost clean). */
  timestep: number;
  seed: number;
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

/** x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps for sprite `index`, NCHW in [-1, 1]. */
export function noisedSprite(
  images: Uint8Array,
  index: number,
  size: number,
  alphaProd: number,
  seed: number,
  out: Float32Array,
  at = 0,
): void {
  const plane = size * size;
  const random = splitmix32((seed * 0x9e3779b1 + index * 0x85ebca6b) >>> 0);
  const a = Math.sqrt(alphaProd), s = Math.sqrt(1 - alphaProd);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      // Box-Muller from two uniforms in (0, 1].
      const u = 1 - random(), v = random();
      const eps = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      const x0 = images[(index * plane + p) * 3 + c] / 127.5 - 1;
      out[at + c * plane + p] = a * x0 + s * eps;
    }
  }
}

/** Mid-block features of `count` sprites: [count, dim] and dim. */
export async function midBlockFeatures(
  gpu: Gpu,
  model: SpriteModel,
  images: Uint8Array,
  count: number,
  o: MidFeatureOptions,
): Promise<{ features: Float32Array; dim: number; shape: number[] }> {
  if (!model.embeddingParams) throw new Error("midBlockFeatures: the model has no embedding net");
  const size = model.config.sample_size!;
  const B = o.batch ?? 64;
  const unet = await buildUNet(gpu, model.config, {
    batch: B,
    training: false,
    withBackward: false,
    params: model.unetParams,
  });
  const emb = await buildClassEmbedding(gpu, model.embedding, {
    batch: B,
    training: false,
    params: model.embeddingParams,
    output: unet.encoderHiddenStates,
  });
  const mid = unet.plan.mid.resnets[unet.plan.mid.resnets.length - 1].prefix;
  const out = unet.activations.get(mid);
  if (!out) throw new Error(`midBlockFeatures: the UNet exposes no ${mid}`);
  const dim = out.size / B;
  upload(gpu, emb.input, new Float32Array(emb.input.size)); // "no class"
  upload(gpu, unet.timesteps, new Float32Array(B).fill(o.timestep));
  const alphaProd = new DDPMScheduler().alphaProdAt(o.timestep);
  const x = new Float32Array(unet.sample.size);
  const features = new Float32Array(count * dim);
  const program = [...emb.forward, ...unet.forward];
  for (let start = 0; start < count; start += B) {
    const n = Math.min(B, count - start);
    x.fill(0);
    for (let i = 0; i < n; i++) {
      noisedSprite(images, start + i, size, alphaProd, o.seed, x, i * 3 * size * size);
    }
    upload(gpu, unet.sample, x);
    await runNow(gpu, program);
    features.set((await readback(gpu, out)).subarray(0, n * dim), start * dim);
    o.onProgress?.(start + n, count);
  }
  return { features, dim, shape: out.shape.slice(1) };
}
