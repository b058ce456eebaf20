// The direct texture technique of conv2d (shapes in geometry.ts; conv2d.ts chooses): operands are
// packed into storage textures (rgba32float, or rgba16float for f16 operands), then the convolution
// reads only textures (see gpu/ops/matmul/texture.ts for why: llvmpipe compiles each storage-buffer
// read as a per-lane loop, a storage-texture read as one vectorised gather). The packs read every
// input element once; a texture store costs llvmpipe ~100+ cycles a texel, so they are not free
// (~10-15% of a conv), but far cheaper than the storage reads they replace.
//
// Forward and the stride-1 input gradient (here): a direct kernel over a padded input texture
//   tx: row b * rowsPerItem + iy + P, texel column (ix + P) * C4 + c4 = x[b, 4c4..4c4+3, iy, ix]
// (zeros in the padding, past the last channel and under the last tiles' overhang, so the kernel
// needs no masks) and a weight texture
//   tw: row oc, texel column tap * C4 + c4 = weight[oc, 4c4..4c4+3, tap]
// (for the input gradient the pack flips the taps and swaps in and out channels).
// The weight gradient and the stride-2 input gradient are implicit GEMMs: implicit_gemm_texture.ts,
// which packs its input with packInput below.
import type { Gpu } from "../../runtime/device.ts";
import { createDispatch, type Dispatch, type KernelSpec } from "../../runtime/kernel.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import { each, pairs, range, XYZW } from "../../runtime/wgsl.ts";
import { storageTexture, texturesFit } from "../matmul/texture.ts";
import type { ConvDims } from "./geometry.ts";

/** Output tile per invocation: ROWS x COLS positions x OC output channels (lanes run over tiles). */
function directTile(kernel: number, stride: number) {
  if (kernel === 1) return { ROWS: 4, COLS: 4, OC: 8 };
  return stride === 1 ? { ROWS: 4, COLS: 4, OC: 8 } : { ROWS: 2, COLS: 4, OC: 8 };
}
const WG = 8;

/** Padded input texture geometry (`extra` texel columns past the image) for reading `rows` x `cols` padded positions per item. */
export function paddedInput(d: ConvDims, rows: number, cols: number, extra = 0) {
  const C4 = Math.ceil(d.inC / 4);
  return { C4, rowsPerItem: rows, cols, size: [cols * C4 + extra, d.batch * rows] };
}

const packInputKernel: KernelSpec = {
  name: "conv2dPackInput",
  params: {
    C: "u32",
    H: "u32",
    W: "u32",
    C4: "u32",
    pad: "u32",
    rowsPerItem: "u32",
    imageWidth: "u32",
    width: "u32",
    height: "u32",
  },
  bindings: { x: "read", t: "texture write" },
  code: /* wgsl */ `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  let px = gid.x / p.C4;
  let c = (gid.x - px * p.C4) * 4u;
  let b = gid.y / p.rowsPerItem;
  let ix = i32(px) - i32(p.pad);
  let iy = i32(gid.y - b * p.rowsPerItem) - i32(p.pad);
  var v = vec4f(0.0);
  if (gid.x >= p.imageWidth) {
    // The weight gradient's extra texel (1, 0, 0, 0): its GEMM column is dBias.
    v.x = select(0.0, 1.0, gid.x == p.imageWidth && gid.y == 0u);
  } else if (ix >= 0 && ix < i32(p.W) && iy >= 0 && iy < i32(p.H)) {
    let plane = p.H * p.W;
    let base = (b * p.C + c) * plane + u32(iy) * p.W + u32(ix);
    for (var q = 0u; q < 4u; q++) {
      if (c + q < p.C) { v[q] = x[base + q * plane]; }
    }
  }
  textureStore(t, gid.xy, toOperand(v));
}`,
};

/**
 * packInputKernel for W % 4 == 0 and pad 0 or 1: one invocation fills 4 padded columns of one
 * channel quad from vec4 loads (one per channel and aligned block, two with pad 1) instead of 16
 * scalar loads; llvmpipe runs every storage load as a per-lane loop.
 */
const packInputVec4Kernel: KernelSpec = {
  name: "conv2dPackInput",
  params: { ...packInputKernel.params, cols: "u32" },
  bindings: { x: "read array<vec4<f32>>", t: "texture write" },
  code: /* wgsl */ `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let blocks = (p.cols + 3u) / 4u;
  if (gid.x >= blocks * p.C4 || gid.y >= p.height) { return; }
  let k = gid.x / p.C4;
  let c4 = gid.x - k * p.C4;
  let c = c4 * 4u;
  let b = gid.y / p.rowsPerItem;
  let iy = i32(gid.y - b * p.rowsPerItem) - i32(p.pad);
  let W4 = p.W / 4u;
  // Padded column 4k + j is image column 4k + j - pad: block k, shifted by pad.
  var q0 = vec4f(0.0);
  var q1 = vec4f(0.0);
  var q2 = vec4f(0.0);
  var q3 = vec4f(0.0);
  if (iy >= 0 && iy < i32(p.H)) {
    for (var q = 0u; q < 4u; q++) {
      var lo = vec4f(0.0);
      var hi = vec4f(0.0);
      if (c + q < p.C) {
        let row = ((b * p.C + c + q) * p.H + u32(iy)) * W4;
        if (p.pad == 1u && k >= 1u && k - 1u < W4) { lo = x[row + k - 1u]; }
        if (k < W4) { hi = x[row + k]; }
      }
      let v = select(hi, vec4f(lo.w, hi.x, hi.y, hi.z), p.pad == 1u);
      if (q == 0u) { q0 = v; } else if (q == 1u) { q1 = v; } else if (q == 2u) { q2 = v; } else { q3 = v; }
    }
  }
  for (var j = 0u; j < 4u; j++) {
    let px = 4u * k + j;
    if (px < p.cols) {
      textureStore(t, vec2u(px * p.C4 + c4, gid.y), toOperand(vec4f(q0[j], q1[j], q2[j], q3[j])));
    }
  }
  // The texel columns past the image (the weight gradient's dBias column): 1 at row 0, else 0.
  if (gid.x == 0u) {
    for (var e = p.imageWidth; e < p.width; e++) {
      textureStore(t, vec2u(e, gid.y), vec4f(select(0.0, 1.0, e == p.imageWidth && gid.y == 0u), 0.0, 0.0, 0.0));
    }
  }
}`,
};

/** x [B, C, H, W] into the padded texture `t` (one dispatch). */
export function packInput(
  gpu: Gpu,
  x: Tensor,
  t: GPUTextureView,
  d: { C: number; H: number; W: number; pad: number },
  layout: ReturnType<typeof paddedInput>,
): Promise<Dispatch> {
  const [width, height] = layout.size;
  const params = {
    ...d,
    C4: layout.C4,
    rowsPerItem: layout.rowsPerItem,
    imageWidth: layout.cols * layout.C4,
    width,
    height,
  };
  if (d.W % 4 === 0 && d.pad <= 1) {
    const blocks = Math.ceil(layout.cols / 4);
    return createDispatch(gpu, packInputVec4Kernel, { x, t }, [
      Math.ceil((blocks * layout.C4) / 8),
      Math.ceil(height / 8),
    ], { ...params, cols: layout.cols });
  }
  return createDispatch(
    gpu,
    packInputKernel,
    { x, t },
    [Math.ceil(width / 8), Math.ceil(height / 8)],
    params,
  );
}

/** tw[oc, tap * C4 + c4] = w'[oc, 4c4.., tap]; w' = weight, or its flipped transpose. */
const packWeightKernel = (transposed: boolean): KernelSpec => ({
  name: "conv2dPackWeight",
  params: { inC: "u32", outC: "u32", C4: "u32", KK: "u32", width: "u32", height: "u32" },
  bindings: { w: "read", t: "texture write" },
  consts: { TRANSPOSED: transposed },
  code: /* wgsl */ `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  let tap = gid.x / p.C4;
  let c = (gid.x - tap * p.C4) * 4u;
  let oc = gid.y;
  var v = vec4f(0.0);
  if (oc < p.outC) {
    for (var q = 0u; q < 4u; q++) {
      if (c + q < p.inC) {
        // weight is [outC, inC, KK] as the kernel sees the conv, or [inC, outC, KK] flipped.
        v[q] = w[select((oc * p.inC + c + q) * p.KK + tap,
                        ((c + q) * p.outC + oc) * p.KK + p.KK - 1u - tap, TRANSPOSED)];
      }
    }
  }
  textureStore(t, gid.xy, toOperand(v));
}`,
});

function directTextureKernel(
  K: number,
  S: number,
  bias: boolean,
  accumulate: boolean,
): KernelSpec {
  const { ROWS, COLS, OC } = directTile(K, S);
  const inRows = (ROWS - 1) * S + K, inCols = (COLS - 1) * S + K;
  const window = pairs(inRows, inCols);
  const outputs = pairs(ROWS, COLS);
  const taps = pairs(K, K);
  const bindings: Record<string, string> = { tx: "texture read", tw: "texture read" };
  if (bias) bindings.bias = "read";
  bindings.y = "write";
  const fmas = (j: number, q: number, u: number) =>
    taps.map(([ky, kx]) => {
      const w = `w${j}_${ky * K + kx}`, v = `v${q * S + ky}_${u * S + kx}`;
      return XYZW.split("").map((c) => `a = fma(${w}.${c}, ${v}.${c}, a);`).join(" ");
    }).join(" ");
  return {
    name: `conv2dDirectTexture${K}x${K}s${S}`,
    params: {
      outC: "u32",
      outH: "u32",
      outW: "u32",
      C4: "u32",
      rowsPerItem: "u32",
      tilesX: "u32",
      tilesY: "u32",
      positions: "u32",
    },
    bindings,
    consts: { WG, ROWS, COLS, OC, S, ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  if (gid.x >= p.positions) { return; }
  let ox0 = (gid.x % p.tilesX) * COLS;
  let oy0 = (gid.x / p.tilesX % p.tilesY) * ROWS;
  let b = gid.x / (p.tilesX * p.tilesY);
  let ocBase = wid.y * OC;
  let row0 = b * p.rowsPerItem + oy0 * S;
  let col0 = ox0 * S * p.C4;
  // vec4 partial sums (one per input channel of the texel): four independent FMA chains.
  ${each(range(OC), (j) => each(outputs, ([q, u]) => `var a${j}_${q}_${u} = 0.0;`))}
  for (var c4 = 0u; c4 < p.C4; c4++) {
    ${
      each(window, ([r, t]) =>
        `let v${r}_${t} = textureLoad(tx, vec2u(col0 + ${t}u * p.C4 + c4, row0 + ${r}u));`)
    }
    ${
      each(range(OC), (j) =>
        each(range(K * K), (tap) =>
          `let w${j}_${tap} = textureLoad(tw, vec2u(${tap}u * p.C4 + c4, ocBase + ${j}u));`))
    }
    ${
      each(range(OC), (j) =>
        each(outputs, ([q, u]) =>
          `{ var a = a${j}_${q}_${u}; ${fmas(j, q, u)} a${j}_${q}_${u} = a; }`))
    }
  }
  ${
      // Bias read once per channel, before the stores' branches (LLVM does not hoist loads out
      // of them, and each storage read is a per-lane loop).
      bias ? each(range(OC), (j) => `let bias${j} = bias[min(ocBase + ${j}u, p.outC - 1u)];`) : ""}
  ${
      each(range(OC), (j) =>
        each(outputs, ([q, u]) =>
          `if (oy0 + ${q}u < p.outH && ox0 + ${u}u < p.outW && ocBase + ${j}u < p.outC) {
    let i = ((b * p.outC + ocBase + ${j}u) * p.outH + oy0 + ${q}u) * p.outW + ox0 + ${u}u;
    var v = a${j}_${q}_${u}${bias ? ` + bias${j}` : ""};
    if (ACCUMULATE) { v += y[i]; }
    y[i] = v;
  }`))
    }
}`,
  };
}

/**
 * y (=|+=) conv(x, w) (+ bias) through textures: pack x, pack w, direct kernel. `transposed`: the
 * stride-1 input gradient (x = dy, w read as [in, out, k, k] flipped). Null when a texture would
 * exceed the device's size limit (the caller keeps its buffer kernel).
 */
export async function directConvTexture(
  gpu: Gpu,
  d: ConvDims,
  args: { x: Tensor; weight: Tensor; bias?: Tensor; y: Tensor },
  flags: { transposed: boolean; accumulate: boolean },
): Promise<Dispatch[] | null> {
  const K = d.kernel, S = d.stride, P = (K - 1) / 2, KK = K * K;
  const { ROWS, COLS, OC } = directTile(K, S);
  const tilesX = Math.ceil(d.outW / COLS), tilesY = Math.ceil(d.outH / ROWS);
  const input = paddedInput(d, (tilesY * ROWS - 1) * S + K, (tilesX * COLS - 1) * S + K);
  const ocGroups = Math.ceil(d.outC / OC);
  const wSize = [KK * input.C4, ocGroups * OC];
  if (!texturesFit(gpu, input.size, wSize)) return null;
  const tx = storageTexture(gpu, input.size, "conv2d.packedInput");
  const tw = storageTexture(gpu, wSize, "conv2d.packedWeight");
  const packX = await packInput(gpu, args.x, tx, { C: d.inC, H: d.inH, W: d.inW, pad: P }, input);
  const packW = await createDispatch(
    gpu,
    packWeightKernel(flags.transposed),
    { w: args.weight, t: tw },
    [Math.ceil(wSize[0] / 8), Math.ceil(wSize[1] / 8)],
    { inC: d.inC, outC: d.outC, C4: input.C4, KK, width: wSize[0], height: wSize[1] },
  );
  const positions = tilesX * tilesY * d.batch;
  const buffers: Record<string, Tensor | GPUTextureView> = { tx, tw, y: args.y };
  if (args.bias) buffers.bias = args.bias;
  const conv = await createDispatch(
    gpu,
    directTextureKernel(K, S, !!args.bias, flags.accumulate),
    buffers,
    [Math.ceil(positions / WG), ocGroups],
    {
      outC: d.outC,
      outH: d.outH,
      outW: d.outW,
      C4: input.C4,
      rowsPerItem: input.rowsPerItem,
      tilesX,
      tilesY,
      positions,
    },
  );
  return [packX, packW, conv];
}
