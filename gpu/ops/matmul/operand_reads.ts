// Where the texture GEMM (texture.ts) reads each operand, and the WGSL of its k4 step's loads: the
// operand's packed texture, or the tensor's mirror (gpu/ops/mirror.ts) as it is stored. On
// llvmpipe the pack of an aligned operand is a copy of its mirror into another layout (a kernel
// and a copy per operand); reading the mirror costs the GEMM an add, a mask and a shift a texel.
import { type Gpu, operandPlan } from "../../runtime/device.ts";
import { MIRROR_WIDTH } from "../../runtime/kernel.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import { range, XYZW } from "../../runtime/wgsl.ts";
import { gemmTile } from "./tile.ts";

/**
 * Where the GEMM reads an operand: its packed texture (texture.ts), or the tensor's mirror
 * (gpu/ops/mirror.ts) as it is stored, with no pack. "mirror": A [M, K] or B [K, N], one texel
 * holds four consecutive k of a row of A, or four n of a row of B, as in the packed layouts;
 * "mirrorTransposed": A [K, M] or B [N, K], a texel holds four m (or four k) and the kernel takes
 * its components apart (free: llvmpipe keeps every component in a vector of its own). Either way
 * the kernel makes TM + TN texel loads a k4 step. Rows and columns past M and N read whatever
 * follows in the mirror: they feed only the outputs the store drops.
 */
export type OperandRead = "packed" | "mirror" | "mirrorTransposed";

export interface OperandReads {
  a: OperandRead;
  b: OperandRead;
}

export const PACKED: OperandReads = { a: "packed", b: "packed" };

/** The k4 step's loads of A (a${i}: four k of row i) or their pieces (aT${g}_${kk}: four rows). */
export function loadsOfA(
  read: OperandRead,
  TM: number,
): { loads: string[]; value: (i: number, kk: number) => string } {
  if (read === "packed") {
    return {
      loads: range(TM).map((i) => `let a${i} = textureLoad(tA, vec2u(k4, aRow + ${i}u));`),
      value: (i, kk) => `a${i}.${XYZW[kk]}`,
    };
  }
  if (read === "mirror") {
    return {
      loads: range(TM).map((i) => `let a${i} = load_tA(aAt + ${i}u * p.K4 + k4);`),
      value: (i, kk) => `a${i}.${XYZW[kk]}`,
    };
  }
  const loads: string[] = [];
  for (const g of range(TM / 4)) {
    for (const kk of range(4)) {
      loads.push(`let aT${g}_${kk} = load_tA(aAt + (k4 * 4u + ${kk}u) * p.rowTexelsA + ${g}u);`);
    }
  }
  return { loads, value: (i, kk) => `aT${i >> 2}_${kk}.${XYZW[i & 3]}` };
}

/** The k4 step's loads of B: b${kk}_${j}, op(B) at row k4 * 4 + kk, texel column nt + j. */
export function loadsOfB(
  read: OperandRead,
  TN: number,
  custom?: (kk: number, j: number) => string,
): string[] {
  const J = TN / 4;
  const L: string[] = [];
  if (read === "mirrorTransposed") {
    // Four k of each column n0 + n, then the rows of op(B) out of their components.
    for (const n of range(TN)) L.push(`let bT${n} = load_tB(bAt + ${n}u * p.K4 + k4);`);
    for (const kk of range(4)) {
      for (const j of range(J)) {
        const parts = range(4).map((q) => `bT${4 * j + q}.${XYZW[kk]}`);
        L.push(`let b${kk}_${j} = vec4f(${parts.join(", ")});`);
      }
    }
    return L;
  }
  for (const kk of range(4)) {
    for (const j of range(J)) {
      const load = custom
        ? custom(kk, j)
        : read === "mirror"
        ? `load_tB(bAt + (k4 * 4u + ${kk}u) * p.rowTexelsB + ${j}u)`
        : `textureLoad(tB, vec2u(nt + ${j}u, bRow + k4 * 4u + ${kk}u))`;
      L.push(`let b${kk}_${j} = ${load};`);
    }
  }
  return L;
}

/** The mirrored reads' parameters: texels between items (0: broadcast) and a stored row's texels. */
export const MIRROR_PARAMS = {
  itemTexelsA: "u32",
  itemTexelsB: "u32",
  rowTexelsA: "u32",
  rowTexelsB: "u32",
} as const;

/** In the kernel's name (the bench's table): p packed, m mirror, t mirror transposed. */
export const readName = (read: OperandRead) =>
  read === "packed" ? "p" : read === "mirror" ? "m" : "t";

/**
 * Whether the GEMM can read this operand from its mirror instead of a pack (the profile's
 * `mirrorOperands`): f32 operands only (the mirror holds f32, a packed f16 operand is rounded),
 * K and the stored rows a whole number of texels, so that no texel straddles two rows and no k past
 * K is read, and a mirror within the texture size limit.
 */
function mirrorable(
  gpu: Gpu,
  x: Tensor,
  o: { rowLength: number; K: number; stride: number; tile: number },
): boolean {
  const rows = Math.ceil(x.size / 4 / MIRROR_WIDTH);
  return !!operandPlan(gpu).matmul.mirrorOperands && gpu.operandFormat === "rgba32float" &&
    x.dtype === "f32" && x.size % 4 === 0 && rows <= gpu.limits.maxTextureDimension2D &&
    o.K % 4 === 0 && o.rowLength % 4 === 0 && o.stride % 4 === 0 && o.tile % 4 === 0;
}

interface MatmulOperands {
  a: Tensor;
  b: Tensor;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  strideA: number;
  strideB: number;
}

/** Elements of a stored row of each operand: A [M, K] or [K, M], B [K, N] or [N, K]. */
const rowLengths = (g: MatmulOperands) => ({
  a: g.transA ? g.M : g.K,
  b: g.transB ? g.K : g.N,
});

/** How each operand of this matmul is read (`OperandRead`). */
export function operandReads(gpu: Gpu, g: MatmulOperands): OperandReads {
  const { TM, TN } = gemmTile(gpu, g.N);
  const rows = rowLengths(g);
  const a = mirrorable(gpu, g.a, { rowLength: rows.a, K: g.K, stride: g.strideA, tile: TM });
  const b = mirrorable(gpu, g.b, { rowLength: rows.b, K: g.K, stride: g.strideB, tile: TN });
  const read = (ok: boolean, trans: boolean): OperandRead =>
    !ok ? "packed" : trans ? "mirrorTransposed" : "mirror";
  return { a: read(a, g.transA), b: read(b, g.transB) };
}

/** MIRROR_PARAMS' values, in texels (the reads have checked that they are whole). */
export function mirrorParams(g: MatmulOperands): Record<keyof typeof MIRROR_PARAMS, number> {
  const rows = rowLengths(g);
  return {
    itemTexelsA: g.strideA / 4,
    itemTexelsB: g.strideB / 4,
    rowTexelsA: rows.a / 4,
    rowTexelsB: rows.b / 4,
  };
}
