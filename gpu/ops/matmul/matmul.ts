// The one GEMM of the project (linear layers, 1x1 convs, attention, implicit-GEMM convs) and sumRows.
//
//   C_i (=|+=) op(A_i) · op(B_i) (+ bias), i < batch;  op(A_i): [M, K], op(B_i): [K, N], C_i: [M, N]
//   A_i stored [M, K] ([K, M] when transA), B_i stored [K, N] ([N, K] when transB), row-major.
//
// This file is the op: argument checks, split-K, and the technique, which the backend profile
// chooses per operand precision (`operandPlan(gpu).matmul`):
// - "texture" (texture.ts): both operands packed into storage textures, a register-tile kernel
//   reading only those (llvmpipe's storage-buffer loads are ~10x slower than its texture loads; f16
//   operands exist only in textures). Shapes whose packed operands exceed the texture size limit
//   fall back to the profile's buffer kernel.
// - "buffer" (buffer.ts): the profile's buffer kernel, a register tile or a workgroup tile.
// Long K with few output tiles is split (split-K): partial products go to a scratch tensor allocated
// here at build time, and one more dispatch sums them (plus bias / accumulate) into C.
import { type Gpu, operandPlan } from "../../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../../runtime/kernel.ts";
import type { SplitK } from "../../runtime/profile.ts";
import { createTensor, type Tensor } from "../../runtime/tensor.ts";
import { bufferGemm, type Flags } from "./buffer.ts";
import { textureMatmul, textureOperandsFit } from "./texture.ts";
import { gemmTile } from "./tile.ts";

export interface MatmulArgs {
  a: Tensor;
  b: Tensor;
  c: Tensor;
  M: number;
  N: number;
  K: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  /** [N], added to every row of C. */
  bias?: Tensor;
  accumulate?: boolean;
  /** Elements between batch items; default dense, 0 broadcasts one matrix to every item. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /** Forces the number of K splits (tests); default chosen from the shape. */
  splits?: number;
  /**
   * B is a parameter (a linear layer's weight, unchanged while the list runs): the dispatches
   * that pack it are marked `hoist` (gpu/runtime/kernel.ts), so a model builder may run them once.
   */
  bIsParameter?: boolean;
}

function splitReduceKernel(bias: boolean, accumulate: boolean): KernelSpec {
  const bindings: Record<string, string> = { partial: "read" };
  if (bias) bindings.bias = "read";
  bindings.c = "write";
  return {
    name: "matmulSplitReduce",
    params: { total: "u32", mn: "u32", N: "u32", splits: "u32", strideC: "u32" },
    bindings,
    consts: { WG: 64, BIAS: bias, ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.total) { return; }
  let item = i / p.mn;
  let r = i - item * p.mn;
  // partial: [batch, splits, M, N]
  var s = 0.0;
  for (var q = 0u; q < p.splits; q++) { s += partial[(item * p.splits + q) * p.mn + r]; }
  ${bias ? "s += bias[r % p.N];" : ""}
  let o = item * p.strideC + r;
  if (ACCUMULATE) { s += c[o]; }
  c[o] = s;
}`,
  };
}

/**
 * K splits for a GEMM of `tiles` output tiles: enough output tiles to keep the device busy come
 * first; a long K is split only when the tiles alone cannot fill it (the targets are the profile's).
 */
export function chooseSplits(tiles: number, K: number, s: SplitK): number {
  if (tiles >= s.wantTiles || K < 2 * s.minChunk) return 1;
  return Math.max(1, Math.min(Math.ceil(s.wantTiles / tiles), Math.floor(K / s.minChunk), 32));
}

/** `splits` rounded to whole chunks that are multiples of 4 (for the vec4 loads). */
export function kChunks(K: number, splits: number): { splits: number; kChunk: number } {
  const kChunk = Math.ceil(K / splits / 4) * 4;
  return { splits: Math.ceil(K / kChunk), kChunk };
}

/** Output tiles of the technique's kernel (invocations of a register tile, or workgroups). */
function outputTiles(gpu: Gpu, M: number, N: number, batch: number): number {
  const plan = operandPlan(gpu);
  const kernel = plan.matmul.bufferKernel;
  const texture = plan.matmul.technique === "texture" ? gemmTile(gpu, N) : null;
  const [tm, tn] = texture
    ? [texture.TM, texture.TN]
    : kernel.kind === "registerTile"
    ? [kernel.tile.TM, kernel.tile.TN]
    : [kernel.tile, kernel.tile];
  return Math.ceil(M / tm) * Math.ceil(N / tn) * batch;
}

/** C_i (=|+=) op(A_i) op(B_i) (+ bias) for every batch item: one or two dispatches. */
export async function matmul(gpu: Gpu, args: MatmulArgs): Promise<Dispatch[]> {
  const { a, b, c, M, N, K, bias } = args;
  const batch = args.batch ?? 1;
  const transA = args.transA ?? false;
  const transB = args.transB ?? false;
  const accumulate = args.accumulate ?? false;
  const strideA = args.strideA ?? M * K;
  const strideB = args.strideB ?? K * N;
  const strideC = args.strideC ?? M * N;
  const plan = operandPlan(gpu).matmul;
  if ([M, N, K, batch].some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`matmul: bad shape M=${M} N=${N} K=${K} batch=${batch}`);
  }
  if (batch > 1 && strideC < M * N) throw new Error("matmul: batch items of C overlap");
  const need = (t: Tensor, stride: number, n: number, what: string) => {
    if ((batch - 1) * stride + n > t.size) {
      throw new Error(`matmul: ${what} [${t.shape}] too small for M=${M} N=${N} K=${K}`);
    }
  };
  need(a, strideA, M * K, "a");
  need(b, strideB, K * N, "b");
  need(c, strideC, M * N, "c");
  if (bias && bias.size < N) throw new Error(`matmul: bias [${bias.shape}] shorter than N=${N}`);

  const { splits, kChunk } = kChunks(
    K,
    args.splits ?? chooseSplits(outputTiles(gpu, M, N, batch), K, plan.splitK),
  );
  const aligned = (axis: number, stride: number) =>
    axis % 4 === 0 && (batch === 1 || stride % 4 === 0);
  const split = splits > 1;
  const flags: Flags = {
    transA,
    transB,
    bias: !!bias && !split,
    accumulate: accumulate && !split,
    vecA: aligned(transA ? M : K, strideA),
    vecB: aligned(transB ? K : N, strideB),
    vecC: !split && aligned(N, strideC),
  };
  const shape = { M, N, K, strideA, strideB, splits, kChunk, strideC: split ? M * N : strideC };
  // Partial products of split-K go to scratch [batch, splits, M, N]; one more dispatch sums them.
  const out = split ? createTensor(gpu, [batch, splits, M, N], "f32", "matmul.splitK") : c;
  const outBias = split ? undefined : bias;
  let first: Dispatch[];
  if (
    plan.technique === "texture" &&
    textureOperandsFit(gpu, { M, N, K, batch, strideA, strideB })
  ) {
    first = await textureMatmul(gpu, {
      ...shape,
      a,
      b,
      c: out,
      bias: outBias,
      batch,
      transA,
      transB,
      flags: { bias: flags.bias, accumulate: flags.accumulate, vecC: flags.vecC },
      bIsParameter: args.bIsParameter,
    });
  } else {
    first = [
      await bufferGemm(gpu, plan.bufferKernel, {
        a,
        b,
        c: out,
        bias: outBias,
        flags,
        items: batch,
        p: shape,
      }),
    ];
  }
  if (!split) return first;
  const reduceBuffers: Record<string, Tensor> = { partial: out, c };
  if (bias) reduceBuffers.bias = bias;
  const total = batch * M * N;
  const reduce = await createDispatch(
    gpu,
    splitReduceKernel(!!bias, accumulate),
    reduceBuffers,
    grid1d(total, 64),
    { total, mn: M * N, N, splits, strideC },
  );
  return [...first, reduce];
}

function sumRowsKernel(accumulate: boolean): KernelSpec {
  return {
    name: "sumRows",
    params: { rows: "u32", cols: "u32" },
    bindings: { x: "read", y: "write" },
    consts: { WG: 64, ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  if (col >= p.cols) { return; }
  // Four partial sums: independent adds pipeline, and long columns lose less precision.
  var s = vec4f(0.0);
  var r = 0u;
  for (; r + 4u <= p.rows; r += 4u) {
    s += vec4f(x[r * p.cols + col], x[(r + 1u) * p.cols + col], x[(r + 2u) * p.cols + col],
               x[(r + 3u) * p.cols + col]);
  }
  for (; r < p.rows; r++) { s.x += x[r * p.cols + col]; }
  var v = (s.x + s.y) + (s.z + s.w);
  if (ACCUMULATE) { v += y[col]; }
  y[col] = v;
}`,
  };
}

/** y[c] (=|+=) sum_r x[r, c]; x: [rows, cols] (bias gradients). */
export function sumRows(
  gpu: Gpu,
  args: { x: Tensor; y: Tensor; rows: number; cols: number; accumulate?: boolean },
): Promise<Dispatch> {
  const { x, y, rows, cols } = args;
  if (x.size < rows * cols || y.size < cols) throw new Error("sumRows: tensors too small");
  return createDispatch(gpu, sumRowsKernel(args.accumulate ?? false), { x, y }, [
    Math.ceil(cols / 64),
  ], { rows, cols });
}
