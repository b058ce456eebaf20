// conv2d backward: input, weight and bias gradients (shapes and conventions in conv2d.ts). These are
// the buffer kernels; CPU adapters use the texture paths of conv2d_cpu.ts / conv2d_cpu_gemm.ts
// where the packed operands fit the texture size limit.
//
// Input gradient: for stride 1 it is a stride-1 conv of dy with the flipped, transposed weights,
// so it reuses the direct forward kernel. For stride 2 the transposed conv's scatter is written as
// a gather: each invocation owns a 2x2 block of dx (rows 2m, 2m+1, columns 2n, 2n+1), whose four
// parities take exactly the taps (1,1), (1,{0,2}), ({0,2},1), ({0,2},{0,2}) of dy[m..m+1, n..n+1],
// so no lane computes a tap that does not exist.
// Weight gradient: a reduction over batch and positions for each (o, c, ky, kx). Lanes run over c,
// an invocation keeps OT output channels x k*k taps of partial sums and slides its k x k input
// window along the row (loading only the new columns); the dy values are uniform across the
// workgroup. The batch*rows reduction is split into chunks written to a scratch buffer and summed
// by a second pass, so small layers still give every core work.
import { type AdapterClass, type Gpu, usesTexturePath } from "../../runtime/device.ts";
import {
  conv2dGeometry,
  type Conv2dShape,
  convParams,
  directConv,
  each,
  expectSize,
  laneWidth,
  pairs,
  range,
} from "./conv2d.ts";
import { directConvTexture } from "./direct_texture.ts";
import { inputGradStride2Texture, weightGradTexture } from "./implicit_gemm_texture.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../../runtime/kernel.ts";
import { createTensor, type Tensor } from "../../runtime/tensor.ts";

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
 * adapter's appetite for parallel work (a few per core on llvmpipe, tens of thousands on a GPU).
 */
function splitRows(gpu: Gpu, rows: number, invocations: number) {
  const target = gpu.adapterClass === "cpu" ? 1024 : 65536;
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

/** dx (=|+=) dL/dx, dWeight = dL/dweight, dBias = dL/dbias for y = conv(x, weight) + bias. */
export async function conv2dBackward(
  gpu: Gpu,
  args: {
    x: Tensor;
    weight: Tensor;
    dy: Tensor;
    dx?: Tensor;
    dWeight: Tensor;
    dBias?: Tensor;
    shape: Conv2dShape;
    accumulateDx?: boolean;
    /** Forces a configuration (tests run both); default gpu.adapterClass. */
    config?: AdapterClass;
  },
): Promise<Dispatch[]> {
  const g = conv2dGeometry(args.shape);
  const { batch, inChannels, outChannels, height, width, kernel, stride } = g;
  const { x, weight, dy, dx, dWeight, dBias } = args;
  expectSize(x, batch * inChannels * height * width, "x");
  expectSize(weight, outChannels * inChannels * kernel * kernel, "weight");
  expectSize(dy, batch * outChannels * g.outHeight * g.outWidth, "dy");
  expectSize(dWeight, weight.size, "dWeight");
  if (dx) expectSize(dx, x.size, "dx");
  if (dBias) expectSize(dBias, outChannels, "dBias");
  const wg = laneWidth(gpu);
  const accumulate = !!args.accumulateDx;
  const params = {
    inC: inChannels,
    outC: outChannels,
    inH: height,
    inW: width,
    outH: g.outHeight,
    outW: g.outWidth,
  };
  const out: Dispatch[] = [];
  const cpu = usesTexturePath(gpu, args.config);
  const dims = {
    batch,
    inC: inChannels,
    outC: outChannels,
    inH: height,
    inW: width,
    outH: g.outHeight,
    outW: g.outWidth,
    kernel,
    stride,
  };

  if (dx && stride === 1) {
    // The input gradient's "output" is dx [B, Cin, H, W], its "input" dy [B, Cout, OH, OW].
    const transposed = {
      batch,
      inC: outChannels,
      outC: inChannels,
      inH: g.outHeight,
      inW: g.outWidth,
      outH: height,
      outW: width,
    };
    const packed = cpu && await directConvTexture(
      gpu,
      { ...transposed, kernel, stride: 1 },
      { x: dy, weight, y: dx },
      { transposed: true, accumulate },
    );
    out.push(
      ...packed || [
        await directConv(
          gpu,
          { kernel, stride: 1, transposed: true, bias: false, accumulate },
          { x: dy, weight, y: dx },
          transposed,
        ),
      ],
    );
  } else if (dx) {
    const packed = cpu && await inputGradStride2Texture(gpu, dims, { weight, dy, dx }, accumulate);
    const positions = Math.ceil(width / 2) * Math.ceil(height / 2);
    out.push(
      ...packed || [
        await createDispatch(
          gpu,
          inputGradStride2Kernel(accumulate, wg),
          { weight, dy, dx },
          [Math.ceil(positions / wg), Math.ceil(inChannels / CT), batch],
          { ...params, positions },
        ),
      ],
    );
  }

  const packed = cpu && await weightGradTexture(gpu, dims, { x, dy, dWeight, dBias });
  if (packed) return [...out, ...packed];
  const rows = batch * g.outHeight;
  const OT = weightTile(kernel);
  const wGroups: [number, number] = [Math.ceil(inChannels / wg), Math.ceil(outChannels / OT)];
  out.push(
    ...await splitReduction(
      gpu,
      weightGradKernel(kernel, stride, wg),
      { x, dy },
      dWeight,
      wGroups,
      { ...params, positions: 0, rows },
      wGroups[0] * wGroups[1] * wg,
    ),
  );
  if (dBias) {
    const bGroups: [number, number] = [Math.ceil(outChannels / wg), 1];
    out.push(
      ...await splitReduction(
        gpu,
        biasGradKernel(wg),
        { dy },
        dBias,
        bGroups,
        { ...params, positions: 0, rows },
        bGroups[0] * wg,
      ),
    );
  }
  return out;
}
