// Shared test helpers: seeded random inputs, NaN poisoning, float64 references, finite differences,
// and one comparison rule (error relative to the reference's magnitude).
import { getGpu, type Gpu } from "../gpu/runtime/device.ts";
import { createTensor, fill, readback, type Tensor, tensorFrom } from "../gpu/runtime/tensor.ts";
import { parseUNetConfig } from "../gpu/model/config.ts";

export { getGpu };
export type { Gpu, Tensor };

/** mulberry32: small, seedable; each test draws a fresh seed and prints it on failure. */
export function makeRng(seed = (Math.random() * 2 ** 32) >>> 0) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  return { seed, next, normal };
}
export type Rng = ReturnType<typeof makeRng>;

/** Normal(0, scale) values, exactly representable in float32 so CPU and GPU see the same input. */
export function randn(rng: Rng, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(rng.normal() * scale);
  return out;
}

export function uniform(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * rng.next());
  return out;
}

/** Uploads float64 host values as an f32 tensor. */
export function gpuTensor(gpu: Gpu, data: ArrayLike<number>, shape: number[], label = ""): Tensor {
  return tensorFrom(gpu, Float32Array.from(data), shape, label);
}

/** An output tensor filled with NaN, so any element the kernel fails to write fails the test. */
export function poisoned(gpu: Gpu, shape: number[], label = "out"): Tensor {
  const t = createTensor(gpu, shape, "f32", label);
  fill(gpu, t, NaN);
  return t;
}

export function read(gpu: Gpu, t: Tensor): Promise<Float32Array> {
  return readback(gpu, t);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** max |actual - expected| / max |expected|; NaN anywhere gives Infinity. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!Number.isFinite(d)) return Infinity;
    worst = Math.max(worst, d);
  }
  const scale = maxAbs(expected);
  return scale === 0 ? worst : worst / scale;
}

/** Fails loudly with the name, the seed, the error and the worst element. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
  seed?: number,
): void {
  const err = relativeError(actual, expected);
  if (err <= tol) return;
  let worstAt = 0;
  let worst = -1;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) {
      worst = Number.isNaN(d) ? Infinity : d;
      worstAt = i;
    }
  }
  throw new Error(
    `${what}: relative error ${err.toExponential(3)} > ${tol} (seed ${seed ?? "n/a"}; ` +
      `lengths ${actual.length}/${expected.length}; worst at [${worstAt}]: ` +
      `got ${actual[worstAt]}, want ${expected[worstAt]})`,
  );
}

/**
 * Central finite differences of a float64 scalar function at `count` random coordinates.
 * Tests use it to prove the float64 analytic gradient that the GPU is then compared with.
 */
export function finiteDifference(
  f: (x: Float64Array) => number,
  x: Float64Array,
  rng: Rng,
  count = 6,
  eps = 1e-5,
): { index: number; numeric: number }[] {
  const out = [];
  for (let k = 0; k < count; k++) {
    const index = Math.floor(rng.next() * x.length);
    const saved = x[index];
    x[index] = saved + eps;
    const up = f(x);
    x[index] = saved - eps;
    const down = f(x);
    x[index] = saved;
    out.push({ index, numeric: (up - down) / (2 * eps) });
  }
  return out;
}

/** Checks an analytic float64 gradient against finite differences of the float64 forward. */
export function assertGradientMatchesFD(
  f: (x: Float64Array) => number,
  x: Float64Array,
  analytic: ArrayLike<number>,
  rng: Rng,
  what: string,
  tol = 1e-5,
): void {
  const scale = Math.max(maxAbs(analytic), 1e-12);
  for (const { index, numeric } of finiteDifference(f, x, rng)) {
    const err = Math.abs(numeric - analytic[index]) / scale;
    if (!(err <= tol)) {
      throw new Error(
        `${what}: finite difference ${numeric} vs analytic ${analytic[index]} at [${index}] ` +
          `(relative ${err.toExponential(3)}, seed ${rng.seed})`,
      );
    }
  }
}

/** sum(y * r): the scalar objective whose gradient dy = r drives every backward test. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * A two-level UNet with cross-attention at the lower level (so the class embedding matters) at a
 * size that trains and samples in milliseconds on llvmpipe: for route, trainer and bench tests.
 */
export const tinyConfig = parseUNetConfig({
  sample_size: 16,
  in_channels: 3,
  out_channels: 3,
  layers_per_block: 1,
  block_out_channels: [8, 16],
  down_block_types: ["DownBlock2D", "CrossAttnDownBlock2D"],
  up_block_types: ["CrossAttnUpBlock2D", "UpBlock2D"],
  norm_num_groups: 4,
  cross_attention_dim: 16,
  attention_head_dim: 2,
  encoder_hid_dim: 8,
});
