// GroupNorm (affine, optional fused SiLU), forward and backward. LayerNorm reuses these kernels.
//
// x: [B, C, S] f32 (S = H*W); group g of item b is the contiguous run of (C/G)*S values starting at
// (b*G + g) * (C/G)*S. One workgroup per (b, g) reduces it in workgroup memory (the brief allows it
// for reductions); the variance is two-pass (sum of squared deviations from the mean), which stays
// accurate when |mean| >> std, as torch's Welford does.
import type { Gpu } from "./device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "./kernel.ts";
import type { Tensor } from "./tensor.ts";

/** Invocations per reduction workgroup: a power of two. */
export function reductionWorkgroupSize(gpu: Gpu): number {
  return gpu.adapterClass === "cpu" ? 64 : 256;
}

/**
 * WGSL: `workgroup_sum(v, lid)` sums a vec2f over the workgroup (tree reduction). Call it from
 * uniform control flow only; every invocation gets the total. Needs `const WG` (a power of two).
 */
export const WORKGROUP_SUM_WGSL = /* wgsl */ `
var<workgroup> partial: array<vec2f, WG>;
fn workgroup_sum(v: vec2f, lid: u32) -> vec2f {
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] = partial[lid] + partial[lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier(); // partial is reused by the next call
  return total;
}
fn sigmoid(z: f32) -> f32 { return 1.0 / (1.0 + exp(-z)); }
`;

const dims = { batch: "u32", channels: "u32", spatial: "u32", groups: "u32" } as const;

function forwardKernel(wg: number, silu: boolean): KernelSpec {
  return {
    name: silu ? "groupNormSiluForward" : "groupNormForward",
    params: { ...dims, eps: "f32" },
    bindings: { x: "read", gamma: "read", beta: "read", y: "write", mean: "write", rstd: "write" },
    consts: { WG: wg, SILU: silu },
    code: /* wgsl */ `${WORKGROUP_SUM_WGSL}
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u,
                                     @builtin(local_invocation_index) lid: u32) {
  let bg = wid.x + wid.y * nwg.x; // b * groups + g
  if (bg >= p.batch * p.groups) { return; }
  let n = (p.channels / p.groups) * p.spatial;
  let base = bg * n;
  // Summing offsets from the group's first value keeps the mean accurate when |mean| >> std.
  let pivot = x[base];
  var s = 0.0;
  for (var i = lid; i < n; i += WG) { s += x[base + i] - pivot; }
  let mu = pivot + workgroup_sum(vec2f(s, 0.0), lid).x / f32(n);
  var q = 0.0;
  for (var i = lid; i < n; i += WG) { let d = x[base + i] - mu; q += d * d; }
  let r = inverseSqrt(workgroup_sum(vec2f(q, 0.0), lid).x / f32(n) + p.eps);
  if (lid == 0u) { mean[bg] = mu; rstd[bg] = r; }
  let c0 = (bg % p.groups) * (p.channels / p.groups);
  for (var i = lid; i < n; i += WG) {
    let c = c0 + i / p.spatial;
    var v = (x[base + i] - mu) * r * gamma[c] + beta[c];
    if (SILU) { v = v * sigmoid(v); }
    y[base + i] = v;
  }
}`,
  };
}

export interface GroupNormForwardArgs {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  y: Tensor;
  /** [B * groups], saved for the backward pass. */
  mean: Tensor;
  rstd: Tensor;
  batch: number;
  channels: number;
  spatial: number;
  groups: number;
  eps: number;
  /** y = silu(groupnorm(x)), fused. */
  silu?: boolean;
}

function checkGroups(channels: number, groups: number): void {
  if (channels % groups !== 0) {
    throw new Error(`group norm: ${channels} channels do not split into ${groups} groups`);
  }
}

/** y = gamma * (x - mean) * rstd + beta per (b, group), optionally followed by SiLU. */
export function groupNormForward(gpu: Gpu, args: GroupNormForwardArgs): Promise<Dispatch> {
  const { x, gamma, beta, y, mean, rstd, batch, channels, spatial, groups, eps } = args;
  checkGroups(channels, groups);
  const wg = reductionWorkgroupSize(gpu);
  return createDispatch(
    gpu,
    forwardKernel(wg, args.silu ?? false),
    { x, gamma, beta, y, mean, rstd },
    grid1d(batch * groups, 1),
    { batch, channels, spatial, groups, eps },
  );
}

// The upstream gradient of the affine output z = xhat * gamma + beta: dy, or dy * silu'(z).
const DZ_WGSL = /* wgsl */ `
fn upstream(dyv: f32, xhat: f32, c: u32) -> f32 {
  if (!SILU) { return dyv; }
  let z = xhat * gamma[c] + beta[c];
  let sg = sigmoid(z);
  return dyv * sg * (1.0 + z * (1.0 - sg));
}`;

function backwardInputKernel(wg: number, silu: boolean, accumulate: boolean): KernelSpec {
  return {
    name: silu ? "groupNormSiluBackwardInput" : "groupNormBackwardInput",
    params: dims,
    bindings: {
      x: "read",
      gamma: "read",
      ...(silu ? { beta: "read" } : {}),
      mean: "read",
      rstd: "read",
      dy: "read",
      dx: "write",
    },
    consts: { WG: wg, SILU: silu, ACCUMULATE: accumulate },
    code: /* wgsl */ `${WORKGROUP_SUM_WGSL}
${silu ? DZ_WGSL : "fn upstream(dyv: f32, xhat: f32, c: u32) -> f32 { return dyv; }"}
// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dz * gamma.
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u,
                                     @builtin(local_invocation_index) lid: u32) {
  let bg = wid.x + wid.y * nwg.x;
  if (bg >= p.batch * p.groups) { return; }
  let n = (p.channels / p.groups) * p.spatial;
  let base = bg * n;
  let c0 = (bg % p.groups) * (p.channels / p.groups);
  let mu = mean[bg];
  let r = rstd[bg];
  var acc = vec2f(0.0);
  for (var i = lid; i < n; i += WG) {
    let c = c0 + i / p.spatial;
    let xhat = (x[base + i] - mu) * r;
    let g = upstream(dy[base + i], xhat, c) * gamma[c];
    acc += vec2f(g, g * xhat);
  }
  let m = workgroup_sum(acc, lid) / f32(n);
  for (var i = lid; i < n; i += WG) {
    let c = c0 + i / p.spatial;
    let xhat = (x[base + i] - mu) * r;
    let g = upstream(dy[base + i], xhat, c) * gamma[c];
    let d = r * (g - m.x - xhat * m.y);
    if (ACCUMULATE) { dx[base + i] = dx[base + i] + d; } else { dx[base + i] = d; }
  }
}`,
  };
}

function backwardParamsKernel(wg: number, silu: boolean): KernelSpec {
  return {
    name: silu ? "groupNormSiluBackwardParams" : "groupNormBackwardParams",
    params: dims,
    bindings: {
      x: "read",
      ...(silu ? { gamma: "read", beta: "read" } : {}),
      mean: "read",
      rstd: "read",
      dy: "read",
      dGamma: "write",
      dBeta: "write",
    },
    consts: { WG: wg, SILU: silu },
    code: /* wgsl */ `${WORKGROUP_SUM_WGSL}
${silu ? DZ_WGSL : "fn upstream(dyv: f32, xhat: f32, c: u32) -> f32 { return dyv; }"}
// One workgroup per channel c: dGamma[c] = sum_{b,s} dz * xhat, dBeta[c] = sum_{b,s} dz.
@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u,
                                     @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.channels) { return; }
  let g = c / (p.channels / p.groups);
  let n = p.batch * p.spatial;
  var acc = vec2f(0.0);
  for (var j = lid; j < n; j += WG) {
    let b = j / p.spatial;
    let i = (b * p.channels + c) * p.spatial + (j - b * p.spatial);
    let bg = b * p.groups + g;
    let xhat = (x[i] - mean[bg]) * rstd[bg];
    let dz = upstream(dy[i], xhat, c);
    acc += vec2f(dz * xhat, dz);
  }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u) { dGamma[c] = total.x; dBeta[c] = total.y; }
}`,
  };
}

export interface GroupNormBackwardArgs {
  x: Tensor;
  gamma: Tensor;
  /** Read only with `silu` (to recompute the pre-activation). */
  beta: Tensor;
  mean: Tensor;
  rstd: Tensor;
  dy: Tensor;
  dx: Tensor;
  dGamma: Tensor;
  dBeta: Tensor;
  batch: number;
  channels: number;
  spatial: number;
  groups: number;
  silu?: boolean;
  accumulateDx?: boolean;
}

/** [dx (=|+=), then dGamma and dBeta (overwritten)]; recomputes xhat from x, mean and rstd. */
export async function groupNormBackward(
  gpu: Gpu,
  args: GroupNormBackwardArgs,
): Promise<Dispatch[]> {
  const { x, gamma, beta, mean, rstd, dy, dx, dGamma, dBeta, batch, channels, spatial, groups } =
    args;
  checkGroups(channels, groups);
  const silu = args.silu ?? false;
  const wg = reductionWorkgroupSize(gpu);
  const params = { batch, channels, spatial, groups };
  const betaIfSilu: Record<string, Tensor> = silu ? { beta } : {};
  return [
    await createDispatch(
      gpu,
      backwardInputKernel(wg, silu, args.accumulateDx ?? false),
      { x, gamma, ...betaIfSilu, mean, rstd, dy, dx },
      grid1d(batch * groups, 1),
      params,
    ),
    await createDispatch(
      gpu,
      backwardParamsKernel(wg, silu),
      { x, ...(silu ? { gamma } : {}), ...betaIfSilu, mean, rstd, dy, dGamma, dBeta },
      grid1d(channels, 1),
      params,
    ),
  ];
}
