// The implicit-GEMM texture technique of conv2d's gradients (conv2d.ts chooses; packed layouts in
// direct_texture.ts), on matmul's texture GEMM kernel (gpu/ops/matmul/texture.ts) with the
// profile's `textureTile` and `implicitGemmSplitK`:
// - weight and bias gradients: dW[o, (tap, c)] = sum_k dy[o, k] col[k, (tap, c)] over positions
//   k = (b, oy, ox), with col's rows read straight from x's padded texture (no im2col buffer) and
//   an extra column of ones that gives dBias; a last pass reorders (tap, c) into dW's [o, c, tap];
// - the stride-2 input gradient: dcol[(c, tap), k] = sum_o w[o, c, tap] dy[o, k], then col2im
//   gathers the taps that land on each dx element.
import { type Gpu, operandPlan } from "../../runtime/device.ts";
import { createDispatch, type Dispatch, hoisted, type KernelSpec } from "../../runtime/kernel.ts";
import { createTensor, type Tensor } from "../../runtime/tensor.ts";
import { each, pairs, range, XYZW } from "../../runtime/wgsl.ts";
import { chooseSplits, kChunks } from "../matmul/matmul.ts";
import {
  type OperandTexture,
  operandTexture,
  textureGemm,
  type TextureOperandB,
  texturesFit,
  type TileEpilogue,
} from "../matmul/texture.ts";
import { mirror } from "../mirror.ts";
import { type PackedInput, packInput, paddedInput } from "./direct_texture.ts";
import { type ConvDims, sameConvDims } from "./geometry.ts";

/**
 * t[texel (i4, o)] = v[b, o, pos] for the four flat indices i = 4 * i4 + q = b * plane + pos of a
 * [B, channels, plane] tensor: a row per channel, positions of all items along it, zeros past the
 * ends (dy as the GEMMs' A or B operand).
 */
const packChannelRowsKernel: KernelSpec = {
  name: "conv2dPackChannelRows",
  params: {
    channels: "u32",
    plane: "u32",
    count: "u32",
    width: "u32",
    height: "u32",
    tPitch: "u32",
  },
  bindings: { v: "read", t: "operand write" },
  code: /* wgsl */ `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  let o = gid.y;
  var v4 = vec4f(0.0);
  if (o < p.channels) {
    // One division per texel: llvmpipe splits vector integer divisions into scalar ones.
    let i0 = gid.x * 4u;
    var b = i0 / p.plane;
    var pos = i0 - b * p.plane;
    for (var q = 0u; q < 4u; q++) {
      if (i0 + q < p.count) { v4[q] = v[(b * p.channels + o) * p.plane + pos]; }
      pos += 1u;
      if (pos == p.plane) { pos = 0u; b += 1u; }
    }
  }
  store_t(gid.xy, v4);
}`,
};

/**
 * packChannelRowsKernel for a plane of a multiple of 4, through v's mirror (gpu/ops/mirror.ts): one
 * load and one store per texel on a 3-D grid (x: texel of the plane, y: channel, z: item). The
 * rows past the channels and the texels past the positions stay the staging buffer's zeros.
 */
const packChannelRowsMirrorKernel: KernelSpec = {
  name: "conv2dPackChannelRows",
  params: { channels: "u32", plane4: "u32", tPitch: "u32" },
  bindings: { v: "mirror read", t: "operand write" },
  code: /* wgsl */ `
@compute @workgroup_size(16, 4) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.plane4 || gid.y >= p.channels) { return; }
  let b = gid.z;
  let texel = load_v((b * p.channels + gid.y) * p.plane4 + gid.x);
  store_t(vec2u(b * p.plane4 + gid.x, gid.y), texel);
}`,
};

async function packChannelRows(
  gpu: Gpu,
  v: Tensor,
  t: OperandTexture,
  d: { channels: number; plane: number; count: number },
): Promise<Dispatch[]> {
  const [width, height] = t.size;
  if (d.plane % 4 === 0) {
    const vm = mirror(gpu, v);
    const plane4 = d.plane / 4;
    return [
      vm.refresh,
      await createDispatch(
        gpu,
        packChannelRowsMirrorKernel,
        { v: vm.view, t: t.staging },
        [Math.ceil(plane4 / 16), Math.ceil(d.channels / 4), d.count / d.plane],
        { channels: d.channels, plane4, tPitch: t.pitch },
      ),
      t.upload,
    ];
  }
  return [
    await createDispatch(
      gpu,
      packChannelRowsKernel,
      { v, t: t.staging },
      [Math.ceil(width / 8), Math.ceil(height / 8)],
      { ...d, width, height, tPitch: t.pitch },
    ),
    t.upload,
  ];
}

/**
 * im2col's rows read straight from the padded input texture, as the GEMM's B operand: row k is
 * output position (b, oy, ox), texel column n4 = tap * C4 + c4 the input texel under tap (ky, kx);
 * column KK * C4 (and the padding past it) reads the texture's extra (1, 0, 0, 0) texel, so that
 * column of the product is dBias. Lanes run along n4: their tap offsets are fixed per invocation,
 * and the position (uniform across lanes) advances by increments, without divisions (llvmpipe
 * splits vector integer divisions into scalar ones).
 */
function im2colOperand(K: number, S: number, TN: number): TextureOperandB {
  const J = TN / 4;
  const setup = range(J).map((j) =>
    `let n4_${j} = nt + ${j}u;
  let tap${j} = n4_${j} / p.cvC4;
  let isTap${j} = n4_${j} < p.cvTaps4;
  let use${j} = select(0u, 1u, isTap${j});
  let off${j} = select(vec2u(p.cvOnes, 0u),
                       vec2u(tap${j} % ${K}u * p.cvC4 + n4_${j} % p.cvC4, tap${j} / ${K}u), isTap${j});`
  ).join("\n  ");
  const step = range(4).map((kk) =>
    `  let at${kk} = vec2u(at.x, min(at.y, p.cvLastRow));
    ox += 1u;
    at.x += p.cvColStep;
    if (ox == p.cvOutW) {
      ox = 0u;
      at.x = 0u;
      oy += 1u;
      at.y += ${S}u;
      if (oy == p.cvOutH) { oy = 0u; at.y += p.cvItemSkip; }
    }`
  ).join("\n");
  return {
    name: `im2col${K}s${S}`,
    params: {
      cvC4: "u32",
      cvTaps4: "u32",
      cvOnes: "u32",
      cvPlane: "u32",
      cvOutW: "u32",
      cvOutH: "u32",
      cvColStep: "u32",
      cvItemSkip: "u32",
      cvRows: "u32",
      cvLastRow: "u32",
    },
    setup: `${setup}
  // Position of row k4Begin * 4, then advanced one row at a time.
  let kStart = k4Begin * 4u;
  let bStart = kStart / p.cvPlane;
  var oy = (kStart - bStart * p.cvPlane) / p.cvOutW;
  var ox = kStart - bStart * p.cvPlane - oy * p.cvOutW;
  var at = vec2u(ox * p.cvColStep, bStart * p.cvRows + oy * ${S}u);`,
    step,
    load: (kk, j) => `textureLoad(tB, at${kk} * use${j} + off${j})`,
  };
}

/**
 * dW[o, c, tap] = sum over splits of g[s, o, tap * C4 * 4 + c]; dBias[o] from column KK * C4 * 4.
 * Grid [c, o] (plus one o row for dBias), taps in a loop: lanes read g contiguously, no lane divides
 * (llvmpipe splits vector integer divisions into scalar ones), and workgroups are few (each costs
 * llvmpipe a launch).
 */
const weightGradFinishKernel = (bias: boolean): KernelSpec => ({
  name: "conv2dWeightGradFinish",
  params: { inC: "u32", outC: "u32", KK: "u32", N: "u32", splits: "u32" },
  bindings: bias
    ? { g: "read", dWeight: "write", dBias: "write" }
    : { g: "read", dWeight: "write" },
  consts: { WG: 64 },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x;
  let o = gid.y;
  let biasCol = p.N - 4u;
  if (o < p.outC) {
    if (c >= p.inC) { return; }
    for (var tap = 0u; tap < p.KK; tap++) {
      var s = 0.0;
      let col = o * p.N + tap * (biasCol / p.KK) + c;
      for (var q = 0u; q < p.splits; q++) { s += g[q * p.outC * p.N + col]; }
      dWeight[(o * p.inC + c) * p.KK + tap] = s;
    }
    return;
  }
  ${
    bias
      ? `for (var b = c; b < p.outC; b += nwg.x * WG) {
    var s = 0.0;
    for (var q = 0u; q < p.splits; q++) { s += g[(q * p.outC + b) * p.N + biasCol]; }
    dBias[b] = s;
  }`
      : ""
  }
}`,
});

/**
 * The weight gradient GEMM's own store when K is not split: column n = 4 n4 + q of row o is
 * dW[o, 4 (n4 - tap * C4) + q, tap] for a tap texel (tap = n4 / C4, from im2colOperand's setup),
 * and column KK * C4 * 4 is dBias[o]; the padded channels and the ones texel's other columns are
 * dropped. What conv2dWeightGradFinish does after a split GEMM, without its pass over g.
 */
const weightGradEpilogue = (bias: boolean): TileEpilogue => ({
  name: "dW",
  bindings: bias ? { dWeight: "write", dBias: "write" } : { dWeight: "write" },
  params: { dwInC: "u32", dwKK: "u32" },
  code: (TM, J) =>
    range(TM).flatMap((i) => [
      `if (m0 + ${i}u < p.M) {`,
      `  let o${i} = m0 + ${i}u;`,
      ...range(J).flatMap((j) => [
        `  if (isTap${j}) {`,
        `    let c${i}_${j} = 4u * (n4_${j} - tap${j} * p.cvC4);`,
        ...range(4).map((q) =>
          `    if (c${i}_${j} + ${q}u < p.dwInC) { dWeight[(o${i} * p.dwInC + c${i}_${j} + ${q}u) * p.dwKK + tap${j}] = acc${i}_${j}.${
            XYZW[q]
          }; }`
        ),
        bias ? `  } else if (n4_${j} == p.cvTaps4) { dBias[o${i}] = acc${i}_${j}.x; }` : "  }",
      ]),
      "}",
    ]),
});

/** K splits (as matmul's) so that a GEMM with few output tiles still gives every core work. */
function gemmSplits(gpu: Gpu, M: number, N: number, K4: number) {
  const plan = operandPlan(gpu);
  const tiles = Math.ceil(M / plan.textureTile.TM) * Math.ceil(N / plan.textureTile.TN);
  const { splits, kChunk } = kChunks(
    4 * K4,
    chooseSplits(tiles, 4 * K4, plan.conv2d.implicitGemmSplitK),
  );
  return { splits, kChunk4: kChunk / 4 };
}

/**
 * dWeight = dL/dweight and dBias = dL/dbias as one implicit GEMM (see the top of the file). Null
 * when a texture would exceed the size limit.
 */
export async function weightGradTexture(
  gpu: Gpu,
  d: ConvDims,
  args: { x: Tensor; dy: Tensor; dWeight: Tensor; dBias?: Tensor },
  forward?: PackedInput,
): Promise<Dispatch[] | null> {
  const K = d.kernel, S = d.stride, P = (K - 1) / 2, KK = K * K;
  // The forward's packed x when it is this conv's (its rows and columns cover the windows).
  const reuse = forward && forward.x === args.x && sameConvDims(forward.dims, d)
    ? forward
    : undefined;
  const input = reuse?.layout ?? paddedInput(d, (d.outH - 1) * S + K, (d.outW - 1) * S + K, 1);
  const plane = d.outH * d.outW, count = d.batch * plane;
  const M = d.outC, N = KK * input.C4 * 4 + 4, K4 = Math.ceil(count / 4);
  const tile = operandPlan(gpu).textureTile;
  const aSize = [K4, Math.ceil(M / tile.TM) * tile.TM];
  if (!texturesFit(gpu, input.size, aSize)) return null;
  const tx = reuse?.tx ?? operandTexture(gpu, input.size, "conv2d.packedInput");
  const tA = operandTexture(gpu, aSize, "conv2d.packedDy");
  const { splits, kChunk4 } = gemmSplits(gpu, M, N, K4);
  // Unsplit, the GEMM stores dWeight and dBias itself; split, its partial sums go to g and the
  // finish kernel adds them up.
  const outputs: Record<string, Tensor> = { dWeight: args.dWeight };
  if (args.dBias) outputs.dBias = args.dBias;
  const g = splits > 1 ? createTensor(gpu, [splits, M, N], "f32", "conv2d.weightGradGemm") : null;
  const finish = g
    ? [
      await createDispatch(
        gpu,
        weightGradFinishKernel(!!args.dBias),
        { g, ...outputs },
        [Math.ceil(d.inC / 64), d.outC + (args.dBias ? 1 : 0)],
        { inC: d.inC, outC: d.outC, KK, N, splits },
      ),
    ]
    : [];
  return [
    ...reuse
      ? []
      : await packInput(gpu, args.x, tx, { C: d.inC, H: d.inH, W: d.inW, pad: P }, input),
    ...await packChannelRows(gpu, args.dy, tA, { channels: d.outC, plane, count }),
    await textureGemm(gpu, {
      tA: tA.view,
      tB: tx.view,
      c: g ?? { epilogue: weightGradEpilogue(!!args.dBias), buffers: outputs },
      M,
      N,
      K4,
      itemRowsA: 0,
      itemRowsB: 0,
      strideC: M * N,
      items: 1,
      splits,
      kChunk4,
      flags: { bias: false, accumulate: false, vecC: true },
      operandB: im2colOperand(K, S, tile.TN),
      operandParams: {
        cvC4: input.C4,
        cvTaps4: KK * input.C4,
        cvOnes: input.cols * input.C4,
        cvPlane: plane,
        cvOutW: d.outW,
        cvOutH: d.outH,
        cvColStep: S * input.C4,
        cvItemSkip: input.rowsPerItem - d.outH * S,
        cvRows: input.rowsPerItem,
        cvLastRow: d.batch * input.rowsPerItem - 1,
        ...(g ? {} : { dwInC: d.inC, dwKK: KK }),
      },
    }),
    ...finish,
  ];
}

/** tA[texel (o4, m)] = w[4 * o4 + q, m] for w viewed as [O, M]: A = weight^T, zero-padded. */
const packWeightColumnsKernel: KernelSpec = {
  name: "conv2dPackWeightColumns",
  params: { O: "u32", M: "u32", width: "u32", height: "u32", tPitch: "u32" },
  bindings: { w: "read", t: "operand write" },
  code: /* wgsl */ `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  var v = vec4f(0.0);
  if (gid.y < p.M) {
    for (var q = 0u; q < 4u; q++) {
      let o = gid.x * 4u + q;
      if (o < p.O) { v[q] = w[o * p.M + gid.y]; }
    }
  }
  store_t(gid.xy, v);
}`,
};

/**
 * dx (=|+=) col2im(dcol) for kernel 3, stride 2. Each invocation owns the 2x2 block dx[2m..2m+1,
 * 2n..2n+1], whose four parities take exactly the taps (1,1), (1,{0,2}), ({0,2},1), ({0,2},{0,2})
 * of dcol positions (m..m+1, n..n+1): nine reads for four outputs, and no lane skips a tap another
 * lane takes (a per-element gather loop diverges, and llvmpipe pays for every lane's loads).
 */
const col2imKernel = (accumulate: boolean): KernelSpec => {
  // Taps feeding each dx parity (R, C), as [dcol row offset, dcol column offset, ky, kx].
  const parity: Record<string, [number, number, number, number][]> = {
    "0_0": [[0, 0, 1, 1]],
    "0_1": [[0, 1, 1, 0], [0, 0, 1, 2]],
    "1_0": [[1, 0, 0, 1], [0, 0, 2, 1]],
    "1_1": [[1, 1, 0, 0], [1, 0, 0, 2], [0, 1, 2, 0], [0, 0, 2, 2]],
  };
  const read = ([dr, dc, ky, kx]: number[]) => {
    const mask = [dr ? "m1" : "", dc ? "n1" : ""].filter(Boolean).join(" && ");
    const at = `(c * 9u + ${ky * 3 + kx}u) * p.N + pos + ${dr ? "p.outW" : "0u"} + ${dc}u`;
    return mask
      ? `select(0.0, g[q * p.splitStride + select(0u, ${at}, ${mask})], ${mask})`
      : `g[q * p.splitStride + ${at}]`;
  };
  return {
    name: "conv2dCol2im",
    params: {
      C: "u32",
      H: "u32",
      W: "u32",
      outH: "u32",
      outW: "u32",
      N: "u32",
      splitStride: "u32",
      splits: "u32",
    },
    bindings: { g: "read", dx: "write" },
    consts: { ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  // Block (m, n) of plane (b, c); dcol's columns are (b, oy, ox) with oy < outH = ceil(H / 2).
  // A 3-D grid: llvmpipe splits vector integer divisions into scalar ones.
  let n = gid.x;
  let m = gid.y;
  if (n >= p.outW || m >= p.outH) { return; }
  let b = gid.z / p.C;
  let c = gid.z - b * p.C;
  let m1 = m + 1u < p.outH;
  let n1 = n + 1u < p.outW;
  let pos = (b * p.outH + m) * p.outW + n;
  ${each(Object.keys(parity), (rc) => `var s${rc} = 0.0;`)}
  for (var q = 0u; q < p.splits; q++) {
    ${each(Object.entries(parity), ([rc, taps]) => `s${rc} += ${taps.map(read).join(" + ")};`)}
  }
  ${
      each(pairs(2, 2), ([r, t]) =>
        `if (2u * m + ${r}u < p.H && 2u * n + ${t}u < p.W) {
    let o = ((b * p.C + c) * p.H + 2u * m + ${r}u) * p.W + 2u * n + ${t}u;
    var v = s${r}_${t};
    if (ACCUMULATE) { v += dx[o]; }
    dx[o] = v;
  }`)
    }
}`,
  };
};

/**
 * dx (=|+=) the input gradient of a kernel-3 stride-2 conv: dcol = weight^T dy on the texture GEMM,
 * then col2im (see the top of the file). Null when a texture would exceed the size limit.
 */
export async function inputGradStride2Texture(
  gpu: Gpu,
  d: ConvDims,
  args: { weight: Tensor; dy: Tensor; dx: Tensor },
  accumulate: boolean,
): Promise<Dispatch[] | null> {
  const KK = 9, plane = d.outH * d.outW;
  const M = d.inC * KK, N = d.batch * plane, K4 = Math.ceil(d.outC / 4);
  const tile = operandPlan(gpu).textureTile;
  const aSize = [K4, Math.ceil(M / tile.TM) * tile.TM];
  const bSize = [Math.ceil(N / tile.TN) * tile.TN / 4, K4 * 4];
  const planes = d.batch * d.inC;
  if (!texturesFit(gpu, aSize, bSize) || planes > gpu.limits.maxComputeWorkgroupsPerDimension) {
    return null;
  }
  const tA = operandTexture(gpu, aSize, "conv2d.packedWeightT");
  const tB = operandTexture(gpu, bSize, "conv2d.packedDy");
  const { splits, kChunk4 } = gemmSplits(gpu, M, N, K4);
  const g = createTensor(gpu, [splits, M, N], "f32", "conv2d.dcol");
  return [
    ...hoisted([
      await createDispatch(
        gpu,
        packWeightColumnsKernel,
        { w: args.weight, t: tA.staging },
        [Math.ceil(aSize[0] / 8), Math.ceil(aSize[1] / 8)],
        { O: d.outC, M, width: aSize[0], height: aSize[1], tPitch: tA.pitch },
      ),
      tA.upload,
    ]),
    ...await packChannelRows(gpu, args.dy, tB, { channels: d.outC, plane, count: N }),
    await textureGemm(gpu, {
      tA: tA.view,
      tB: tB.view,
      c: g,
      M,
      N,
      K4,
      itemRowsA: 0,
      itemRowsB: 0,
      strideC: M * N,
      items: 1,
      splits,
      kChunk4,
      flags: { bias: false, accumulate: false, vecC: N % 4 === 0 },
    }),
    await createDispatch(gpu, col2imKernel(accumulate), { g, dx: args.dx }, [
      Math.ceil(d.outW / 8),
      Math.ceil(d.outH / 8),
      planes,
    ], {
      C: d.inC,
      H: d.inH,
      W: d.inW,
      outH: d.outH,
      outW: d.outW,
      N,
      splitStride: M * N,
      splits,
    }),
  ];
}
