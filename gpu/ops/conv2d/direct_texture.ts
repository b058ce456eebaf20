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
import { type Gpu, operandPlan } from "../../runtime/device.ts";
import { createDispatch, type Dispatch, hoisted, type KernelSpec } from "../../runtime/kernel.ts";
import { type Tensor, upload } from "../../runtime/tensor.ts";
import { mirror } from "../mirror.ts";
import { each, pairs, range, XYZW } from "../../runtime/wgsl.ts";
import { type OperandTexture, operandTexture, texturesFit } from "../matmul/texture.ts";
import { type ConvDims, sameConvDims } from "./geometry.ts";

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
    tPitch: "u32",
  },
  bindings: { x: "read", t: "operand write" },
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
  store_t(gid.xy, v);
}`,
};

/**
 * packInputKernel for W % 4 == 0, reading x through its mirror (gpu/ops/mirror.ts): one invocation
 * transposes a 4 x 4 block (4 channels x 4 columns of one row) from four texel loads into four
 * staging texels. Only the image's texels are written: the padding, the columns and rows past it
 * and the extra texel (see `onesTexel`) are set once, when the staging buffer is made. The shape
 * is compiled in (llvmpipe divides vectors lane by lane, by a constant with multiplies).
 */
const packInputMirrorKernel = (
  d: { C: number; H: number; W: number; pad: number },
  C4: number,
  upsample = false,
): KernelSpec => ({
  name: upsample ? "conv2dPackInputUpsampled" : "conv2dPackInput",
  params: { rowsPerItem: "u32", tPitch: "u32" },
  bindings: { x: "mirror read", t: "operand write" },
  consts: { C: d.C, H: d.H, W4: d.W / 4, C4, PAD: d.pad },
  code: /* wgsl */ `
@compute @workgroup_size(16, 4) fn main(@builtin(global_invocation_id) gid: vec3u) {
  // x: c4 + C4 * k (k: block of four columns), y: image row, z: item.
  let c4 = gid.x % C4;
  let k = gid.x / C4;
  if (k >= W4 || gid.y >= H) { return; }
  let b = gid.z;
  let c = c4 * 4u;
  let plane = H * W4;
  let at = ((b * C + c) * H + gid.y) * W4 + k;
  let zero = vec4f(0.0);
  let q0 = load_x(at);
  let q1 = select(zero, load_x(at + plane), c + 1u < C);
  let q2 = select(zero, load_x(at + 2u * plane), c + 2u < C);
  let q3 = select(zero, load_x(at + 3u * plane), c + 3u < C);
  let texels = array(
    vec4f(q0.x, q1.x, q2.x, q3.x),
    vec4f(q0.y, q1.y, q2.y, q3.y),
    vec4f(q0.z, q1.z, q2.z, q3.z),
    vec4f(q0.w, q1.w, q2.w, q3.w),
  );
  ${
    upsample
      // Input column 4k + u covers output columns 8k + 2u, 8k + 2u + 1 of two output rows.
      ? `let row = b * p.rowsPerItem + 2u * gid.y + PAD;
  let col = (8u * k + PAD) * C4 + c4;
  for (var r = 0u; r < 2u; r++) {
    ${each(range(8), (j) => `store_t(vec2u(col + ${j}u * C4, row + r), texels[${j >> 1}]);`)}
  }`
      : `let row = b * p.rowsPerItem + gid.y + PAD;
  let col = (4u * k + PAD) * C4 + c4;
  ${each(range(4), (j) => `store_t(vec2u(col + ${j}u * C4, row), texels[${j}]);`)}`
  }
}`,
});

/** The texel (1, 0, 0, 0) at (column, 0) of an operand's staging buffer, written from the host. */
function onesTexel(gpu: Gpu, t: OperandTexture, column: number): void {
  const f16 = gpu.operandFormat === "rgba16float";
  const texel = f16 ? Uint32Array.of(0x3c00, 0) : Uint32Array.of(0x3f800000, 0, 0, 0);
  upload(gpu, t.staging, texel, column * texel.length);
}

/**
 * The forward's packed input, kept for the weight gradient of the same conv in the same list (a
 * training step): its layout has the weight gradient's extra texel, so the backward needs no pack
 * of its own. conv2d.ts's `ConvInputSlot` carries it from conv2dForward to conv2dBackward.
 */
export interface PackedInput {
  tx: OperandTexture;
  layout: ReturnType<typeof paddedInput>;
  /** The packed tensor and the conv's dims (the backward checks it is the same conv's input). */
  x: Tensor;
  dims: ConvDims;
}

/** x [B, C, H, W] into the padded texture `t`: the pack kernel, then the copy into `t`. */
export async function packInput(
  gpu: Gpu,
  x: Tensor,
  t: OperandTexture,
  d: { C: number; H: number; W: number; pad: number },
  layout: ReturnType<typeof paddedInput>,
): Promise<Dispatch[]> {
  const [width, height] = layout.size;
  const params = {
    ...d,
    C4: layout.C4,
    rowsPerItem: layout.rowsPerItem,
    imageWidth: layout.cols * layout.C4,
    width,
    height,
    tPitch: t.pitch,
  };
  const buffers = { x, t: t.staging };
  if (d.W % 4 === 0) {
    // The extra texel past the image (the weight gradient's dBias column), set once.
    if (width > params.imageWidth) onesTexel(gpu, t, params.imageWidth);
    const xm = mirror(gpu, x);
    return [
      xm.refresh,
      await createDispatch(
        gpu,
        packInputMirrorKernel(d, layout.C4),
        { x: xm.view, t: t.staging },
        [Math.ceil((layout.C4 * d.W / 4) / 16), Math.ceil(d.H / 4), x.size / (d.C * d.H * d.W)],
        { rowsPerItem: layout.rowsPerItem, tPitch: t.pitch },
      ),
      t.upload,
    ];
  }
  return [
    await createDispatch(
      gpu,
      packInputKernel,
      buffers,
      [Math.ceil(width / 8), Math.ceil(height / 8)],
      params,
    ),
    t.upload,
  ];
}

/**
 * Nearest-x2(x), x [B, C, H, W], into `target` (directInputTarget of the upsampled [B, C, 2H, 2W]
 * activation, which is never stored): diffusers' Upsample2D feeds its conv this way, with no
 * upsampling kernel, copy or pack of the 4x larger activation. Null where W is not a multiple of
 * 4 (the caller upsamples into the activation and the conv packs it).
 */
export async function packUpsampledInput(
  gpu: Gpu,
  x: Tensor,
  target: PackedInput,
): Promise<Dispatch[] | null> {
  const d = target.dims;
  const [C, H, W] = [d.inC, d.inH / 2, d.inW / 2];
  if (W % 4 || !Number.isInteger(H) || x.size !== d.batch * C * H * W) return null;
  const xm = mirror(gpu, x);
  const C4 = target.layout.C4;
  return [
    xm.refresh,
    await createDispatch(
      gpu,
      packInputMirrorKernel({ C, H, W, pad: (d.kernel - 1) / 2 }, C4, true),
      { x: xm.view, t: target.tx.staging },
      [Math.ceil((C4 * W / 4) / 16), Math.ceil(H / 4), d.batch],
      { rowsPerItem: target.layout.rowsPerItem, tPitch: target.tx.pitch },
    ),
    target.tx.upload,
  ];
}

/** tw[oc, tap * C4 + c4] = w'[oc, 4c4.., tap]; w' = weight, or its flipped transpose. */
const packWeightKernel = (transposed: boolean): KernelSpec => ({
  name: "conv2dPackWeight",
  params: {
    inC: "u32",
    outC: "u32",
    C4: "u32",
    KK: "u32",
    width: "u32",
    height: "u32",
    tPitch: "u32",
  },
  bindings: { w: "read", t: "operand write" },
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
  store_t(gid.xy, v);
}`,
});

/**
 * The direct kernel's padded input, with one texel column past the image: the weight gradient's
 * dBias column (PackedInput).
 */
function directInputLayout(d: ConvDims) {
  const K = d.kernel, S = d.stride;
  const { ROWS, COLS } = directTile(K, S);
  const tilesX = Math.ceil(d.outW / COLS), tilesY = Math.ceil(d.outH / ROWS);
  return paddedInput(d, (tilesY * ROWS - 1) * S + K, (tilesX * COLS - 1) * S + K, 1);
}

/**
 * The packed input the forward conv(x) reads, made empty for a producer that writes it itself
 * (gpu/ops/group_norm_into_conv.ts: GroupNorm+SiLU writes the conv's operand instead of x, so no
 * copy of x and no pack run): the padding and the dBias texel are set here, once; the producer
 * writes the image's texels, four channels of one position each. Null where the layout does not
 * suit a producer (channels or width not multiples of 4) or a texture of the conv or of its
 * weight gradient (which reads this texture instead of x) would not fit.
 */
export function directInputTarget(gpu: Gpu, d: ConvDims, x: Tensor): PackedInput | null {
  if (d.inC % 4 || d.inW % 4) return null;
  const input = directInputLayout(d);
  const { OC } = directTile(d.kernel, d.stride);
  const wSize = [d.kernel * d.kernel * input.C4, Math.ceil(d.outC / OC) * OC];
  // The weight gradient's packed dy (implicit_gemm_texture.ts): outC rows padded to the tile.
  const TM = operandPlan(gpu).textureTile.TM;
  const dySize = [Math.ceil((d.batch * d.outH * d.outW) / 4), Math.ceil(d.outC / TM) * TM];
  if (!texturesFit(gpu, input.size, wSize, dySize)) return null;
  const tx = operandTexture(gpu, input.size, "conv2d.packedInput");
  onesTexel(gpu, tx, input.cols * input.C4);
  return { tx, layout: input, x, dims: d };
}

function directTextureKernel(
  K: number,
  S: number,
  bias: boolean,
  itemBias: boolean,
  accumulate: boolean,
): KernelSpec {
  const { ROWS, COLS, OC } = directTile(K, S);
  const inRows = (ROWS - 1) * S + K, inCols = (COLS - 1) * S + K;
  const window = pairs(inRows, inCols);
  const outputs = pairs(ROWS, COLS);
  const taps = pairs(K, K);
  const bindings: Record<string, string> = { tx: "texture read", tw: "texture read" };
  if (bias) bindings.bias = "read";
  if (itemBias) bindings.itemBias = "read";
  bindings.y = "write";
  const add = (j: number) => `${bias ? ` + bias${j}` : ""}${itemBias ? ` + itemBias${j}` : ""}`;
  // Each accumulator's terms back to back (it is loaded and stored once if it spilled).
  const fmas = (terms: [string, string][]) =>
    terms.map(([w, v]) => XYZW.split("").map((c) => `a = fma(${w}.${c}, ${v}.${c}, a);`).join(" "))
      .join(" ");
  // One c4 step a loop iteration: the whole window and every tap.
  const loop = `for (var c4 = 0u; c4 < p.C4; c4++) {
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
      each(outputs, ([q, u]) => {
        const terms = taps.map(([ky, kx]) =>
          [`w${j}_${ky * K + kx}`, `v${q * S + ky}_${u * S + kx}`] as [string, string]
        );
        return `{ var a = a${j}_${q}_${u}; ${fmas(terms)} a${j}_${q}_${u} = a; }`;
      }))
  }
  }`;
  // For 3x3: one (c4, kernel row) step an iteration, a third of the body. llvmpipe's full 3x3
  // body (4,608 FMAs, ~120 KB of code) outgrows the core's instruction cache, and one kernel row
  // at a time runs ~10 % faster despite a third more texel loads (each window row is loaded for
  // the three kernel rows that use it).
  const rowLoop = `for (var i = 0u; i < p.C4 * 3u; i++) {
    let c4 = i / 3u;
    let ky = i - c4 * 3u;
    ${
    each(pairs(ROWS, inCols), ([q, t]) =>
      `let v${q}_${t} = textureLoad(tx, vec2u(col0 + ${t}u * p.C4 + c4, row0 + ${q * S}u + ky));`)
  }
    ${
    each(range(OC), (j) =>
      each(range(K), (kx) =>
        `let w${j}_${kx} = textureLoad(tw, vec2u((ky * 3u + ${kx}u) * p.C4 + c4, ocBase + ${j}u));`))
  }
    ${
    each(range(OC), (j) =>
      each(outputs, ([q, u]) => {
        const terms = range(K).map((kx) =>
          [`w${j}_${kx}`, `v${q}_${u * S + kx}`] as [string, string]
        );
        return `{ var a = a${j}_${q}_${u}; ${fmas(terms)} a${j}_${q}_${u} = a; }`;
      }))
  }
  }`;
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
  ${K === 3 ? rowLoop : loop}
  ${
      // Bias read once per channel, before the stores' branches (LLVM does not hoist loads out
      // of them, and each storage read is a per-lane loop).
      bias ? each(range(OC), (j) => `let bias${j} = bias[min(ocBase + ${j}u, p.outC - 1u)];`) : ""}
  ${
      itemBias
        ? each(
          range(OC),
          (j) => `let itemBias${j} = itemBias[b * p.outC + min(ocBase + ${j}u, p.outC - 1u)];`,
        )
        : ""
    }
  ${
      each(range(OC), (j) =>
        each(outputs, ([q, u]) =>
          `if (oy0 + ${q}u < p.outH && ox0 + ${u}u < p.outW && ocBase + ${j}u < p.outC) {
    let i = ((b * p.outC + ocBase + ${j}u) * p.outH + oy0 + ${q}u) * p.outW + ox0 + ${u}u;
    var v = a${j}_${q}_${u}${add(j)};
    if (ACCUMULATE) { v += y[i]; }
    y[i] = v;
  }`))
    }
}`,
  };
}

/**
 * y (=|+=) conv(x, w) (+ bias) (+ itemBias [B, outC]) through textures: pack x, pack w, direct
 * kernel. `transposed`: the
 * stride-1 input gradient (x = dy, w read as [in, out, k, k] flipped). Null when a texture would
 * exceed the device's size limit (the caller keeps its buffer kernel).
 */
export async function directConvTexture(
  gpu: Gpu,
  d: ConvDims,
  args: { x: Tensor; weight: Tensor; bias?: Tensor; itemBias?: Tensor; y: Tensor },
  flags: {
    transposed: boolean;
    accumulate: boolean;
    keep?: (packed: PackedInput) => void;
    /** x's texture as a producer wrote it (directInputTarget): the conv does not pack x. */
    packed?: PackedInput;
  },
): Promise<Dispatch[] | null> {
  const K = d.kernel, S = d.stride, P = (K - 1) / 2, KK = K * K;
  const { ROWS, COLS, OC } = directTile(K, S);
  const tilesX = Math.ceil(d.outW / COLS), tilesY = Math.ceil(d.outH / ROWS);
  const input = directInputLayout(d);
  const ocGroups = Math.ceil(d.outC / OC);
  const wSize = [KK * input.C4, ocGroups * OC];
  if (!texturesFit(gpu, input.size, wSize)) return null;
  const given = flags.packed;
  if (given && (given.x !== args.x || !sameConvDims(given.dims, d))) {
    throw new Error(`conv2d: the packed input given is not ${args.x.label}'s for this conv`);
  }
  const tx = given?.tx ?? operandTexture(gpu, input.size, "conv2d.packedInput");
  const tw = operandTexture(gpu, wSize, "conv2d.packedWeight");
  const packX = given
    ? []
    : await packInput(gpu, args.x, tx, { C: d.inC, H: d.inH, W: d.inW, pad: P }, input);
  flags.keep?.({ tx, layout: input, x: args.x, dims: d });
  const packW = await createDispatch(
    gpu,
    packWeightKernel(flags.transposed),
    { w: args.weight, t: tw.staging },
    [Math.ceil(wSize[0] / 8), Math.ceil(wSize[1] / 8)],
    {
      inC: d.inC,
      outC: d.outC,
      C4: input.C4,
      KK,
      width: wSize[0],
      height: wSize[1],
      tPitch: tw.pitch,
    },
  );
  const positions = tilesX * tilesY * d.batch;
  const buffers: Record<string, Tensor | GPUTextureView> = { tx: tx.view, tw: tw.view, y: args.y };
  if (args.bias) buffers.bias = args.bias;
  if (args.itemBias) buffers.itemBias = args.itemBias;
  const conv = await createDispatch(
    gpu,
    directTextureKernel(K, S, !!args.bias, !!args.itemBias, flags.accumulate),
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
  // The weight's pack reads only the weight: the model builder may hoist it (kernel.ts).
  return [...packX, ...hoisted([packW, tw.upload]), conv];
}
