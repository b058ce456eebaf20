// Pointwise activations: SiLU, GELU (exact erf form) and GEGLU, forward and backward.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import type { Tensor } from "../runtime/tensor.ts";

const WG = 64;

const siluForwardKernel: KernelSpec = {
  name: "siluForward",
  params: { n: "u32" },
  bindings: { x: "read", y: "write" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = v / (1.0 + exp(-v));
}`,
};

/** y = x * sigmoid(x). */
export function siluForward(gpu: Gpu, x: Tensor, y: Tensor): Promise<Dispatch> {
  return createDispatch(gpu, siluForwardKernel, { x, y }, grid1d(x.size, WG), { n: x.size });
}

function siluBackwardKernel(accumulate: boolean): KernelSpec {
  return {
    name: "siluBackward",
    params: { n: "u32" },
    bindings: { x: "read", dy: "read", dx: "write" },
    consts: { WG, ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let v = x[i];
  let s = 1.0 / (1.0 + exp(-v));
  let g = dy[i] * s * (1.0 + v * (1.0 - s));
  if (ACCUMULATE) { dx[i] = dx[i] + g; } else { dx[i] = g; }
}`,
  };
}

/** dx (=|+=) dy * silu'(x), with silu'(x) = s(x) (1 + x (1 - s(x))). */
export function siluBackward(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  dx: Tensor,
  accumulate = false,
): Promise<Dispatch> {
  return createDispatch(gpu, siluBackwardKernel(accumulate), { x, dy, dx }, grid1d(x.size, WG), {
    n: x.size,
  });
}

// ---- GELU (exact erf form) and GEGLU ----
//
// WGSL has no erf. The normal CDF is built from three pieces of t = |x|/sqrt(2):
//   t < 0.5:      erf(t) from its Taylor series (8 terms, truncation < 1e-10);
//   0.5 <= t < 2.5: erfc(t) = exp(-t^2) R(t), R = exp(t^2) erfc(t) as a degree-12 Chebyshev series;
//   t >= 2.5:     erfc(t) = exp(-t^2) u F(u), u = 1/t in (0, 0.4], F = R(1/u)/u (F(0) = 1/sqrt(pi)).
// Phi(x) = 0.5 (1 + erf) would lose digits to cancellation for x < -0.7, hence erfc from t = 0.5.
// The Chebyshev coefficients interpolate R and F at 13 and 11 Chebyshev nodes, computed in 40-digit
// arithmetic; both are accurate to < 1e-9 in float64, so f32 rounding dominates: within 2 ulps for
// x > -0.7, and up to 6.4 in the negative tail, where the builtin exp (3.3 ulps on llvmpipe) and the
// Clenshaw sum (3.9) compound.
// exp(-t^2) is evaluated as exp(-x^2/2) with x split into a 12-bit head (exact square) and a tail,
// so squaring adds no error, and range-reduced (below); erfc in the tails keeps its relative accuracy.
const ERFC_R_HALF_TO_2_5 = [
  0.36533404842640377,
  -0.1919384909707852,
  0.045756257522956915,
  -0.010084325230687828,
  0.002080569540687814,
  -0.0004054756398509666,
  7.515242494378435e-05,
  -1.3317484945297126e-05,
  2.265976638280634e-06,
  -3.7150564321956417e-07,
  5.886037377052785e-08,
  -9.031072722476966e-09,
  1.3188621139367835e-09,
];
const ERFC_F_OF_INV_T = [
  0.5495480779807944,
  -0.018976192136099385,
  -0.00396076917174233,
  0.0003966277443805777,
  1.4914259537416593e-05,
  -7.358281154270759e-06,
  5.478078338808431e-07,
  8.462651862154082e-08,
  -2.4489094788764934e-08,
  1.4663813694162687e-09,
  4.498023282007e-10,
];

/** erf(t) = t * sum_n a_n t^(2n), a_n = 2/sqrt(pi) (-1)^n / (n! (2n+1)). */
function erfTaylorCoefficients(terms: number): number[] {
  const out: number[] = [];
  let factorial = 1;
  for (let n = 0; n < terms; n++) {
    if (n > 0) factorial *= n;
    out.push((2 / Math.sqrt(Math.PI)) * (n % 2 ? -1 : 1) / (factorial * (2 * n + 1)));
  }
  return out;
}

const f32Literal = (v: number) => `${v.toExponential(17)}f`;

/** Unrolled Clenshaw recurrence: sum_j c_j T_j(s). */
function chebyshevWgsl(name: string, c: number[]): string {
  const steps = c.slice(1).reverse().map((cj) =>
    `  t = b1; b1 = ${f32Literal(cj)} + s2 * b1 - b2; b2 = t;`
  );
  return `fn ${name}(s: f32) -> f32 {
  let s2 = 2.0 * s;
  var b1 = 0.0; var b2 = 0.0; var t = 0.0;
${steps.join("\n")}
  return ${f32Literal(c[0])} + s * b1 - b2;
}`;
}

function hornerWgsl(name: string, c: number[]): string {
  const expr = c.slice(0, -1).reverse().reduce(
    (acc, cj) => `${f32Literal(cj)} + z * (${acc})`,
    f32Literal(c[c.length - 1]),
  );
  return `fn ${name}(z: f32) -> f32 { return ${expr}; }`;
}

/** WGSL: normal_cdf(x), normal_pdf(x), gelu(x) and gelu_grad(x). */
export const GELU_WGSL = /* wgsl */ `
${hornerWgsl("erf_taylor_in_t2", erfTaylorCoefficients(8))}
${chebyshevWgsl("erfc_r_half_to_2_5", ERFC_R_HALF_TO_2_5)}
${chebyshevWgsl("erfc_f_of_inv_t", ERFC_F_OF_INV_T)}
// exp(-x*x/2) to ~1 ulp. The builtin exp's error grows with its argument's size (exp(-18) is off by
// ~1e-6 on llvmpipe), so reduce first: x*x/2 = head^2/2 + tail, head = x's top 12 bits (exact
// square), then exp(y) = 2^k exp(r) with k*ln2 subtracted in two parts (Cody-Waite) and |r| < 0.35.
fn exp_neg_half_square(x: f32) -> f32 {
  let a = min(abs(x), 20.0); // exp(-200) is 0 in f32; the clamp keeps k finite
  let head = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
  let y_head = -0.5 * head * head;
  let y_tail = -0.5 * (a - head) * (a + head);
  let k = round(y_head * 1.4426950408889634);
  let r = (y_head - k * 0.693145751953125) - k * 1.4286067653301870e-6 + y_tail;
  return ldexp(exp(r), i32(k));
}
fn normal_pdf(x: f32) -> f32 { return 0.3989422804014327 * exp_neg_half_square(x); }
fn normal_cdf(x: f32) -> f32 {
  let t = abs(x) * 0.7071067811865476;
  if (t < 0.5) {
    let s = x * 0.7071067811865476;
    return 0.5 + 0.5 * s * erf_taylor_in_t2(s * s);
  }
  var r: f32;
  if (t < 2.5) {
    r = erfc_r_half_to_2_5(t - 1.5);
  } else {
    let u = 1.0 / t;
    r = u * erfc_f_of_inv_t(5.0 * u - 1.0);
  }
  let tail = 0.5 * exp_neg_half_square(x) * r; // P(X > |x|)
  return select(1.0 - tail, tail, x < 0.0);
}
fn gelu(x: f32) -> f32 { return x * normal_cdf(x); }
fn gelu_grad(x: f32) -> f32 { return normal_cdf(x) + x * normal_pdf(x); }
`;

const geluForwardKernel: KernelSpec = {
  name: "geluForward",
  params: { n: "u32" },
  bindings: { x: "read", y: "write" },
  consts: { WG },
  code: /* wgsl */ `${GELU_WGSL}
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  y[i] = gelu(x[i]);
}`,
};

/** y = x * Phi(x) (torch's GELU, approximate="none"). */
export function geluForward(gpu: Gpu, x: Tensor, y: Tensor): Promise<Dispatch> {
  return createDispatch(gpu, geluForwardKernel, { x, y }, grid1d(x.size, WG), { n: x.size });
}

function geluBackwardKernel(accumulate: boolean): KernelSpec {
  return {
    name: "geluBackward",
    params: { n: "u32" },
    bindings: { x: "read", dy: "read", dx: "write" },
    consts: { WG, ACCUMULATE: accumulate },
    code: /* wgsl */ `${GELU_WGSL}
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let g = dy[i] * gelu_grad(x[i]);
  if (ACCUMULATE) { dx[i] = dx[i] + g; } else { dx[i] = g; }
}`,
  };
}

/** dx (=|+=) dy * (Phi(x) + x phi(x)). */
export function geluBackward(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  dx: Tensor,
  accumulate = false,
): Promise<Dispatch> {
  return createDispatch(gpu, geluBackwardKernel(accumulate), { x, dy, dx }, grid1d(x.size, WG), {
    n: x.size,
  });
}

const gegluForwardKernel: KernelSpec = {
  name: "gegluForward",
  params: { rows: "u32", features: "u32" },
  bindings: { x: "read", y: "write" },
  consts: { WG },
  code: /* wgsl */ `${GELU_WGSL}
// x: [rows, 2F] = [a | g], y: [rows, F]
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.rows * p.features) { return; }
  let r = i / p.features;
  let a = r * 2u * p.features + (i - r * p.features);
  y[i] = x[a] * gelu(x[a + p.features]);
}`,
};

/** y = a * gelu(g) for x = [a | g] split on the last dimension (diffusers' GEGLU). */
export function gegluForward(
  gpu: Gpu,
  args: { x: Tensor; y: Tensor; rows: number; features: number },
): Promise<Dispatch> {
  const { x, y, rows, features } = args;
  return createDispatch(gpu, gegluForwardKernel, { x, y }, grid1d(rows * features, WG), {
    rows,
    features,
  });
}

function gegluBackwardKernel(accumulate: boolean): KernelSpec {
  return {
    name: "gegluBackward",
    params: { rows: "u32", features: "u32" },
    bindings: { x: "read", dy: "read", dx: "write" },
    consts: { WG, ACCUMULATE: accumulate },
    code: /* wgsl */ `${GELU_WGSL}
// x, dx: [rows, 2F]; dy: [rows, F]. One invocation writes both halves of one output column.
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.rows * p.features) { return; }
  let r = i / p.features;
  let ia = r * 2u * p.features + (i - r * p.features);
  let ig = ia + p.features;
  let a = x[ia];
  let g = x[ig];
  let d = dy[i];
  let da = d * gelu(g);
  let dg = d * a * gelu_grad(g);
  if (ACCUMULATE) {
    dx[ia] = dx[ia] + da;
    dx[ig] = dx[ig] + dg;
  } else {
    dx[ia] = da;
    dx[ig] = dg;
  }
}`,
  };
}

/** dx = [dy * gelu(g) | dy * a * gelu'(g)]; `accumulate` adds into dx. */
export function gegluBackward(
  gpu: Gpu,
  args: { x: Tensor; dy: Tensor; dx: Tensor; rows: number; features: number; accumulate?: boolean },
): Promise<Dispatch> {
  const { x, dy, dx, rows, features, accumulate = false } = args;
  return createDispatch(
    gpu,
    gegluBackwardKernel(accumulate),
    { x, dy, dx },
    grid1d(rows * features, WG),
    { rows, features },
  );
}
