// The texture technique of matmul (matmul.ts): both operands are first packed into storage textures
// (rgba32float, or rgba16float for f16 operands), then a register-tile kernel reads them with
// textureLoad. conv2d's implicit GEMMs run the same kernel on operands they pack themselves. Where
// the profile allows it, an aligned f32 operand is read from its mirror instead, with no pack
// (operand_reads.ts).
//
// Why textures: llvmpipe (Mesa 22.3) compiles every storage-buffer access as a loop over the 8 SIMD
// lanes with a branch and a bounds check per lane and component, whatever the index pattern; a
// read-only storage-texture load is a vectorised gather. Measured on a 512^3 GEMM (2 cores): storage
// loads ~3 GFLOP/s, sampled textures ~15-19, storage textures ~30-40. The packs read each input
// element once (O(MK + KN)), the GEMM reads texels O(MNK / tile) times.
//
// Texture layouts (texel = 4 consecutive elements of the row):
//   tA: [itemsA * Mp rows, K4 texels], row item*Mp + m holds op(A_item)[m, 0..K), zero-padded
//   tB: [itemsB * Kp rows, Np/4 texels], row item*Kp + k holds op(B_item)[k, 0..N), zero-padded
// Mp, Np are M, N rounded up to the register tile (gemmTile: the profile's `textureTile`, or one of
// its `textureTileChoices`) and Kp = 4 * K4, so every GEMM load is in bounds and padded rows and
// columns contribute zeros.
import { type Gpu, operandPlan } from "../../runtime/device.ts";
import {
  copyStep,
  createDispatch,
  type Dispatch,
  hoisted,
  type KernelSpec,
  type ParamType,
  registerTextureBytes,
} from "../../runtime/kernel.ts";
import type { RegisterTile } from "../../runtime/profile.ts";
import { createTensor, type Tensor } from "../../runtime/tensor.ts";
import { range } from "../../runtime/wgsl.ts";
import { mirror } from "../mirror.ts";
import { storeTileWgsl } from "./buffer.ts";
import {
  loadsOfA,
  loadsOfB,
  MIRROR_PARAMS,
  mirrorParams,
  type OperandRead,
  type OperandReads,
  operandReads,
  PACKED,
  readName,
} from "./operand_reads.ts";
import { trackAllocation } from "../../runtime/memory.ts";
import { gemmTile } from "./tile.ts";

const packParams = {
  R: "u32",
  C: "u32",
  itemRows: "u32",
  stride: "u32",
  width: "u32",
  height: "u32",
  tPitch: "u32",
} as const;

/**
 * texel (x, y) of t = op(X_item)[r, 4x..4x+3], item = y / itemRows, r = y % itemRows.
 * SIMD lanes run along the source's contiguous axis: texel x when X is stored [R, C] (one vec4 load
 * when VEC4: C and the batch stride are multiples of 4), texel y when it is stored [C, R].
 */
function packKernel(trans: boolean, vec4: boolean): KernelSpec {
  return {
    name: "matmulPackTexture",
    params: { ...packParams },
    bindings: { x: vec4 ? "read array<vec4<f32>>" : "read", t: "operand write" },
    consts: { TRANS: trans },
    code: /* wgsl */ `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let xy = select(gid.xy, gid.yx, TRANS);
  if (xy.x >= p.width || xy.y >= p.height) { return; }
  let item = xy.y / p.itemRows;
  let r = xy.y - item * p.itemRows;
  let base = item * p.stride;
  var v = vec4f(0.0);
  if (r < p.R) {
    ${
      vec4
        ? "if (xy.x * 4u < p.C) { v = x[(base + r * p.C) / 4u + xy.x]; }"
        : `for (var q = 0u; q < 4u; q++) {
      let c = xy.x * 4u + q;
      // X stored [R, C], or [C, R] when transposed.
      if (c < p.C) { v[q] = x[base + select(r * p.C + c, c * p.R + r, TRANS)]; }
    }`
    }
  }
  store_t(xy, v);
}`,
  };
}

/**
 * The packs for aligned operands, reading X through its mirror (gpu/ops/mirror.ts) on a 3-D grid
 * (x: texel column, y: row, or block of four rows, z: item), so no lane divides. Only rows r < R
 * and columns c < C are written: the padding stays the zeros the staging buffer was made with.
 * - [R, C] (C and the batch stride multiples of 4): texel (x, r) is the mirror's texel.
 * - [C, R] (R and the batch stride multiples of 4): one invocation transposes a 4 x 4 block, four
 *   loads (X[c, r0..r0+3] for the texel's four columns c) into four texels.
 */
function packMirrorKernel(trans: boolean): KernelSpec {
  return {
    name: "matmulPackTexture",
    params: { R: "u32", C: "u32", itemRows: "u32", stride4: "u32", width: "u32", tPitch: "u32" },
    bindings: { x: "mirror read", t: "operand write" },
    code: trans
      ? /* wgsl */ `
@compute @workgroup_size(16, 4) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r0 = gid.y * 4u;
  if (gid.x >= p.width || r0 >= p.R) { return; }
  let c = gid.x * 4u;
  let rows4 = p.R / 4u;
  let at = gid.z * p.stride4 + r0 / 4u + c * rows4;
  let zero = vec4f(0.0);
  let v0 = load_x(at);
  let v1 = select(zero, load_x(at + rows4), c + 1u < p.C);
  let v2 = select(zero, load_x(at + 2u * rows4), c + 2u < p.C);
  let v3 = select(zero, load_x(at + 3u * rows4), c + 3u < p.C);
  let y0 = gid.z * p.itemRows + r0;
  store_t(vec2u(gid.x, y0), vec4f(v0.x, v1.x, v2.x, v3.x));
  store_t(vec2u(gid.x, y0 + 1u), vec4f(v0.y, v1.y, v2.y, v3.y));
  store_t(vec2u(gid.x, y0 + 2u), vec4f(v0.z, v1.z, v2.z, v3.z));
  store_t(vec2u(gid.x, y0 + 3u), vec4f(v0.w, v1.w, v2.w, v3.w));
}`
      : /* wgsl */ `
@compute @workgroup_size(16, 4) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.R) { return; }
  let v = load_x(gid.z * p.stride4 + gid.y * (p.C / 4u) + gid.x);
  store_t(vec2u(gid.x, gid.z * p.itemRows + gid.y), v);
}`,
  };
}

export interface TextureGemmFlags {
  bias: boolean;
  accumulate: boolean;
  /** C (and bias) are read as array<vec4f>: N and the batch stride of C are multiples of 4. */
  vecC: boolean;
}

/**
 * A B operand read from another layout instead of the packed tB rows (conv2d's weight gradient
 * reads im2col's rows straight from its padded input texture): `setup` runs once per invocation
 * (after n0, nt), `step` at the top of every k4 step, `load(kk, j)` is the texel of op(B) at row
 * k4 * 4 + kk, texel column nt + j. Its parameters are appended to the kernel's.
 */
export interface TextureOperandB {
  name: string;
  params: Record<string, ParamType>;
  setup: string;
  step: string;
  load: (kk: number, j: number) => string;
}

/**
 * Stores the tile somewhere else than C (conv2d's weight gradient writes dWeight and dBias in
 * their own layouts): `code(TM, J)` replaces the store of acc{i}_{j} (row m0 + i, columns n0 + 4j
 * ..), with the operand's setup variables in scope; its bindings replace c's.
 */
export interface TileEpilogue {
  name: string;
  bindings: Record<string, string>;
  params: Record<string, ParamType>;
  code: (TM: number, J: number) => string[];
}

function textureTileKernel(
  tile: RegisterTile,
  f: TextureGemmFlags,
  operandB?: TextureOperandB,
  reads: OperandReads = PACKED,
  epilogue?: TileEpilogue,
): KernelSpec {
  const { TM, TN } = tile;
  const J = TN / 4;
  const A = loadsOfA(reads.a, TM);
  const L: string[] = [];
  for (const i of range(TM)) for (const j of range(J)) L.push(`var acc${i}_${j} = vec4f(0.0);`);
  L.push("for (var k4 = k4Begin; k4 < k4End; k4++) {");
  if (operandB) L.push(operandB.step);
  L.push(...A.loads.map((l) => `  ${l}`));
  L.push(...loadsOfB(reads.b, TN, operandB?.load).map((l) => `  ${l}`));
  // One accumulator's four k steps back to back: it is loaded and stored once if it spilled.
  for (const i of range(TM)) {
    for (const j of range(J)) {
      for (const kk of range(4)) {
        L.push(`  acc${i}_${j} = fma(vec4f(${A.value(i, kk)}), b${kk}_${j}, acc${i}_${j});`);
      }
    }
  }
  L.push("}");
  L.push(...(epilogue ? epilogue.code(TM, J) : storeTileWgsl(TM, J, f)));
  const vt = f.vecC ? "array<vec4<f32>>" : "array<f32>";
  const binding = (read: OperandRead) => (read === "packed" ? "texture read" : "mirror read");
  const bindings: Record<string, string> = { tA: binding(reads.a), tB: binding(reads.b) };
  if (f.bias) bindings.bias = `read ${vt}`;
  if (epilogue) Object.assign(bindings, epilogue.bindings);
  else bindings.c = `write ${vt}`;
  // Where an item's operand starts in its mirror, in texels (rows of A from m0, B's from n0).
  const setup: string[] = [];
  if (reads.a === "mirror") setup.push("let aAt = item * p.itemTexelsA + m0 * p.K4;");
  if (reads.a === "mirrorTransposed") setup.push("let aAt = item * p.itemTexelsA + (m0 >> 2u);");
  if (reads.b === "mirror") setup.push("let bAt = item * p.itemTexelsB + nt;");
  if (reads.b === "mirrorTransposed") setup.push("let bAt = item * p.itemTexelsB + n0 * p.K4;");
  const mirrored = reads.a !== "packed" || reads.b !== "packed";
  const suffix = mirrored ? `.${readName(reads.a)}${readName(reads.b)}` : "";
  return {
    name: (operandB ? `matmulTextureTile.${operandB.name}` : "matmulTextureTile") + suffix +
      (epilogue ? `.${epilogue.name}` : ""),
    params: {
      M: "u32",
      N: "u32",
      K4: "u32",
      itemRowsA: "u32",
      itemRowsB: "u32",
      strideC: "u32",
      splits: "u32",
      kChunk4: "u32",
      ...(mirrored ? MIRROR_PARAMS : {}),
      ...operandB?.params,
      ...epilogue?.params,
    },
    bindings,
    consts: { TM, TN, WGX: tile.WGX, WGY: tile.WGY, ACCUMULATE: f.accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WGX, WGY) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * TN;
  let m0 = gid.y * TM;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  let item = z / p.splits;
  let k4Begin = (z - item * p.splits) * p.kChunk4;
  let k4End = min(p.K4, k4Begin + p.kChunk4);
  // itemRows is 0 for a broadcast operand (batch stride 0): every item reads item 0.
  let aRow = item * p.itemRowsA + m0;
  let bRow = item * p.itemRowsB;
  let nt = n0 >> 2u;
  ${setup.join("\n  ")}
  ${operandB?.setup ?? ""}
  ${L.join("\n  ")}
}`,
  };
}

/** A matmul on the texture technique (matmul.ts has checked the shapes and chosen the splits). */
export interface TextureMatmul {
  a: Tensor;
  b: Tensor;
  c: Tensor;
  bias?: Tensor;
  M: number;
  N: number;
  K: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  strideA: number;
  strideB: number;
  strideC: number;
  splits: number;
  /** Elements of K per split, a multiple of 4. */
  kChunk: number;
  flags: TextureGemmFlags;
  /** B is a parameter (a linear layer's weight): its pack is marked `hoist` (kernel.ts). */
  bIsParameter?: boolean;
}

type PackedShape = Pick<TextureMatmul, "M" | "N" | "K" | "batch" | "strideA" | "strideB">;

function textureShapes(g: PackedShape, tile: RegisterTile) {
  const Mp = Math.ceil(g.M / tile.TM) * tile.TM;
  const K4 = Math.ceil(g.K / 4);
  const Np = Math.ceil(g.N / tile.TN) * tile.TN;
  const itemsA = g.strideA === 0 ? 1 : g.batch;
  const itemsB = g.strideB === 0 ? 1 : g.batch;
  return { Mp, K4, Np, itemsA, itemsB, a: [K4, itemsA * Mp], b: [Np / 4, itemsB * K4 * 4] };
}

/** Whether textures of these [width, height] sizes fit the device's 2-D texture limit. */
export const texturesFit = (gpu: Gpu, ...sizes: number[][]): boolean =>
  sizes.every(([w, h]) =>
    w <= gpu.limits.maxTextureDimension2D && h <= gpu.limits.maxTextureDimension2D
  );

/** Whether both packed operands fit (else matmul falls back to the profile's buffer kernel). */
export function textureOperandsFit(gpu: Gpu, g: PackedShape): boolean {
  const s = textureShapes(g, gemmTile(gpu, g.N));
  return texturesFit(gpu, s.a, s.b);
}

/** A storage texture of the context's operand format, [width, height] texels, built once. */
export function storageTexture(gpu: Gpu, size: number[], label: string): GPUTextureView {
  const texture = gpu.device.createTexture({
    size: [size[0], size[1]],
    format: gpu.operandFormat,
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
    label,
  });
  const bytes = size[0] * size[1] * texelBytes(gpu);
  // The context's allocation scope owns it: an evicted program destroys it at once.
  trackAllocation(gpu, texture, bytes);
  const view = texture.createView();
  registerTextureBytes(view, bytes);
  return view;
}

const texelBytes = (gpu: Gpu) => (gpu.operandFormat === "rgba16float" ? 8 : 16);

/**
 * An operand texture with the staging buffer its pack kernel writes (an "operand write" binding,
 * kernel.ts) and the copy step that moves the staging bytes into it. Texture stores cost llvmpipe
 * a per-lane loop per component; the vec4 buffer stores and one memcpy cost a fraction of that.
 */
export interface OperandTexture {
  view: GPUTextureView;
  size: [number, number];
  staging: Tensor;
  /** Texels between staging rows (a row is a multiple of 256 bytes, as copies require). */
  pitch: number;
  /** staging -> view: put it after the dispatches that write the staging buffer. */
  upload: Dispatch;
}

export function operandTexture(gpu: Gpu, size: number[], label: string): OperandTexture {
  const [width, height] = size;
  const bytes = texelBytes(gpu);
  const pitch = Math.ceil((width * bytes) / 256) * (256 / bytes);
  const texture = gpu.device.createTexture({
    size: [width, height],
    format: gpu.operandFormat,
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
    label,
  });
  trackAllocation(gpu, texture, width * height * bytes);
  const view = texture.createView();
  registerTextureBytes(view, width * height * bytes);
  // f32 texels as vec4<f32>, f16 texels as vec2<u32> (four halves).
  const staging = createTensor(gpu, [height * pitch * (bytes / 4)], "u32", `${label}.staging`);
  const upload = copyStep(
    "copyToTexture",
    width * height * bytes,
    (encoder) =>
      encoder.copyBufferToTexture(
        {
          buffer: staging.buffer,
          offset: staging.offset,
          bytesPerRow: pitch * bytes,
          rowsPerImage: height,
        },
        { texture },
        [width, height],
      ),
    { writes: [] }, // a texture only
  );
  return { view, size: [width, height], staging, pitch, upload };
}

/**
 * Pack A, pack B (each a kernel into its staging buffer and a copy into its texture), GEMM (the
 * textures are allocated here, at build time). An operand the GEMM reads from its mirror
 * (`operandReads`) has no pack: its mirror's refresh stands in for it.
 */
export async function textureMatmul(gpu: Gpu, g: TextureMatmul): Promise<Dispatch[]> {
  const tile = gemmTile(gpu, g.N);
  const s = textureShapes(g, tile);
  const reads = operandReads(gpu, g);
  const pack = async (
    x: Tensor,
    size: number[],
    label: string,
    o: { trans: boolean; R: number; C: number; items: number; stride: number },
  ) => {
    const t = operandTexture(gpu, size, label);
    const [width, height] = t.size;
    const itemRows = height / o.items;
    const params = {
      R: o.R,
      C: o.C,
      itemRows,
      stride: o.stride,
      width,
      height,
      tPitch: t.pitch,
    };
    const buffers = { x, t: t.staging };
    if ((o.trans ? o.R : o.C) % 4 === 0 && o.stride % 4 === 0 && x.size % 4 === 0) {
      // Texels written: C / 4 columns of R rows (the transposed pack: 4 x 4 blocks of them).
      const columns = Math.ceil(o.C / 4);
      const xm = mirror(gpu, x);
      const mirrorParams = { R: o.R, C: o.C, itemRows, stride4: o.stride / 4, width: columns };
      return {
        view: t.view,
        steps: [
          xm.refresh,
          await createDispatch(
            gpu,
            packMirrorKernel(o.trans),
            { x: xm.view, t: t.staging },
            [Math.ceil(columns / 16), Math.ceil((o.trans ? o.R / 4 : o.R) / 4), o.items],
            { ...mirrorParams, tPitch: t.pitch },
          ),
          t.upload,
        ],
      };
    }
    const vec4 = !o.trans && o.C % 4 === 0 && o.stride % 4 === 0;
    const groups = o.trans
      ? [Math.ceil(height / 8), Math.ceil(width / 8)] as [number, number]
      : [Math.ceil(width / 8), Math.ceil(height / 8)] as [number, number];
    return {
      view: t.view,
      steps: [
        await createDispatch(gpu, packKernel(o.trans, vec4), buffers, groups, params),
        t.upload,
      ],
    };
  };
  const read = async (
    x: Tensor,
    how: OperandRead,
    size: number[],
    label: string,
    o: { trans: boolean; R: number; C: number; items: number; stride: number },
  ) => {
    if (how === "packed") return await pack(x, size, label, o);
    const xm = mirror(gpu, x);
    return { view: xm.view, steps: [xm.refresh] };
  };
  const packA = await read(g.a, reads.a, s.a, "matmul.packedA", {
    trans: g.transA,
    R: g.M,
    C: g.K,
    items: s.itemsA,
    stride: g.strideA,
  });
  const packB = await read(g.b, reads.b, s.b, "matmul.packedB", {
    trans: g.transB,
    R: g.K,
    C: g.N,
    items: s.itemsB,
    stride: g.strideB,
  });
  const gemm = await textureGemm(gpu, {
    tA: packA.view,
    tB: packB.view,
    c: g.c,
    bias: g.bias,
    M: g.M,
    N: g.N,
    K4: s.K4,
    itemRowsA: g.strideA === 0 ? 0 : s.Mp,
    itemRowsB: g.strideB === 0 ? 0 : s.K4 * 4,
    strideC: g.strideC,
    items: g.batch,
    splits: g.splits,
    kChunk4: g.kChunk / 4,
    flags: g.flags,
    reads,
    operandParams: reads.a === "packed" && reads.b === "packed" ? undefined : mirrorParams(g),
    tile,
  });
  const packedB = g.bIsParameter ? hoisted(packB.steps) : packB.steps;
  return [...packA.steps, ...packedB, gemm];
}

/**
 * The GEMM on operands already packed in the layouts above (conv2d's implicit GEMMs pack their own):
 * tA needs TM-padded rows, tB TN/4-padded texels (TM, TN: the profile's `textureTile`), both
 * zero-padded along K to 4 * K4.
 */
export function textureGemm(gpu: Gpu, g: {
  tA: GPUTextureView;
  tB: GPUTextureView;
  /** C, or the tensors an epilogue writes instead (by binding name). */
  c: Tensor | { epilogue: TileEpilogue; buffers: Record<string, Tensor> };
  bias?: Tensor;
  M: number;
  N: number;
  K4: number;
  itemRowsA: number;
  itemRowsB: number;
  strideC: number;
  items: number;
  splits: number;
  kChunk4: number;
  flags: TextureGemmFlags;
  operandB?: TextureOperandB;
  operandParams?: Record<string, number>;
  /** Default: both packed. */
  reads?: OperandReads;
  /** Default: the profile's `textureTile` (the layout conv2d's implicit GEMMs pack for). */
  tile?: RegisterTile;
}): Promise<Dispatch> {
  const tile = g.tile ?? operandPlan(gpu).textureTile;
  const [epilogue, outputs] = "epilogue" in g.c
    ? [g.c.epilogue, g.c.buffers]
    : [undefined, { c: g.c }];
  const buffers: Record<string, Tensor | GPUTextureView> = { tA: g.tA, tB: g.tB, ...outputs };
  if (g.bias) buffers.bias = g.bias;
  const kernel = textureTileKernel(tile, g.flags, g.operandB, g.reads, epilogue);
  return createDispatch(gpu, kernel, buffers, [
    Math.ceil(g.N / (tile.TN * tile.WGX)),
    Math.ceil(g.M / (tile.TM * tile.WGY)),
    g.items * g.splits,
  ], {
    M: g.M,
    N: g.N,
    K4: g.K4,
    itemRowsA: g.itemRowsA,
    itemRowsB: g.itemRowsB,
    strideC: g.strideC,
    splits: g.splits,
    kChunk4: g.kChunk4,
    ...g.operandParams,
  });
}
