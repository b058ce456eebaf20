// The one GEMM of the project (linear layers, 1x1 convs, attention, implicit-GEMM convs) and sumRows.
//
//   C_i (=|+=) op(A_i) · op(B_i) (+ bias), i < batch;  op(A_i): [M, K], op(B_i): [K, N], C_i: [M, N]
//   A_i stored [M, K] ([K, M] when transA), B_i stored [K, N] ([N, K] when transB), row-major.
//
// Two configurations of one kernel family, picked by adapter class:
// - "cpu" (llvmpipe): gpu/matmul_cpu.ts packs both operands into rgba32float storage textures and
//   runs a register-tile kernel on them (llvmpipe's storage-buffer loads are ~10x slower than its
//   storage-texture loads; see there). Shapes whose packed operands exceed the texture size limit
//   fall back to the register-tile kernel below, which reads the buffers directly: every invocation
//   owns a TM x TN register tile, K advances 4 at a time, vec4 loads where aligned.
// - "gpu": a 64x64 workgroup tile staged through workgroup memory, 16x16 threads, 4x4 per thread.
// Long K with few output tiles is split (split-K): partial products go to a scratch tensor allocated
// here at build time, and one more dispatch sums them (plus bias / accumulate) into C.
import { type AdapterClass, type Gpu, usesTexturePath } from "../../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../../runtime/kernel.ts";
import { CPU_TILE, cpuTextureGemm, cpuTexturesFit, storeTileWgsl } from "./texture.ts";
import { createTensor, type Tensor } from "../../runtime/tensor.ts";

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
  /** Forces a configuration (tests run both here); default gpu.adapterClass. */
  config?: AdapterClass;
  /** Forces the number of K splits (tests); default chosen from the shape. */
  splits?: number;
}

interface Flags {
  transA: boolean;
  transB: boolean;
  bias: boolean;
  accumulate: boolean;
  /** The binding is read as array<vec4f>: its contiguous axis and batch stride are multiples of 4. */
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
}

const params = {
  M: "u32",
  N: "u32",
  K: "u32",
  strideA: "u32",
  strideB: "u32",
  strideC: "u32",
  splits: "u32",
  kChunk: "u32",
} as const;

// Register tile of the "cpu" fallback (operands past the texture size limit); 16x16 outputs, 8
// invocations along x (the SIMD axis).
const CPU = { TM: 16, TN: 16, WGX: 8, WGY: 1 };
// Workgroup tile of the "gpu" configuration.
const GPU_TILE = 64;
const GPU_KT = 16;

const xyzw = "xyzw";
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function registerTileKernel(f: Flags): KernelSpec {
  const { TM, TN, WGX, WGY } = CPU;
  const J = TN / 4;
  const vt = (vec: boolean) => (vec ? "array<vec4<f32>>" : "array<f32>");
  const ldA = f.vecA ? (i: string) => `a[(${i}) >> 2u][(${i}) & 3u]` : (i: string) => `a[${i}]`;
  const ldB = f.vecB ? (i: string) => `b[(${i}) >> 2u][(${i}) & 3u]` : (i: string) => `b[${i}]`;
  const quad = (ld: (i: string) => string, idx: (q: number) => string) =>
    `vec4f(${range(4).map((q) => ld(idx(q))).join(", ")})`;
  const L: string[] = [];
  // Per-invocation element offsets, clamped into the matrix: rows/columns past the edge load
  // in-bounds values whose products land only in outputs that are never stored.
  for (const i of range(TM)) {
    L.push(
      f.transA
        ? `let cA${i} = aBase + min(m0 + ${i}u, p.M - 1u);`
        : `let rA${i} = aBase + min(m0 + ${i}u, p.M - 1u) * p.K;`,
    );
  }
  for (const q of range(TN)) {
    L.push(
      f.transB
        ? `let rB${q} = bBase + min(n0 + ${q}u, p.N - 1u) * p.K;`
        : `let cB${q} = bBase + min(n0 + ${q}u, p.N - 1u);`,
    );
  }
  for (const i of range(TM)) for (const j of range(J)) L.push(`var acc${i}_${j} = vec4f(0.0);`);
  L.push("let MA4 = p.M >> 2u; let NB4 = p.N >> 2u;");
  L.push("var k = kBegin;");
  L.push("for (; k + 4u <= kEnd; k += 4u) {");
  const k4 = "(k >> 2u)";
  let aAt: (i: number, kk: number) => string;
  if (!f.transA) {
    for (const i of range(TM)) {
      L.push(
        `  let a${i} = ${
          f.vecA ? `a[(rA${i} >> 2u) + ${k4}]` : quad(ldA, (q) => `rA${i} + k + ${q}u`)
        };`,
      );
    }
    aAt = (i, kk) => `a${i}.${xyzw[kk]}`;
  } else {
    for (const kk of range(4)) {
      for (const g of range(TM / 4)) {
        L.push(
          `  let a${kk}_${g} = ${
            f.vecA
              ? `a[(k + ${kk}u) * MA4 + (cA${4 * g} >> 2u)]`
              : quad(ldA, (q) => `(k + ${kk}u) * p.M + cA${4 * g + q}`)
          };`,
        );
      }
    }
    aAt = (i, kk) => `a${kk}_${i >> 2}.${xyzw[i & 3]}`;
  }
  if (!f.transB) {
    for (const kk of range(4)) {
      for (const j of range(J)) {
        L.push(
          `  let b${kk}_${j} = ${
            f.vecB
              ? `b[(k + ${kk}u) * NB4 + (cB${4 * j} >> 2u)]`
              : quad(ldB, (q) => `(k + ${kk}u) * p.N + cB${4 * j + q}`)
          };`,
        );
      }
    }
  } else {
    for (const q of range(TN)) {
      L.push(
        `  let bt${q} = ${
          f.vecB ? `b[(rB${q} >> 2u) + ${k4}]` : quad(ldB, (r) => `rB${q} + k + ${r}u`)
        };`,
      );
    }
    // Rows of B^T arrive along k: regroup them into vec4s along n (register shuffles only).
    for (const kk of range(4)) {
      for (const j of range(J)) {
        L.push(
          `  let b${kk}_${j} = vec4f(${
            range(4).map((q) => `bt${4 * j + q}.${xyzw[kk]}`).join(", ")
          });`,
        );
      }
    }
  }
  for (const kk of range(4)) {
    for (const i of range(TM)) {
      for (const j of range(J)) {
        L.push(`  acc${i}_${j} = fma(vec4f(${aAt(i, kk)}), b${kk}_${j}, acc${i}_${j});`);
      }
    }
  }
  L.push("}");
  // K tail (K not a multiple of 4): at most three scalar steps.
  L.push("for (; k < kEnd; k++) {");
  for (const i of range(TM)) {
    L.push(`  let s${i} = ${ldA(f.transA ? `k * p.M + cA${i}` : `rA${i} + k`)};`);
  }
  for (const j of range(J)) {
    L.push(
      `  let t${j} = ${
        quad(ldB, (q) => (f.transB ? `rB${4 * j + q} + k` : `k * p.N + cB${4 * j + q}`))
      };`,
    );
  }
  for (const i of range(TM)) {
    for (const j of range(J)) L.push(`  acc${i}_${j} = fma(vec4f(s${i}), t${j}, acc${i}_${j});`);
  }
  L.push("}");
  L.push(...storeTileWgsl(TM, J, f));
  const bindings: Record<string, string> = { a: `read ${vt(f.vecA)}`, b: `read ${vt(f.vecB)}` };
  if (f.bias) bindings.bias = `read ${vt(f.vecC)}`;
  bindings.c = `write ${vt(f.vecC)}`;
  return {
    name: "matmulRegisterTile",
    params,
    bindings,
    consts: { TM, TN, WGX, WGY, ACCUMULATE: f.accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WGX, WGY) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * TN;
  let m0 = gid.y * TM;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  let item = z / p.splits;
  let kBegin = (z - item * p.splits) * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  let aBase = item * p.strideA;
  let bBase = item * p.strideB;
  ${L.join("\n  ")}
}`,
  };
}

function workgroupTileKernel(f: Flags): KernelSpec {
  const bindings: Record<string, string> = { a: "read", b: "read" };
  if (f.bias) bindings.bias = "read";
  bindings.c = "write";
  return {
    name: "matmulWorkgroupTile",
    params,
    bindings,
    consts: {
      TILE: GPU_TILE,
      KT: GPU_KT,
      TRANS_A: f.transA,
      TRANS_B: f.transB,
      ACCUMULATE: f.accumulate,
    },
    code: /* wgsl */ `
var<workgroup> As: array<array<f32, TILE>, KT>; // [k][m]
var<workgroup> Bs: array<array<f32, TILE>, KT>; // [k][n]

@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wid: vec3u,
                                        @builtin(local_invocation_id) lid: vec3u) {
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let z = wid.z;
  let item = z / p.splits;
  let kBegin = (z - item * p.splits) * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  let aBase = item * p.strideA;
  let bBase = item * p.strideB;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = kBegin; k0 < kEnd; k0 += KT) {
    for (var r = 0u; r < TILE * KT / 256u; r++) {
      let e = t + 256u * r;
      // Consecutive threads read consecutive addresses of whichever axis is contiguous.
      var kk: u32; var mm: u32; var kb: u32; var nn: u32;
      if (TRANS_A) { mm = e % TILE; kk = e / TILE; } else { kk = e % KT; mm = e / KT; }
      if (TRANS_B) { kb = e % KT; nn = e / KT; } else { nn = e % TILE; kb = e / TILE; }
      let gm = m0 + mm; let gk = k0 + kk;
      var av = 0.0;
      if (gm < p.M && gk < kEnd) {
        if (TRANS_A) { av = a[aBase + gk * p.M + gm]; } else { av = a[aBase + gm * p.K + gk]; }
      }
      As[kk][mm] = av;
      let gn = n0 + nn; let gkb = k0 + kb;
      var bv = 0.0;
      if (gn < p.N && gkb < kEnd) {
        if (TRANS_B) { bv = b[bBase + gn * p.K + gkb]; } else { bv = b[bBase + gkb * p.N + gn]; }
      }
      Bs[kb][nn] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT; kk++) {
      var av: array<f32, 4>; var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = As[kk][lid.y + 16u * i]; bv[i] = Bs[kk][lid.x + 16u * i]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x + 16u * j;
      if (m < p.M && n < p.N) {
        let o = z * p.strideC + m * p.N + n;
        var v = acc[i][j];
        ${f.bias ? "v += bias[n];" : ""}
        if (ACCUMULATE) { v += c[o]; }
        c[o] = v;
      }
    }
  }
}`,
  };
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
 * K splits for a shape: enough output tiles to keep the device busy come first; a long K is split
 * only when the tiles alone cannot fill it. Chunks stay multiples of 4 for the vec4 loads.
 */
function chooseSplits(config: AdapterClass, M: number, N: number, K: number, batch: number) {
  const tiles = config === "cpu"
    ? Math.ceil(M / CPU_TILE.TM) * Math.ceil(N / CPU_TILE.TN) * batch
    : Math.ceil(M / GPU_TILE) * Math.ceil(N / GPU_TILE) * batch;
  const wantTiles = config === "cpu" ? 64 : 264; // invocations for 2+ cores / 2 waves of an H100
  const minChunk = config === "cpu" ? 512 : 256;
  if (tiles >= wantTiles || K < 2 * minChunk) return 1;
  return Math.max(1, Math.min(Math.ceil(wantTiles / tiles), Math.floor(K / minChunk), 32));
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
  const config = usesTexturePath(gpu, args.config) ? "cpu" : "gpu";
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

  let splits = args.splits ?? chooseSplits(config, M, N, K, batch);
  const kChunk = Math.ceil(K / splits / 4) * 4;
  splits = Math.ceil(K / kChunk);
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
  if (config === "cpu" && cpuTexturesFit(gpu, { M, N, K, batch, strideA, strideB })) {
    first = await cpuTextureGemm(gpu, {
      ...shape,
      a,
      b,
      c: out,
      bias: outBias,
      batch,
      transA,
      transB,
      flags: { bias: flags.bias, accumulate: flags.accumulate, vecC: flags.vecC },
    });
  } else {
    const spec = config === "cpu" ? registerTileKernel(flags) : workgroupTileKernel(flags);
    const tileM = config === "cpu" ? CPU.TM * CPU.WGY : GPU_TILE;
    const tileN = config === "cpu" ? CPU.TN * CPU.WGX : GPU_TILE;
    const groups: [number, number, number] = [
      Math.ceil(N / tileN),
      Math.ceil(M / tileM),
      batch * splits,
    ];
    const buffers: Record<string, Tensor> = { a, b, c: out };
    if (outBias) buffers.bias = outBias;
    first = [await createDispatch(gpu, spec, buffers, groups, shape)];
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
