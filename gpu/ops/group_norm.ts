// GroupNorm (affine, optional fused SiLU), forward and backward. LayerNorm reuses these kernels.
//
// x: [B, C, S] f32 (S = H*W); group g of item b is the contiguous run of (C/G)*S values starting at
// (b*G + g) * (C/G)*S. Who reduces a group is the backend profile's `groupNorm.reducer` (see
// Reducer): a workgroup in workgroup memory (GPUs), or one invocation walking it (llvmpipe).
// The statistics are one pass over offsets from the group's first value, which stays accurate
// when |mean| >> std, as torch's Welford does.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import type { GroupNormReducer } from "../runtime/profile.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { f32Array } from "../runtime/wgsl.ts";

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
`;

/**
 * Who reduces a group (or, for the parameter gradients, a channel):
 * - "workgroup" (GPUs): one workgroup per group; its invocations stride through it and meet in
 *   workgroup_sum (the profile's workgroupSize is the tree's width, a power of two).
 * - "invocation" (llvmpipe): one invocation walks a whole group, with no barriers and no
 *   workgroup memory, workgroupSize groups per workgroup. llvmpipe loads storage per lane whether
 *   neighbours are contiguous or not, and the tree's seven barriers cost GroupNorm about 40 % of
 *   its time there.
 */
type Reducer = GroupNormReducer;

function reducerWgsl(r: Reducer): { prelude: string; entry: string; sum: (v: string) => string } {
  if (r === "workgroup") {
    return {
      prelude: WORKGROUP_SUM_WGSL,
      entry: /* wgsl */ `@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u,
                                     @builtin(local_invocation_index) lid: u32) {
  let item = wid.x + wid.y * nwg.x;
  let lane = lid;
  let lanes = WG;`,
      sum: (v) => `workgroup_sum(${v}, lid)`,
    };
  }
  return {
    prelude: "",
    entry:
      /* wgsl */ `@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let item = flat_id(gid, nwg, WG);
  let lane = 0u;
  let lanes = 1u;`,
    sum: (v) => v,
  };
}

function reducerFor(gpu: Gpu): { reducer: Reducer; wg: number } {
  return { reducer: gpu.profile.groupNorm.reducer, wg: gpu.profile.groupNorm.workgroupSize };
}

/** Workgroups for `count` groups (or channels). */
const reducerGrid = (r: Reducer, wg: number, count: number) =>
  r === "invocation" ? grid1d(count, wg) : grid1d(count, 1);

const dims = { batch: "u32", channels: "u32", spatial: "u32", groups: "u32" } as const;

/**
 * The kernels read W values at a time: W = 4 (array<vec4f>) when the spatial size is a multiple
 * of 4, else 1. On llvmpipe every storage access is a per-lane loop, so a vec4 access moves four
 * values for about the price of one; channel c is constant across a vec4 (spatial runs inner).
 */
type Width = 1 | 4;
const widthOf = (spatial: number): Width => (spatial % 4 === 0 ? 4 : 1);

/** WGSL prelude per width: the value type V, its horizontal sum and the binding type. */
function vectorWgsl(w: Width): string {
  return w === 4
    ? `alias V = vec4f;
fn hsum(v: V) -> f32 { return dot(v, vec4f(1.0)); }
fn firstOf(v: V) -> f32 { return v.x; }`
    : `alias V = f32;
fn hsum(v: V) -> f32 { return v; }
fn firstOf(v: V) -> f32 { return v; }`;
}
const arrayOf = (w: Width) => f32Array(w === 4);

function forwardKernel(wg: number, silu: boolean, w: Width, r: Reducer): KernelSpec {
  const a = arrayOf(w);
  const red = reducerWgsl(r);
  return {
    name: silu ? "groupNormSiluForward" : "groupNormForward",
    params: { ...dims, eps: "f32" },
    bindings: {
      x: `read ${a}`,
      gamma: "read",
      beta: "read",
      y: `write ${a}`,
      mean: "write",
      rstd: "write",
    },
    consts: { WG: wg, SILU: silu, W: w },
    code: /* wgsl */ `${red.prelude}
${vectorWgsl(w)}
${red.entry}
  let bg = item; // b * groups + g
  if (bg >= p.batch * p.groups) { return; }
  let sv = p.spatial / W; // V values per channel
  let nv = (p.channels / p.groups) * sv;
  let n = f32(nv * W);
  let base = bg * nv;
  // One pass over offsets from the group's first value: E[d^2] - E[d]^2 with d = x - pivot keeps
  // the variance accurate when |mean| >> std (d is of the order of std), as torch's Welford does.
  let pivot = firstOf(x[base]);
  var s = V(0.0);
  var q = V(0.0);
  for (var i = lane; i < nv; i += lanes) { let d = x[base + i] - pivot; s += d; q += d * d; }
  let t = ${red.sum("vec2f(hsum(s), hsum(q))")} / n;
  let mu = pivot + t.x;
  let r = inverseSqrt(max(t.y - t.x * t.x, 0.0) + p.eps);
  if (lane == 0u) { mean[bg] = mu; rstd[bg] = r; }
  let c0 = (bg % p.groups) * (p.channels / p.groups);
  for (var i = lane; i < nv; i += lanes) {
    let c = c0 + i / sv;
    var v = (x[base + i] - mu) * (r * gamma[c]) + beta[c];
    if (SILU) { v = v / (1.0 + exp(-v)); }
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
  const { reducer, wg } = reducerFor(gpu);
  return createDispatch(
    gpu,
    forwardKernel(wg, args.silu ?? false, widthOf(spatial), reducer),
    { x, gamma, beta, y, mean, rstd },
    reducerGrid(reducer, wg, batch * groups),
    { batch, channels, spatial, groups, eps },
  );
}

// The upstream gradient of the affine output z = xhat * gamma + beta: dy, or dy * silu'(z).
function upstreamWgsl(silu: boolean): string {
  return silu
    ? /* wgsl */ `
fn upstream(dyv: V, xhat: V, c: u32) -> V {
  let z = xhat * gamma[c] + beta[c];
  let sg = 1.0 / (1.0 + exp(-z));
  return dyv * sg * (1.0 + z * (1.0 - sg));
}`
    : "fn upstream(dyv: V, xhat: V, c: u32) -> V { return dyv; }";
}

function backwardInputKernel(
  wg: number,
  silu: boolean,
  accumulate: boolean,
  w: Width,
  r: Reducer,
): KernelSpec {
  const a = arrayOf(w);
  const red = reducerWgsl(r);
  return {
    name: silu ? "groupNormSiluBackwardInput" : "groupNormBackwardInput",
    params: dims,
    bindings: {
      x: `read ${a}`,
      gamma: "read",
      ...(silu ? { beta: "read" } : {}),
      mean: "read",
      rstd: "read",
      dy: `read ${a}`,
      dx: `write ${a}`,
    },
    consts: { WG: wg, SILU: silu, ACCUMULATE: accumulate, W: w },
    code: /* wgsl */ `${red.prelude}
${vectorWgsl(w)}
${upstreamWgsl(silu)}
// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dz * gamma.
${red.entry}
  let bg = item;
  if (bg >= p.batch * p.groups) { return; }
  let sv = p.spatial / W;
  let nv = (p.channels / p.groups) * sv;
  let base = bg * nv;
  let c0 = (bg % p.groups) * (p.channels / p.groups);
  let mu = mean[bg];
  let r = rstd[bg];
  var sumG = V(0.0);
  var sumGX = V(0.0);
  for (var i = lane; i < nv; i += lanes) {
    let c = c0 + i / sv;
    let xhat = (x[base + i] - mu) * r;
    let g = upstream(dy[base + i], xhat, c) * gamma[c];
    sumG += g;
    sumGX += g * xhat;
  }
  let m = ${red.sum("vec2f(hsum(sumG), hsum(sumGX))")} / f32(nv * W);
  for (var i = lane; i < nv; i += lanes) {
    let c = c0 + i / sv;
    let xhat = (x[base + i] - mu) * r;
    let g = upstream(dy[base + i], xhat, c) * gamma[c];
    let d = r * (g - m.x - xhat * m.y);
    if (ACCUMULATE) { dx[base + i] = dx[base + i] + d; } else { dx[base + i] = d; }
  }
}`,
  };
}

function backwardParamsKernel(wg: number, silu: boolean, w: Width, r: Reducer): KernelSpec {
  const a = arrayOf(w);
  const red = reducerWgsl(r);
  return {
    name: silu ? "groupNormSiluBackwardParams" : "groupNormBackwardParams",
    params: dims,
    bindings: {
      x: `read ${a}`,
      ...(silu ? { gamma: "read", beta: "read" } : {}),
      mean: "read",
      rstd: "read",
      dy: `read ${a}`,
      dGamma: "write",
      dBeta: "write",
    },
    consts: { WG: wg, SILU: silu, W: w },
    code: /* wgsl */ `${red.prelude}
${vectorWgsl(w)}
${upstreamWgsl(silu)}
// Per channel c: dGamma[c] = sum_{b,s} dz * xhat, dBeta[c] = sum_{b,s} dz.
${red.entry}
  let c = item;
  if (c >= p.channels) { return; }
  let g = c / (p.channels / p.groups);
  let sv = p.spatial / W;
  let n = p.batch * sv;
  var sumGX = V(0.0);
  var sumG = V(0.0);
  for (var j = lane; j < n; j += lanes) {
    let b = j / sv;
    let i = (b * p.channels + c) * sv + (j - b * sv);
    let bg = b * p.groups + g;
    let xhat = (x[i] - mean[bg]) * rstd[bg];
    let dz = upstream(dy[i], xhat, c);
    sumGX += dz * xhat;
    sumG += dz;
  }
  let total = ${red.sum("vec2f(hsum(sumGX), hsum(sumG))")};
  if (lane == 0u) { dGamma[c] = total.x; dBeta[c] = total.y; }
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
  const { reducer, wg } = reducerFor(gpu);
  const params = { batch, channels, spatial, groups };
  const betaIfSilu: Record<string, Tensor> = silu ? { beta } : {};
  return [
    await createDispatch(
      gpu,
      backwardInputKernel(wg, silu, args.accumulateDx ?? false, widthOf(spatial), reducer),
      { x, gamma, ...betaIfSilu, mean, rstd, dy, dx },
      reducerGrid(reducer, wg, batch * groups),
      params,
    ),
    await createDispatch(
      gpu,
      backwardParamsKernel(wg, silu, widthOf(spatial), reducer),
      { x, ...(silu ? { gamma } : {}), ...betaIfSilu, mean, rstd, dy, dGamma, dBeta },
      reducerGrid(reducer, wg, channels),
      params,
    ),
  ];
}
