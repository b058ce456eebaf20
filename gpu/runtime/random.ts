// Counter-based random numbers (Philox4x32-10): every value is a pure function of
// (seed, step, stream, counter), so kernels need no RNG state, dropout needs no mask buffer, and one
// recorded command sequence draws new numbers each step once the host rewrites `seed` = [seed, step].
//
// Layout: Philox block `counter >> 2` (key = (seed, stream), counter words = (block, step, 0, 0))
// gives four 32-bit words; element `counter` takes word `counter & 3`. Fill kernels produce a whole
// block per invocation; a scalar `rand_*` call for element e returns the same number.
import type { Gpu } from "./device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "./kernel.ts";
import { type Tensor, tensorFrom, upload } from "./tensor.ts";

/**
 * WGSL to paste into a kernel's code (no bindings of its own). Provides
 *   philox4x32(block, step, seed, stream) -> vec4u
 *   rand_u32(seed, step, stream, counter) -> u32
 *   rand_uniform(seed, step, stream, counter) -> f32 in [0, 1), multiples of 2^-24
 *   rand_normal(seed, step, stream, counter) -> f32, standard normal (Box-Muller)
 *   rand_uniform4 / rand_normal4(seed, step, stream, block) -> vec4f: elements 4*block .. 4*block+3
 *   rand_words_to_uniform4 / rand_words_to_normal4(philox words) -> vec4f
 *   mul_hi_u32(a, b) -> u32: high word of the 64-bit product (unbiased integer ranges)
 */
export const RANDOM_WGSL = /* wgsl */ `
fn mul_hi_u32(a: u32, b: u32) -> u32 {
  // WGSL has no 64-bit integers: assemble the high word from 16-bit halves.
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let lh = a0 * b1;
  let hl = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return a1 * b1 + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox4x32(block: u32, step: u32, seed: u32, stream: u32) -> vec4u {
  var c = vec4u(block, step, 0u, 0u);
  var k = vec2u(seed, stream);
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mul_hi_u32(0xD2511F53u, c.x);
    let lo0 = 0xD2511F53u * c.x;
    let hi1 = mul_hi_u32(0xCD9E8D57u, c.z);
    let lo1 = 0xCD9E8D57u * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

fn rand_u32(seed: u32, step: u32, stream: u32, counter: u32) -> u32 {
  return philox4x32(counter >> 2u, step, seed, stream)[counter & 3u];
}

fn rand_word_to_uniform(w: u32) -> f32 {
  return f32(w >> 8u) * 5.9604644775390625e-8;
}

fn rand_uniform(seed: u32, step: u32, stream: u32, counter: u32) -> f32 {
  return rand_word_to_uniform(rand_u32(seed, step, stream, counter));
}

fn rand_words_to_uniform4(w: vec4u) -> vec4f {
  return vec4f(w >> vec4u(8u)) * 5.9604644775390625e-8;
}

fn rand_words_to_normal4(w: vec4u) -> vec4f {
  // (w >> 8) + 1 makes the radius uniform in (0, 1], so log never sees 0.
  let u = (vec2f(vec2u(w.x, w.z) >> vec2u(8u)) + 1.0) * 5.9604644775390625e-8;
  let r = sqrt(-2.0 * log(u));
  // An angle in [-pi, pi), where WGSL's sin and cos are specified to be accurate.
  let theta = 6.283185307179586 * (vec2f(vec2u(w.y, w.w) >> vec2u(8u)) * 5.9604644775390625e-8 - 0.5);
  return vec4f(r.x * cos(theta.x), r.x * sin(theta.x), r.y * cos(theta.y), r.y * sin(theta.y));
}

fn rand_uniform4(seed: u32, step: u32, stream: u32, block: u32) -> vec4f {
  return rand_words_to_uniform4(philox4x32(block, step, seed, stream));
}

fn rand_normal4(seed: u32, step: u32, stream: u32, block: u32) -> vec4f {
  return rand_words_to_normal4(philox4x32(block, step, seed, stream));
}

fn rand_normal(seed: u32, step: u32, stream: u32, counter: u32) -> f32 {
  return rand_normal4(seed, step, stream, counter >> 2u)[counter & 3u];
}
`;

const WG = 64;

type Distribution = "uniform" | "normal" | "timestep";

function fillKernel(distribution: Distribution): KernelSpec {
  const value = {
    uniform: "rand_words_to_uniform4(w)",
    normal: "rand_words_to_normal4(w)",
    // mul_hi maps a word to [0, count) with bias below 2^-32, unlike floor(uniform * count).
    timestep: "vec4f(vec4u(mul_hi_u32(w.x, p.count), mul_hi_u32(w.y, p.count), " +
      "mul_hi_u32(w.z, p.count), mul_hi_u32(w.w, p.count)))",
  }[distribution];
  return {
    name: `fill_${distribution}`,
    params: { n: "u32", stream: "u32", count: "u32" },
    bindings: { seed: "read array<u32>", out: "write" },
    consts: { WG },
    code: RANDOM_WGSL + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let block = flat_id(gid, nwg, WG);
  let first = block * 4u;
  if (first >= p.n) { return; }
  let w = philox4x32(block, seed[1], seed[0], p.stream);
  let v = ${value};
  for (var j = 0u; j < 4u; j++) {
    if (first + j < p.n) { out[first + j] = v[j]; }
  }
}`,
  };
}

interface FillArgs {
  /** f32, any shape; element i gets the number for counter i. */
  out: Tensor;
  /** u32 [2] = [seed, step]. */
  seed: Tensor;
  /** Distinguishes the uses of one seed (noise, timesteps, dropout layer k, ...). */
  stream: number;
}

function fill(gpu: Gpu, distribution: Distribution, args: FillArgs, count = 1): Promise<Dispatch> {
  const { out, seed, stream } = args;
  return createDispatch(
    gpu,
    fillKernel(distribution),
    { seed, out },
    grid1d(Math.ceil(out.size / 4), WG),
    { n: out.size, stream, count },
  );
}

/** out ~ N(0, 1) elementwise. */
export function fillNormal(gpu: Gpu, args: FillArgs): Promise<Dispatch> {
  return fill(gpu, "normal", args);
}

/** out ~ U[0, 1) elementwise (multiples of 2^-24). */
export function fillUniform(gpu: Gpu, args: FillArgs): Promise<Dispatch> {
  return fill(gpu, "uniform", args);
}

/** out = uniformly drawn integers in [0, count), stored as f32 (diffusion timesteps). */
export function randomTimesteps(
  gpu: Gpu,
  args: FillArgs & { count: number },
): Promise<Dispatch> {
  if (!Number.isInteger(args.count) || args.count < 1 || args.count > 2 ** 24) {
    throw new Error(`randomTimesteps: count ${args.count} must be an integer in [1, 2^24]`);
  }
  return fill(gpu, "timestep", args, args.count);
}

/** The u32 [2] = [seed, step] tensor every random kernel reads; starts at step 0. */
export function createSeed(gpu: Gpu, seed: number): Tensor {
  return tensorFrom(gpu, Uint32Array.of(seed >>> 0, 0), [2], "seed");
}

/** Rewrites [seed, step] for the work submitted next (once per training step). */
export function setSeed(gpu: Gpu, seedTensor: Tensor, seed: number, step: number): void {
  upload(gpu, seedTensor, Uint32Array.of(seed >>> 0, step >>> 0));
}
