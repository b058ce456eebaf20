// The buffer technique of conv2d's gradients (shapes in geometry.ts), on kernels that read the
// storage buffers directly, with the profile's `conv2d.laneWidth` as their workgroup width. The
// stride-1 input gradient is a conv of dy and runs direct_buffer.ts's kernel; conv2d.ts chooses.
//
// Input gradient of a stride-2 conv: the transposed conv's scatter is written as a gather: each
// invocation owns a 2x2 block of dx (rows 2m, 2m+1, columns 2n, 2n+1), whose four parities take
// exactly the taps (1,1), (1,{0,2}), ({0,2},1), ({0,2},{0,2}) of dy[m..m+1, n..n+1], so no lane
// computes a tap that does not exist.
// Weight gradient: a reduction over batch and positions for each (o, c, ky, kx). Lanes run over c,
// an invocation keeps OT output channels x k*k taps of partial sums and slides its k x k input
// window along the row (loading only the new columns); the dy values are uniform across the
// workgroup. The batch*rows reduction is split into chunks written to a scratch buffer and summed
// by a second pass, so small layers still give every core work (the profile's split target).
import type { Gpu } from "../../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../../runtime/kernel.ts";
import { createTensor, type Tensor } from "../../runtime/tensor.ts";
import { each, pairs, range } from "../../runtime/wgsl.ts";
import { type ConvDims, convParams } from "./geometry.ts";

/** dx channels per invocation in the stride-2 input-gradient kernel. */
const CT = 4;

function inputGradStride2Kernel(accumulate: boolean, wg: number): KernelSpec {
  // Taps feeding each dx parity (R, C), as [dy row offset, dy column offset, ky, kx].
  const parity: Record<string, [number, number, number, number][]> = {
    "0_0": [[0, 0, 1, 1]],
    "0_1": [[0, 1, 1, 0], [0, 0, 1, 2]],
    "1_0": [[1, 0, 0, 1], [0, 0, 2, 1]],
    "1_1": [[1, 1, 0, 0], [1, 0, 0, 2], [0, 1, 2, 0], [0, 0, 2, 2]],
  };
  return {
    name: "conv2dInputGradStride2",
    params: convParams,
    bindings: { weight: "read", dy: "read", dx: "write" },
    consts: { WG: wg, CT, ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  if (gid.x >= p.positions) { return; }
  // Here "in" is the conv's input (dx) and "out" its output (dy).
  let halfW = (p.inW + 1u) / 2u;
  let n = gid.x % halfW;
  let m = gid.x / halfW;
  let b = wid.z;
  let cBase = wid.y * CT;
  let m1 = m + 1u < p.outH;
  let n1 = n + 1u < p.outW;
  let o0_0 = m * p.outW + n;
  let o0_1 = select(o0_0, o0_0 + 1u, n1);
  let o1_0 = select(o0_0, o0_0 + p.outW, m1);
  let o1_1 = select(o0_0, o0_0 + p.outW + 1u, m1 && n1);
  ${each(range(CT), (j) => `let c${j} = min(cBase + ${j}u, p.inC - 1u);`)}
  ${each(pairs(2, 2), ([r, c]) => each(range(CT), (j) => `var a${r}_${c}_${j} = 0.0;`))}
  let plane = p.outH * p.outW;
  var base = b * p.outC * plane;
  for (var o = 0u; o < p.outC; o++) {
    let d0_0 = dy[base + o0_0];
    let d0_1 = select(0.0, dy[base + o0_1], n1);
    let d1_0 = select(0.0, dy[base + o1_0], m1);
    let d1_1 = select(0.0, dy[base + o1_1], m1 && n1);
    ${
      each(range(CT), (j) =>
        `{ let wb = (o * p.inC + c${j}) * 9u;
      ${each(pairs(3, 3), ([ky, kx]) => `let w${ky}${kx} = weight[wb + ${ky * 3 + kx}u];`)}
      ${
          each(Object.entries(parity), ([rc, list]) =>
            list.map(([dr, dc, ky, kx]) =>
              `a${rc}_${j} = fma(d${dr}_${dc}, w${ky}${kx}, a${rc}_${j});`
            ).join(" "))
        } }`)
    }
    base += plane;
  }
  ${
      each(pairs(2, 2), ([r, c]) =>
        each(range(CT), (j) =>
          `if (2u * m + ${r}u < p.inH && 2u * n + ${c}u < p.inW && cBase + ${j}u < p.inC) {
    let i = ((b * p.inC + c${j}) * p.inH + 2u * m + ${r}u) * p.inW + 2u * n + ${c}u;
    if (ACCUMULATE) { dx[i] = dx[i] + a${r}_${c}_${j}; } else { dx[i] = a${r}_${c}_${j}; }
  }`))
    }
}`,
  };
}

/** Output channels per invocation in the weight-gradient kernel. */
const weightTile = (kernel: number) => kernel === 3 ? 8 : 16;

function weightGradKernel(K: number, S: number, wg: number): KernelSpec {
  const P = (K - 1) / 2, KK = K * K, OT = weightTile(K);
  const window = pairs(K, K); // [ky, kx]
  const load = (ky: number, kx: number, ox: string) =>
    `{ let ix = i32(${ox} * ${S}u) + ${kx - P};
      v${ky}_${kx} = select(0.0, x[xb + select(0u, u32(iy${ky} * inW + ix), rm${ky} && ix >= 0 && ix < inW)], rm${ky} && ix >= 0 && ix < inW); }`;
  return {
    name: `conv2dWeightGrad${K}x${K}s${S}`,
    params: { ...convParams, rowsPerSplit: "u32", rows: "u32" },
    bindings: { x: "read", dy: "read", out: "write" },
    consts: { WG: wg, OT, KK },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  let c = min(gid.x, p.inC - 1u);
  let oBase = wid.y * OT;
  let split = wid.z;
  let inW = i32(p.inW);
  ${each(range(OT), (j) => `let o${j} = min(oBase + ${j}u, p.outC - 1u);`)}
  ${each(range(OT), (j) => each(window, ([ky, kx]) => `var a${j}_${ky}_${kx} = 0.0;`))}
  ${each(window, ([ky, kx]) => `var v${ky}_${kx} = 0.0;`)}
  let rowEnd = min((split + 1u) * p.rowsPerSplit, p.rows);
  for (var row = split * p.rowsPerSplit; row < rowEnd; row++) {
    let b = row / p.outH;
    let oy = row % p.outH;
    let xb = (b * p.inC + c) * p.inH * p.inW;
    ${
      each(range(K), (ky) =>
        `let iy${ky} = i32(oy * ${S}u) + ${ky - P};
    let rm${ky} = iy${ky} >= 0 && iy${ky} < i32(p.inH);`)
    }
    ${each(window, ([ky, kx]) => load(ky, kx, "0u"))}
    ${each(range(OT), (j) => `let g${j}base = ((b * p.outC + o${j}) * p.outH + oy) * p.outW;`)}
    for (var ox = 0u; ox < p.outW; ox++) {
      ${each(range(OT), (j) => `let g${j} = dy[g${j}base + ox];`)}
      ${
      each(range(OT), (j) =>
        each(window, ([ky, kx]) =>
          `a${j}_${ky}_${kx} = fma(g${j}, v${ky}_${kx}, a${j}_${ky}_${kx});`))
    }
      // Slide the window one output column: keep the columns that overlap, load the rest.
      ${
      each(window, ([ky, kx]) =>
        kx + S < K ? `v${ky}_${kx} = v${ky}_${kx + S};` : load(ky, kx, "(ox + 1u)"))
    }
    }
  }
  if (gid.x >= p.inC) { return; }
  let outBase = split * p.outC * p.inC * KK;
  ${
      each(range(OT), (j) =>
        `if (oBase + ${j}u < p.outC) {
    ${
          each(window, ([ky, kx]) =>
            `out[outBase + (o${j} * p.inC + c) * KK + ${ky * K + kx}u] = a${j}_${ky}_${kx};`)
        }
  }`)
    }
}`,
  };
}

const biasGradKernel = (wg: number): KernelSpec => ({
  name: "conv2dBiasGrad",
  params: { ...convParams, rowsPerSplit: "u32", rows: "u32" },
  bindings: { dy: "read", out: "write" },
  consts: { WG: wg },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  if (gid.x >= p.outC) { return; }
  let o = gid.x;
  let split = wid.z;
  var s = 0.0;
  let rowEnd = min((split + 1u) * p.rowsPerSplit, p.rows);
  for (var row = split * p.rowsPerSplit; row < rowEnd; row++) {
    let base = ((row / p.outH * p.outC + o) * p.outH + row % p.outH) * p.outW;
    for (var ox = 0u; ox < p.outW; ox++) { s += dy[base + ox]; }
  }
  out[split * p.outC + o] = s;
}`,
});

const SUM_WG = 64;
const sumSplitsKernel: KernelSpec = {
  name: "conv2dSumSplits",
  params: { n: "u32", splits: "u32" },
  bindings: { partial: "read", out: "write" },
  consts: { WG: SUM_WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.splits; k++) { s += partial[k * p.n + i]; }
  out[i] = s;
}`,
};

/**
 * How many chunks to split `rows` reduction rows into so that `invocations` x chunks reaches the
 * profile's `weightGradSplitTarget` (a few per core on llvmpipe, tens of thousands on a GPU).
 */
function splitRows(gpu: Gpu, rows: number, invocations: number) {
  const target = gpu.profile.conv2d.weightGradSplitTarget;
  const wanted = Math.min(rows, Math.max(1, Math.ceil(target / invocations)));
  const rowsPerSplit = Math.ceil(rows / wanted);
  return { rowsPerSplit, splits: Math.ceil(rows / rowsPerSplit) };
}

/** A reduction over rows, split into chunks summed by a second pass when that pays. */
async function splitReduction(
  gpu: Gpu,
  spec: KernelSpec,
  buffers: Record<string, Tensor>,
  out: Tensor,
  groups: [number, number],
  params: Record<string, number>,
  invocations: number,
): Promise<Dispatch[]> {
  const { rowsPerSplit, splits } = splitRows(gpu, params.rows, invocations);
  const all = { ...params, rowsPerSplit };
  if (splits === 1) {
    return [await createDispatch(gpu, spec, { ...buffers, out }, [...groups, 1], all)];
  }
  // Allocated once, when the op is built; the step reuses it.
  const partial = createTensor(gpu, [splits, out.size], "f32", `${spec.name}.partial`);
  return [
    await createDispatch(gpu, spec, { ...buffers, out: partial }, [...groups, splits], all),
    await createDispatch(gpu, sumSplitsKernel, { partial, out }, grid1d(out.size, SUM_WG), {
      n: out.size,
      splits,
    }),
  ];
}

/** The buffer kernels' parameters for a conv (the conv's own in and out). */
const paramsOf = (d: ConvDims) => ({
  inC: d.inC,
  outC: d.outC,
  inH: d.inH,
  inW: d.inW,
  outH: d.outH,
  outW: d.outW,
});

/** dx (=|+=) the input gradient of a kernel-3 stride-2 conv: one dispatch. */
export async function inputGradStride2Buffer(
  gpu: Gpu,
  d: ConvDims,
  args: { weight: Tensor; dy: Tensor; dx: Tensor },
  accumulate: boolean,
): Promise<Dispatch[]> {
  const wg = gpu.profile.conv2d.laneWidth;
  const positions = Math.ceil(d.inW / 2) * Math.ceil(d.inH / 2);
  return [
    await createDispatch(
      gpu,
      inputGradStride2Kernel(accumulate, wg),
      args,
      [Math.ceil(positions / wg), Math.ceil(d.inC / CT), d.batch],
      { ...paramsOf(d), positions },
    ),
  ];
}

/** dWeight = dL/dweight and dBias = dL/dbias (overwritten): split reductions over the rows. */
export async function weightGradBuffer(
  gpu: Gpu,
  d: ConvDims,
  args: { x: Tensor; dy: Tensor; dWeight: Tensor; dBias?: Tensor },
): Promise<Dispatch[]> {
  const { x, dy, dWeight, dBias } = args;
  const wg = gpu.profile.conv2d.laneWidth;
  const rows = d.batch * d.outH;
  const OT = weightTile(d.kernel);
  const wGroups: [number, number] = [Math.ceil(d.inC / wg), Math.ceil(d.outC / OT)];
  const out = await splitReduction(
    gpu,
    weightGradKernel(d.kernel, d.stride, wg),
    { x, dy },
    dWeight,
    wGroups,
    { ...paramsOf(d), positions: 0, rows },
    wGroups[0] * wGroups[1] * wg,
  );
  if (dBias) {
    const bGroups: [number, number] = [Math.ceil(d.outC / wg), 1];
    out.push(
      ...await splitReduction(
        gpu,
        biasGradKernel(wg),
        { dy },
        dBias,
        bGroups,
        { ...paramsOf(d), positions: 0, rows },
        bGroups[0] * wg,
      ),
    );
  }
  return out;
}
