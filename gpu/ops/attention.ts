// Multi-head scaled dot-product attention without a mask, forward and backward.
//   q: [B, Nq, heads*d], k, v: [B, Nk, heads*d], out: [B, Nq, heads*d]; head h owns columns
//   h*d .. h*d+d-1. probs: [B, heads, Nq, Nk] = softmax(q_h k_h^T * scale), saved for the backward.
// Attention is under 1% of the model's FLOPs, so these are plain per-row loops, not tiled GEMMs:
// one invocation per (b, h, query row) owns that row of scores, out and dq; one invocation per
// (b, h, key row) owns dk and dv, looping over queries, so no sum needs atomics.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { createTensor, type Tensor } from "../runtime/tensor.ts";
import { mirror } from "./mirror.ts";

export interface AttentionShape {
  batch: number;
  heads: number;
  queries: number;
  keys: number;
  headDim: number;
  scale: number;
}

// One row per invocation: the workgroup width is the profile's (narrow on llvmpipe, whose x is the
// SIMD axis; full warps on a GPU).
const rowsPerGroup = (gpu: Gpu): number => gpu.profile.attention.laneWidth;

const params = {
  heads: "u32",
  queries: "u32",
  keys: "u32",
  rows: "u32",
  scale: "f32",
} as const;

function paramValues(s: AttentionShape, rows: number) {
  return { heads: s.heads, queries: s.queries, keys: s.keys, rows, scale: s.scale };
}

// The head dimension is a compile-time constant so a row of q, dO or an accumulator fits a
// private array.
const indexing = /* wgsl */ `
const WIDTH = HEADS_TIMES_D;
// Element c of head h of token t of batch item b, in a [B, N, heads*d] tensor with N tokens.
fn at(b: u32, t: u32, n: u32, h: u32, c: u32) -> u32 {
  return (b * n + t) * WIDTH + h * D + c;
}`;

function attentionForwardKernel(wg: number, s: AttentionShape): KernelSpec {
  return {
    name: "attentionForward",
    params,
    bindings: { q: "read", k: "read", v: "read", out: "write", probs: "write" },
    consts: { WG: wg, D: s.headDim, HEADS_TIMES_D: s.heads * s.headDim },
    code: indexing + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nq + i)
  if (row >= p.rows) { return; }
  let i = row % p.queries;
  let h = (row / p.queries) % p.heads;
  let b = row / (p.queries * p.heads);
  let prow = row * p.keys;

  var qi: array<f32, D>;
  for (var c = 0u; c < D; c++) { qi[c] = q[at(b, i, p.queries, h, c)] * p.scale; }

  // Scores go into probs first; the row max keeps exp() in range (the largest term is exactly 1).
  var m = -3.4e38;
  for (var j = 0u; j < p.keys; j++) {
    var s = 0.0;
    for (var c = 0u; c < D; c++) { s += qi[c] * k[at(b, j, p.keys, h, c)]; }
    probs[prow + j] = s;
    m = max(m, s);
  }
  var total = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    let e = exp(probs[prow + j] - m);
    probs[prow + j] = e;
    total += e;
  }
  let inv = 1.0 / total;

  var acc: array<f32, D>;
  for (var j = 0u; j < p.keys; j++) {
    let pj = probs[prow + j] * inv;
    probs[prow + j] = pj;
    for (var c = 0u; c < D; c++) { acc[c] += pj * v[at(b, j, p.keys, h, c)]; }
  }
  for (var c = 0u; c < D; c++) { out[at(b, i, p.queries, h, c)] = acc[c]; }
}`,
  };
}

/** Mirrors (and their refreshes) for the mirror kernels, when the profile and shape take them. */
function mirrorsFor(
  gpu: Gpu,
  s: AttentionShape & { mirrors?: boolean },
  t: Record<string, Tensor>,
) {
  if (s.mirrors === false || !gpu.profile.attention.mirrors || s.headDim % 4 !== 0) return null;
  const refresh: Dispatch[] = [];
  const views: Record<string, GPUTextureView> = {};
  for (const [name, tensor] of Object.entries(t)) {
    const m = mirror(gpu, tensor);
    refresh.push(m.refresh);
    views[name] = m.view;
  }
  return { refresh, views };
}

/**
 * out = softmax(q_h k_h^T * scale) v_h per head; probs saved. One dispatch (after the mirrors'
 * refreshes, on profiles with `attention.mirrors`); `mirrors: false` takes the buffer kernel.
 */
export async function attentionForward(
  gpu: Gpu,
  args:
    & { q: Tensor; k: Tensor; v: Tensor; out: Tensor; probs: Tensor; mirrors?: boolean }
    & AttentionShape,
): Promise<Dispatch[]> {
  const { q, k, v, out, probs } = args;
  checkShapes("attentionForward", args, { q, k, v, out, probs });
  const rows = args.batch * args.heads * args.queries;
  const wg = rowsPerGroup(gpu);
  const m = mirrorsFor(gpu, args, { q, k, v });
  if (m) {
    return [
      ...m.refresh,
      await createDispatch(
        gpu,
        attentionForwardMirrorKernel(wg, args),
        { ...m.views, out, probs },
        grid1d(rows, wg),
        paramValues(args, rows),
      ),
    ];
  }
  return [
    await createDispatch(
      gpu,
      attentionForwardKernel(wg, args),
      { q, k, v, out, probs },
      grid1d(rows, wg),
      paramValues(args, rows),
    ),
  ];
}

// Pass 1 of the backward, per query row: dP = dO V^T (stashed in dScores), D = rowsum(dP * P),
// dS = P * (dP - D) (overwrites the stash), dQ = dS K * scale.
function attentionBackwardQueryKernel(
  wg: number,
  s: AttentionShape,
  accumulate: boolean,
): KernelSpec {
  return {
    name: "attentionBackwardQuery",
    params,
    bindings: { k: "read", v: "read", probs: "read", dOut: "read", dq: "write", dScores: "write" },
    consts: { WG: wg, D: s.headDim, HEADS_TIMES_D: s.heads * s.headDim, ACCUMULATE: accumulate },
    code: indexing + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nq + i)
  if (row >= p.rows) { return; }
  let i = row % p.queries;
  let h = (row / p.queries) % p.heads;
  let b = row / (p.queries * p.heads);
  let prow = row * p.keys;

  var doi: array<f32, D>;
  for (var c = 0u; c < D; c++) { doi[c] = dOut[at(b, i, p.queries, h, c)]; }
  var rowdot = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    var dp = 0.0;
    for (var c = 0u; c < D; c++) { dp += doi[c] * v[at(b, j, p.keys, h, c)]; }
    dScores[prow + j] = dp;
    rowdot += dp * probs[prow + j];
  }
  // With one key P = 1 and rowdot == dP bit for bit, so dS (and dK) come out exactly 0.
  var acc: array<f32, D>;
  for (var j = 0u; j < p.keys; j++) {
    let ds = probs[prow + j] * (dScores[prow + j] - rowdot);
    dScores[prow + j] = ds;
    for (var c = 0u; c < D; c++) { acc[c] += ds * k[at(b, j, p.keys, h, c)]; }
  }
  for (var c = 0u; c < D; c++) {
    let o = at(b, i, p.queries, h, c);
    let g = acc[c] * p.scale;
    if (ACCUMULATE) { dq[o] = dq[o] + g; } else { dq[o] = g; }
  }
}`,
  };
}

// Pass 2, per key row: dV = P^T dO, dK = dS^T Q * scale, summing over the queries in a loop.
function attentionBackwardKeyKernel(
  wg: number,
  s: AttentionShape,
  accumulate: boolean,
): KernelSpec {
  return {
    name: "attentionBackwardKey",
    params,
    bindings: {
      q: "read",
      probs: "read",
      dOut: "read",
      dScores: "read",
      dk: "write",
      dv: "write",
    },
    consts: { WG: wg, D: s.headDim, HEADS_TIMES_D: s.heads * s.headDim, ACCUMULATE: accumulate },
    code: indexing + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nk + j)
  if (row >= p.rows) { return; }
  let j = row % p.keys;
  let h = (row / p.keys) % p.heads;
  let b = row / (p.keys * p.heads);
  let head = (b * p.heads + h) * p.queries;

  var accK: array<f32, D>;
  var accV: array<f32, D>;
  for (var i = 0u; i < p.queries; i++) {
    let s = (head + i) * p.keys + j;
    let pij = probs[s];
    let ds = dScores[s];
    for (var c = 0u; c < D; c++) {
      let o = at(b, i, p.queries, h, c);
      accV[c] += pij * dOut[o];
      accK[c] += ds * q[o];
    }
  }
  for (var c = 0u; c < D; c++) {
    let o = at(b, j, p.keys, h, c);
    let gk = accK[c] * p.scale;
    if (ACCUMULATE) {
      dk[o] = dk[o] + gk;
      dv[o] = dv[o] + accV[c];
    } else {
      dk[o] = gk;
      dv[o] = accV[c];
    }
  }
}`,
  };
}

/**
 * dq, dk, dv (=|+=) the gradients of attentionForward given dOut. Two dispatches. `dScores`
 * ([B, heads, Nq, Nk] scratch, an optional addition to the contract) carries dS from the query
 * pass to the key pass; when absent it is allocated here, once, at build time.
 */
export async function attentionBackward(
  gpu: Gpu,
  args: {
    q: Tensor;
    k: Tensor;
    v: Tensor;
    probs: Tensor;
    dOut: Tensor;
    dq: Tensor;
    dk: Tensor;
    dv: Tensor;
    accumulate?: boolean;
    dScores?: Tensor;
    mirrors?: boolean;
  } & AttentionShape,
): Promise<Dispatch[]> {
  const { q, k, v, probs, dOut, dq, dk, dv, accumulate = false } = args;
  checkShapes("attentionBackward", args, { q, k, v, out: dOut, probs, dq, dk, dv });
  const scoreCount = args.batch * args.heads * args.queries * args.keys;
  const dScores = args.dScores ?? createTensor(gpu, [scoreCount], "f32", "attention.dScores");
  if (dScores.size < scoreCount) {
    throw new Error(`attentionBackward: dScores has ${dScores.size} elements, needs ${scoreCount}`);
  }
  const wg = rowsPerGroup(gpu);
  const queryRows = args.batch * args.heads * args.queries;
  const keyRows = args.batch * args.heads * args.keys;
  const m = mirrorsFor(gpu, args, { q, k, v, dOut });
  if (m) {
    const { q: qm, k: km, v: vm, dOut: dOutM } = m.views;
    return [
      ...m.refresh,
      await createDispatch(
        gpu,
        attentionBackwardQueryMirrorKernel(wg, args, accumulate),
        { k: km, v: vm, probs, dOut: dOutM, dq, dScores },
        grid1d(queryRows, wg),
        paramValues(args, queryRows),
      ),
      await createDispatch(
        gpu,
        attentionBackwardKeyMirrorKernel(wg, args, accumulate),
        { q: qm, probs, dOut: dOutM, dScores, dk, dv },
        grid1d(keyRows, wg),
        paramValues(args, keyRows),
      ),
    ];
  }
  return [
    await createDispatch(
      gpu,
      attentionBackwardQueryKernel(wg, args, accumulate),
      { k, v, probs, dOut, dq, dScores },
      grid1d(queryRows, wg),
      paramValues(args, queryRows),
    ),
    await createDispatch(
      gpu,
      attentionBackwardKeyKernel(wg, args, accumulate),
      { q, probs, dOut, dScores, dk, dv },
      grid1d(keyRows, wg),
      paramValues(args, keyRows),
    ),
  ];
}

function checkShapes(op: string, s: AttentionShape, t: Record<string, Tensor>): void {
  const width = s.heads * s.headDim;
  const need: Record<string, number> = {
    q: s.batch * s.queries * width,
    out: s.batch * s.queries * width,
    dq: s.batch * s.queries * width,
    k: s.batch * s.keys * width,
    v: s.batch * s.keys * width,
    dk: s.batch * s.keys * width,
    dv: s.batch * s.keys * width,
    probs: s.batch * s.heads * s.queries * s.keys,
  };
  if (!(s.headDim >= 1 && Number.isInteger(s.headDim))) {
    throw new Error(`${op}: bad headDim ${s.headDim}`);
  }
  for (const [name, tensor] of Object.entries(t)) {
    if (tensor.size < need[name]) {
      throw new Error(`${op}: ${name} has ${tensor.size} elements, needs ${need[name]}`);
    }
  }
}

// ---- The mirror kernels (head dimension a multiple of 4): llvmpipe's ----
//
// The same per-row loops, reading q, k, v and dOut through their mirrors (gpu/ops/mirror.ts), a
// texel of four head columns at a time (a storage-buffer read is a per-lane loop on llvmpipe, a
// texel read one gather), with the head's texels unrolled; outputs are written as vec4s. The
// profile's `attention.mirrors` turns them on; the buffer kernels above stay as the reference.

/** WGSL: the texel index of column 4c4 of head h of token t of item b ([B, N, heads * D]). */
const mirrorIndexing = /* wgsl */ `
const WIDTH4 = HEADS_TIMES_D / 4u;
const D4 = D / 4u;
fn at4(b: u32, t: u32, n: u32, h: u32) -> u32 { return (b * n + t) * WIDTH4 + h * D4; }`;

const unroll = (d4: number, f: (c: number) => string) =>
  Array.from({ length: d4 }, (_, c) => f(c)).join("\n  ");

function attentionForwardMirrorKernel(wg: number, s: AttentionShape): KernelSpec {
  const d4 = s.headDim / 4;
  return {
    name: "attentionForward",
    params,
    bindings: {
      q: "mirror read",
      k: "mirror read",
      v: "mirror read",
      out: "write array<vec4<f32>>",
      probs: "write",
    },
    consts: { WG: wg, D: s.headDim, HEADS_TIMES_D: s.heads * s.headDim },
    code: mirrorIndexing + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nq + i)
  if (row >= p.rows) { return; }
  let i = row % p.queries;
  let h = (row / p.queries) % p.heads;
  let b = row / (p.queries * p.heads);
  let prow = row * p.keys;
  let qt = at4(b, i, p.queries, h);
  ${unroll(d4, (c) => `let q${c} = load_q(qt + ${c}u) * p.scale;`)}
  // Scores go into probs first; the row max keeps exp() in range (the largest term is exactly 1).
  var m = -3.4e38;
  for (var j = 0u; j < p.keys; j++) {
    let kt = at4(b, j, p.keys, h);
    let s = ${unroll(d4, (c) => `dot(q${c}, load_k(kt + ${c}u))`).split("\n  ").join(" + ")};
    probs[prow + j] = s;
    m = max(m, s);
  }
  var total = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    let e = exp(probs[prow + j] - m);
    probs[prow + j] = e;
    total += e;
  }
  let inv = 1.0 / total;
  ${unroll(d4, (c) => `var acc${c} = vec4f(0.0);`)}
  for (var j = 0u; j < p.keys; j++) {
    let pj = probs[prow + j] * inv;
    probs[prow + j] = pj;
    let vt = at4(b, j, p.keys, h);
    ${unroll(d4, (c) => `acc${c} += pj * load_v(vt + ${c}u);`)}
  }
  ${unroll(d4, (c) => `out[qt + ${c}u] = acc${c};`)}
}`,
  };
}

function attentionBackwardQueryMirrorKernel(
  wg: number,
  s: AttentionShape,
  accumulate: boolean,
): KernelSpec {
  const d4 = s.headDim / 4;
  return {
    name: "attentionBackwardQuery",
    params,
    bindings: {
      k: "mirror read",
      v: "mirror read",
      probs: "read",
      dOut: "mirror read",
      dq: "write array<vec4<f32>>",
      dScores: "write",
    },
    consts: { WG: wg, D: s.headDim, HEADS_TIMES_D: s.heads * s.headDim, ACCUMULATE: accumulate },
    code: mirrorIndexing + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nq + i)
  if (row >= p.rows) { return; }
  let i = row % p.queries;
  let h = (row / p.queries) % p.heads;
  let b = row / (p.queries * p.heads);
  let prow = row * p.keys;
  let qt = at4(b, i, p.queries, h);
  ${unroll(d4, (c) => `let do${c} = load_dOut(qt + ${c}u);`)}
  var rowdot = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    let vt = at4(b, j, p.keys, h);
    let dp = ${unroll(d4, (c) => `dot(do${c}, load_v(vt + ${c}u))`).split("\n  ").join(" + ")};
    dScores[prow + j] = dp;
    rowdot += dp * probs[prow + j];
  }
  // With one key P = 1 and rowdot == dP bit for bit, so dS (and dK) come out exactly 0.
  ${unroll(d4, (c) => `var acc${c} = vec4f(0.0);`)}
  for (var j = 0u; j < p.keys; j++) {
    let ds = probs[prow + j] * (dScores[prow + j] - rowdot);
    dScores[prow + j] = ds;
    let kt = at4(b, j, p.keys, h);
    ${unroll(d4, (c) => `acc${c} += ds * load_k(kt + ${c}u);`)}
  }
  ${
      unroll(d4, (c) =>
        `{ var g = acc${c} * p.scale; if (ACCUMULATE) { g += dq[qt + ${c}u]; } dq[qt + ${c}u] = g; }`)
    }
}`,
  };
}

function attentionBackwardKeyMirrorKernel(
  wg: number,
  s: AttentionShape,
  accumulate: boolean,
): KernelSpec {
  const d4 = s.headDim / 4;
  return {
    name: "attentionBackwardKey",
    params,
    bindings: {
      q: "mirror read",
      probs: "read",
      dOut: "mirror read",
      dScores: "read",
      dk: "write array<vec4<f32>>",
      dv: "write array<vec4<f32>>",
    },
    consts: { WG: wg, D: s.headDim, HEADS_TIMES_D: s.heads * s.headDim, ACCUMULATE: accumulate },
    code: mirrorIndexing + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nk + j)
  if (row >= p.rows) { return; }
  let j = row % p.keys;
  let h = (row / p.keys) % p.heads;
  let b = row / (p.keys * p.heads);
  let head = (b * p.heads + h) * p.queries;
  ${unroll(d4, (c) => `var accK${c} = vec4f(0.0); var accV${c} = vec4f(0.0);`)}
  for (var i = 0u; i < p.queries; i++) {
    let s = (head + i) * p.keys + j;
    let pij = probs[s];
    let ds = dScores[s];
    let qt = at4(b, i, p.queries, h);
    ${
      unroll(d4, (c) =>
        `accV${c} += pij * load_dOut(qt + ${c}u); accK${c} += ds * load_q(qt + ${c}u);`)
    }
  }
  let kt = at4(b, j, p.keys, h);
  ${
      unroll(d4, (c) =>
        `{ var gk = accK${c} * p.scale; var gv = accV${c};
    if (ACCUMULATE) { gk += dk[kt + ${c}u]; gv += dv[kt + ${c}u]; }
    dk[kt + ${c}u] = gk; dv[kt + ${c}u] = gv; }`)
    }
}`,
  };
}
