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
import { createTensor, type Tensor } from "../runtime/tensor.ts";
import { f32Array } from "../runtime/wgsl.ts";
import { sumRows } from "./matmul/matmul.ts";
import { mirror } from "./mirror.ts";

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
  /** false: the buffer kernels even where the mirror kernels apply (the tests' reference). */
  mirrors?: boolean;
}

function checkGroups(channels: number, groups: number): void {
  if (channels % groups !== 0) {
    throw new Error(`group norm: ${channels} channels do not split into ${groups} groups`);
  }
}

/** The mirror kernels' layout where they apply (llvmpipe's reducer, aligned shapes), else null. */
function mirrorLayoutFor(
  gpu: Gpu,
  a: { channels: number; spatial: number; groups: number; mirrors?: boolean },
): MirrorLayout | null {
  if (a.mirrors === false || gpu.profile.groupNorm.reducer !== "invocation") return null;
  return mirrorLayout(a.channels, a.spatial, a.groups);
}

/** The mirrors a mirror kernel reads (refreshed first) and its texture bindings. */
function mirrored(gpu: Gpu, tensors: Record<string, Tensor>) {
  const refresh: Dispatch[] = [];
  const views: Record<string, GPUTextureView> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const m = mirror(gpu, t);
    refresh.push(m.refresh);
    views[name] = m.view;
  }
  return { refresh, views };
}

/** y = gamma * (x - mean) * rstd + beta per (b, group), optionally followed by SiLU. */
export async function groupNormForward(
  gpu: Gpu,
  args: GroupNormForwardArgs,
): Promise<Dispatch[]> {
  const { x, gamma, beta, y, mean, rstd, batch, channels, spatial, groups, eps } = args;
  checkGroups(channels, groups);
  const { reducer, wg } = reducerFor(gpu);
  const params = { batch, channels, spatial, groups, eps };
  const layout = mirrorLayoutFor(gpu, args);
  if (layout) {
    const m = mirrored(gpu, layout === "spatial" ? { x } : { x, gamma, beta });
    const affine: Record<string, Tensor> = layout === "spatial" ? { gamma, beta } : {};
    return [
      ...m.refresh,
      await createDispatch(
        gpu,
        forwardMirrorKernel(wg, args.silu ?? false, layout),
        { ...m.views, ...affine, y, mean, rstd },
        reducerGrid(reducer, wg, batch * groups),
        params,
      ),
    ];
  }
  return [
    await createDispatch(
      gpu,
      forwardKernel(wg, args.silu ?? false, widthOf(spatial), reducer),
      { x, gamma, beta, y, mean, rstd },
      reducerGrid(reducer, wg, batch * groups),
      params,
    ),
  ];
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
  /** false: the buffer kernels even where the mirror kernels apply (the tests' reference). */
  mirrors?: boolean;
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
  const layout = mirrorLayoutFor(gpu, args);
  if (layout) {
    const spatialLayout = layout === "spatial";
    const m = mirrored(gpu, spatialLayout ? { x, dy } : { x, dy, gamma, beta });
    const affine: Record<string, Tensor> = spatialLayout ? { gamma, beta } : {};
    const dxView: Record<string, Tensor | GPUTextureView> = { ...m.views, ...affine };
    const grid = reducerGrid(reducer, wg, batch * groups);
    const dxKernel = backwardInputMirrorKernel(wg, silu, args.accumulateDx ?? false, layout);
    if (!spatialLayout) {
      const paramViews = silu ? dxView : { x: m.views.x, dy: m.views.dy };
      return [
        ...m.refresh,
        await createDispatch(gpu, dxKernel, { ...dxView, mean, rstd, dx }, grid, params),
        await createDispatch(
          gpu,
          backwardParamsMirrorKernel(wg, silu),
          { ...paramViews, mean, rstd, dGamma, dBeta },
          reducerGrid(reducer, wg, channels / 4),
          params,
        ),
      ];
    }
    const partialGX = createTensor(gpu, [batch, channels], "f32", "groupNorm.partialGX");
    const partialG = createTensor(gpu, [batch, channels], "f32", "groupNorm.partialG");
    return [
      ...m.refresh,
      await createDispatch(
        gpu,
        dxKernel,
        { ...dxView, mean, rstd, dx, partialGX, partialG },
        grid,
        params,
      ),
      await sumRows(gpu, { x: partialGX, y: dGamma, rows: batch, cols: channels }),
      await sumRows(gpu, { x: partialG, y: dBeta, rows: batch, cols: channels }),
    ];
  }
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

// ---- The mirror kernels: llvmpipe's ("invocation" reducer) for the UNet's and LayerNorm's shapes ----
//
// One invocation per group (per channel, or channel quad, for the parameter gradients), reading x
// and dy through their mirrors (gpu/ops/mirror.ts): a texel load is a vectorised gather where a
// storage-buffer read is a per-lane loop. Two layouts of the texels, one kernel family each:
// - "spatial" (spatial % 4 == 0, GroupNorm): a texel is four positions of one channel; the loops
//   run channel by channel, so gamma and beta are read once per channel, not once per texel;
// - "channels" (spatial == 1 and channels per group % 4 == 0, LayerNorm): a texel is four
//   channels (features); gamma and beta are read as texels of their own mirrors.
// The buffer kernels above stay for the other shapes (and the workgroup reducer), and as the
// reference of the tests (tests/ops/group_norm_test.ts).
type MirrorLayout = "spatial" | "channels";

function mirrorLayout(channels: number, spatial: number, groups: number): MirrorLayout | null {
  if (spatial % 4 === 0) return "spatial";
  if (spatial === 1 && (channels / groups) % 4 === 0) return "channels";
  return null;
}

// WGSL: the texel loop over a group, `body` run with i (texel index), gm and bt (gamma and beta of
// the texel's channels: splats in the spatial layout, texels in the channels layout).
function groupLoop(l: MirrorLayout, affine: boolean, body: string): string {
  if (l === "spatial") {
    return `for (var ch = 0u; ch < cpg; ch++) {
    ${affine ? "let gm = vec4f(gamma[c0 + ch]); let bt = vec4f(beta[c0 + ch]);" : ""}
    for (var k = 0u; k < s4; k++) {
      let i = base + ch * s4 + k;
      ${body}
    }
  }`;
  }
  return `for (var k = 0u; k < nv; k++) {
    let i = base + k;
    ${affine ? "let gm = load_gamma(c0 / 4u + k); let bt = load_beta(c0 / 4u + k);" : ""}
    ${body}
  }`;
}

/** WGSL: the group's statistics from its mirror, into mu and r (and mean[bg], rstd[bg]). */
const GROUP_STATS = /* wgsl */ `
  // Offsets from the group's first value, as the buffer kernel (see forwardKernel).
  let pivot = load_x(base).x;
  var s = vec4f(0.0);
  var q = vec4f(0.0);
  for (var k = 0u; k < nv; k++) { let d = load_x(base + k) - pivot; s += d; q += d * d; }
  let t = vec2f(dot(s, vec4f(1.0)), dot(q, vec4f(1.0))) / f32(nv * 4u);
  let mu = pivot + t.x;
  let r = inverseSqrt(max(t.y - t.x * t.x, 0.0) + p.eps);
  mean[bg] = mu;
  rstd[bg] = r;`;

/** WGSL: a group's extent in the spatial layout (after bg, the b * groups + g of the invocation). */
const GROUP_SETUP = /* wgsl */ `
  let cpg = p.channels / p.groups;
  let s4 = p.spatial / 4u; // texels per channel (spatial layout)
  let nv = cpg * p.spatial / 4u; // texels per group
  let base = bg * nv;
  let c0 = (bg % p.groups) * cpg;`;

/**
 * WGSL: a forward mirror kernel's entry, one invocation per (b, group) (bg), through the group's
 * extent and statistics (mu, r), with mean[bg] and rstd[bg] stored; the kernel's body follows.
 */
export const GROUP_FORWARD_HEAD = /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let bg = flat_id(gid, nwg, WG); // b * groups + g
  if (bg >= p.batch * p.groups) { return; }
  ${GROUP_SETUP}
  ${GROUP_STATS}`;

function affineBindings(l: MirrorLayout): Record<string, string> {
  return l === "spatial"
    ? { gamma: "read", beta: "read" }
    : { gamma: "mirror read", beta: "mirror read" };
}

function forwardMirrorKernel(wg: number, silu: boolean, l: MirrorLayout): KernelSpec {
  return {
    name: silu ? "groupNormSiluForward" : "groupNormForward",
    params: { ...dims, eps: "f32" },
    bindings: {
      x: "mirror read",
      ...affineBindings(l),
      y: "write array<vec4<f32>>",
      mean: "write",
      rstd: "write",
    },
    consts: { WG: wg, SILU: silu },
    code: /* wgsl */ `
${GROUP_FORWARD_HEAD}
  ${
      groupLoop(
        l,
        true,
        `var v = (load_x(i) - mu) * (r * gm) + bt;
      if (SILU) { v = v / (1.0 + exp(-v)); }
      y[i] = v;`,
      )
    }
}`,
  };
}

function upstreamMirrorWgsl(silu: boolean): string {
  return silu
    ? /* wgsl */ `
fn upstream(dyv: vec4f, xhat: vec4f, gm: vec4f, bt: vec4f) -> vec4f {
  let z = xhat * gm + bt;
  let sg = 1.0 / (1.0 + exp(-z));
  return dyv * sg * (1.0 + z * (1.0 - sg));
}`
    : "fn upstream(dyv: vec4f, xhat: vec4f, gm: vec4f, bt: vec4f) -> vec4f { return dyv; }";
}

/**
 * dx; in the spatial layout also the parameter gradients' partial sums per item and channel: the
 * first pass over the group computes dz = upstream(dy) and xhat for every value anyway, so it also
 * sums dz * xhat and dz per channel into partialGX / partialG [B, C]; a sum over items gives dGamma
 * and dBeta (no second pass over x and dy, and no invocation per channel looping over the batch).
 * In the channels layout (LayerNorm: thousands of rows) the parameter kernel below does it.
 */
function backwardInputMirrorKernel(
  wg: number,
  silu: boolean,
  accumulate: boolean,
  l: MirrorLayout,
): KernelSpec {
  const spatial = l === "spatial";
  const dz = `let xhat = (load_x(i) - mu) * r;
      let dz = upstream(load_dy(i), xhat, gm, bt);
      let g = dz * gm;`;
  const g = `let xhat = (load_x(i) - mu) * r;
      let g = upstream(load_dy(i), xhat, gm, bt) * gm;`;
  // The first pass, with the partial sums per channel (spatial layout) stored after its loop.
  const firstPass = spatial
    ? `for (var ch = 0u; ch < cpg; ch++) {
    let gm = vec4f(gamma[c0 + ch]);
    let bt = vec4f(beta[c0 + ch]);
    var pGX = vec4f(0.0);
    var pG = vec4f(0.0);
    for (var k = 0u; k < s4; k++) {
      let i = base + ch * s4 + k;
      ${dz}
      sumG += g;
      sumGX += g * xhat;
      pGX += dz * xhat;
      pG += dz;
    }
    let at = (bg / p.groups) * p.channels + c0 + ch;
    partialGX[at] = dot(pGX, vec4f(1.0));
    partialG[at] = dot(pG, vec4f(1.0));
  }`
    : groupLoop(
      l,
      true,
      `${g}
      sumG += g;
      sumGX += g * xhat;`,
    );
  return {
    name: silu ? "groupNormSiluBackwardInput" : "groupNormBackwardInput",
    params: dims,
    bindings: {
      x: "mirror read",
      ...affineBindings(l),
      mean: "read",
      rstd: "read",
      dy: "mirror read",
      dx: "write array<vec4<f32>>",
      ...(spatial ? { partialGX: "write", partialG: "write" } : {}),
    },
    consts: { WG: wg, ACCUMULATE: accumulate },
    code: /* wgsl */ `${upstreamMirrorWgsl(silu)}
// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dz * gamma.
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let bg = flat_id(gid, nwg, WG);
  if (bg >= p.batch * p.groups) { return; }
  ${GROUP_SETUP}
  let mu = mean[bg];
  let r = rstd[bg];
  var sumG = vec4f(0.0);
  var sumGX = vec4f(0.0);
  ${firstPass}
  let m = vec2f(dot(sumG, vec4f(1.0)), dot(sumGX, vec4f(1.0))) / f32(nv * 4u);
  ${
      groupLoop(
        l,
        true,
        `${g}
      var d = r * (g - m.x - xhat * m.y);
      if (ACCUMULATE) { d += dx[i]; }
      dx[i] = d;`,
      )
    }
}`,
  };
}

/** dGamma, dBeta in the channels layout: one invocation per feature quad, looping over the rows. */
function backwardParamsMirrorKernel(wg: number, silu: boolean): KernelSpec {
  return {
    name: silu ? "groupNormSiluBackwardParams" : "groupNormBackwardParams",
    params: dims,
    bindings: {
      x: "mirror read",
      ...(silu ? { gamma: "mirror read", beta: "mirror read" } : {}),
      mean: "read",
      rstd: "read",
      dy: "mirror read",
      dGamma: "write array<vec4<f32>>",
      dBeta: "write array<vec4<f32>>",
    },
    consts: { WG: wg },
    code: /* wgsl */ `${upstreamMirrorWgsl(silu)}
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_id(gid, nwg, WG); // feature quad
  if (c * 4u >= p.channels) { return; }
  let g = c * 4u / (p.channels / p.groups);
  let gm = ${silu ? "load_gamma(c)" : "vec4f(1.0)"};
  let bt = ${silu ? "load_beta(c)" : "vec4f(0.0)"};
  var sumGX = vec4f(0.0);
  var sumG = vec4f(0.0);
  for (var b = 0u; b < p.batch; b++) {
    let bg = b * p.groups + g;
    let mu = mean[bg];
    let r = rstd[bg];
    let i = (b * p.channels) / 4u + c;
    let xhat = (load_x(i) - mu) * r;
    let dz = upstream(load_dy(i), xhat, gm, bt);
    sumGX += dz * xhat;
    sumG += dz;
  }
  dGamma[c] = sumGX;
  dBeta[c] = sumG;
}`,
  };
}
