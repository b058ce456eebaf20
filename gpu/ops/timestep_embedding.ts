// Sinusoidal timestep embedding, diffusers' get_timestep_embedding (no backward: timesteps are data).
//
// To match torch to float32 rounding: the frequencies are computed on the host exactly as torch does
// in float32 (exp correctly rounded), the argument t * freq is one f32 multiply, and sin/cos use an
// explicit Cody-Waite range reduction plus minimax polynomials, because WGSL's sin/cos are only
// specified to 2^-11 absolute error on [-pi, pi] and arguments reach ~1000 radians.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { type Tensor, tensorFrom } from "../runtime/tensor.ts";

const WG = 64;

/**
 * float32 frequencies as torch computes them:
 * exp((-ln(max_period) * arange(half)) / (half - shift)), each operation rounded to float32.
 */
export function timestepFrequencies(dim: number, shift = 0, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  const f = Math.fround;
  const scaleF32 = f(-Math.log(maxPeriod));
  return Float32Array.from(
    { length: half },
    (_, i) => f(Math.exp(f(f(scaleF32 * i) / (half - shift)))),
  );
}

// sin and cos of an f32 argument |x| < ~6000 to about 1 ulp. pi/2 is split into P1 + P2 + P3 with
// P1 and P2 holding 12 significant bits, so k * P1 and k * P2 are exact for k < 4096 and
// x - k * P1 is exact (Sterbenz); the polynomials are Cephes' sinf/cosf on [-pi/4, pi/4].
const SINCOS_WGSL = /* wgsl */ `
fn sincos_reduced(x: f32) -> vec2f {
  let k = round(x * 0.636619772367581343);
  var r = x - k * 1.57080078125;
  r = r - k * -4.45358455181121826e-6;
  r = r - k * -8.70551575271605297e-10;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z +
    z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let q = u32(i32(k) & 3);
  // (sin x, cos x) for x = r + q pi/2.
  switch (q) {
    case 0u: { return vec2f(s, c); }
    case 1u: { return vec2f(c, -s); }
    case 2u: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}
`;

const embeddingKernel: KernelSpec = {
  name: "timestepEmbedding",
  params: { n: "u32", dim: "u32", half: "u32", flip: "u32" },
  bindings: { timesteps: "read", freqs: "read", out: "write" },
  consts: { WG },
  code: SINCOS_WGSL + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let b = i / p.dim;
  let j = i % p.dim;
  // Odd dim: the last column is zero padding.
  if (j >= 2u * p.half) { out[i] = 0.0; return; }
  let second = j >= p.half;
  let f = select(j, j - p.half, second);
  let sc = sincos_reduced(timesteps[b] * freqs[f]);
  // [sin | cos], or [cos | sin] when flipped.
  out[i] = select(sc.x, sc.y, second != (p.flip != 0u));
}`,
};

/**
 * out [batch, dim] = [cos(t f), sin(t f)] (flipSinToCos, diffusers' UNet default) or [sin, cos],
 * f_i = exp(-ln(10000) i / (dim/2 - shift)); timesteps f32 [batch]. Uploads the frequency table
 * once, here, at build time.
 */
export function timestepEmbedding(
  gpu: Gpu,
  { timesteps, out, batch, dim, flipSinToCos = true, shift = 0, maxPeriod = 10000 }: {
    timesteps: Tensor;
    out: Tensor;
    batch: number;
    dim: number;
    flipSinToCos?: boolean;
    shift?: number;
    maxPeriod?: number;
  },
): Promise<Dispatch> {
  if (out.size !== batch * dim) throw new Error(`timestepEmbedding: out is not [${batch}, ${dim}]`);
  if (timesteps.size < batch) throw new Error(`timestepEmbedding: fewer than ${batch} timesteps`);
  const half = Math.floor(dim / 2);
  const freqs = tensorFrom(
    gpu,
    half ? timestepFrequencies(dim, shift, maxPeriod) : new Float32Array(1),
    [Math.max(half, 1)],
    "timestep_frequencies",
  );
  return createDispatch(gpu, embeddingKernel, { timesteps, freqs, out }, grid1d(out.size, WG), {
    n: out.size,
    dim,
    half,
    flip: flipSinToCos ? 1 : 0,
  });
}
