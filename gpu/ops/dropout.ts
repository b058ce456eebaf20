// Dropout and class-vector masking. Masks are regenerated from (seed, step, stream, index) by the
// counter-based RNG, so forward and backward agree without a mask buffer.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { RANDOM_WGSL } from "../runtime/random.ts";
import type { Tensor } from "../runtime/tensor.ts";

const WG = 64;

// Element i is kept when its uniform u_i >= p, so P(keep) = 1 - p (to 2^-24). Each invocation
// covers one Philox block of 4 elements.
function dropoutKernel(accumulate: boolean): KernelSpec {
  return {
    name: "dropout",
    params: { n: "u32", stream: "u32", p: "f32", scale: "f32" },
    bindings: { seed: "read array<u32>", x: "read", y: "write" },
    consts: { WG, ACCUMULATE: accumulate },
    code: RANDOM_WGSL + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let block = flat_id(gid, nwg, WG);
  let first = block * 4u;
  if (first >= p.n) { return; }
  let u = rand_uniform4(seed[0], seed[1], p.stream, block);
  for (var j = 0u; j < 4u; j++) {
    let i = first + j;
    if (i < p.n) {
      // select, not multiply by 0: a dropped inf or NaN must not leak through.
      let g = select(0.0, x[i] * p.scale, u[j] >= p.p);
      if (ACCUMULATE) { y[i] = y[i] + g; } else { y[i] = g; }
    }
  }
}`,
  };
}

/**
 * The kept elements' factor for drop probability p, checked to lie in [0, 1]: torch's CPU dropout,
 * mask.div_(1 - p), i.e. 1.0f / float(1 - p); p = 1 drops everything. Every kernel that applies a
 * dropout mask (here, gpu/ops/group_norm_into_conv.ts) scales by it.
 */
export function dropoutScale(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p = ${p} is outside [0, 1]`);
  return p < 1 ? Math.fround(1 / Math.fround(1 - p)) : 0;
}

/**
 * WGSL: v with the dropout mask of Philox block `block` (elements 4 * block .. 4 * block + 3 of
 * the tensor the mask covers) applied, as the dropout kernel applies it. Needs RANDOM_WGSL, the
 * params p, scale and stream, and `dropoutSeed` (the seed binding's two words, read once: each
 * storage read is a per-lane loop on llvmpipe).
 */
export const dropoutMaskWgsl = (v: string, block: string) =>
  `select(vec4f(0.0), ${v} * p.scale, ` +
  `rand_uniform4(dropoutSeed.x, dropoutSeed.y, p.stream, ${block}) >= vec4f(p.p))`;

export interface DropoutOptions {
  /** Drop probability in [0, 1]. */
  p: number;
  /** u32 [2] = [seed, step]. */
  seed: Tensor;
  /** One stream per dropout site, the same for its forward and backward. */
  stream: number;
}

function dropout(
  gpu: Gpu,
  x: Tensor,
  y: Tensor,
  { p, seed, stream }: DropoutOptions,
  accumulate: boolean,
): Promise<Dispatch> {
  if (x.size !== y.size) throw new Error(`dropout: ${x.size} inputs for ${y.size} outputs`);
  const scale = dropoutScale(p);
  return createDispatch(
    gpu,
    dropoutKernel(accumulate),
    { seed, x, y },
    grid1d(Math.ceil(x.size / 4), WG),
    {
      n: x.size,
      stream,
      p,
      scale,
    },
  );
}

/** y = x * mask / (1 - p), mask_i ~ Bernoulli(1 - p); p = 0 copies x exactly. */
export function dropoutForward(
  gpu: Gpu,
  args: DropoutOptions & { x: Tensor; y: Tensor },
): Promise<Dispatch> {
  return dropout(gpu, args.x, args.y, args, false);
}

/** dx (=|+=) dy * mask / (1 - p), with the forward's mask (same seed, step and stream). */
export function dropoutBackward(
  gpu: Gpu,
  args: DropoutOptions & { dy: Tensor; dx: Tensor; accumulate?: boolean },
): Promise<Dispatch> {
  return dropout(gpu, args.dy, args.dx, args, args.accumulate ?? false);
}

const maskRowsKernel: KernelSpec = {
  name: "maskClassVectors",
  params: { n: "u32", cols: "u32", stream: "u32", keep: "f32" },
  bindings: { seed: "read array<u32>", x: "write" },
  consts: { WG },
  code: RANDOM_WGSL + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let row = i / p.cols;
  if (rand_uniform(seed[0], seed[1], p.stream, row) >= p.keep) { x[i] = 0.0; }
}`,
};

/**
 * In place: zeroes each row of x [rows, cols] with probability 1 - keepProbability, no rescaling
 * (classifier-free guidance training drops the class context). Running it again with the same
 * seed and stream on the gradient of x zeroes the same rows, which is its backward.
 */
export function maskClassVectors(
  gpu: Gpu,
  { x, rows, cols, keepProbability, seed, stream }: {
    x: Tensor;
    rows: number;
    cols: number;
    keepProbability: number;
    seed: Tensor;
    stream: number;
  },
): Promise<Dispatch> {
  if (!(keepProbability >= 0 && keepProbability <= 1)) {
    throw new Error(`maskClassVectors: keepProbability ${keepProbability} is outside [0, 1]`);
  }
  if (rows * cols !== x.size) throw new Error(`maskClassVectors: x is not [${rows}, ${cols}]`);
  return createDispatch(gpu, maskRowsKernel, { seed, x }, grid1d(x.size, WG), {
    n: x.size,
    cols,
    stream,
    keep: keepProbability,
  });
}
