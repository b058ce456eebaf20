// The GEMM kernels that read their operands from storage buffers, both register-blocked:
// - register tile: every invocation owns a TM x TN tile in registers, K advances 4 at a time, vec4
//   loads where aligned; no workgroup memory, no barriers (llvmpipe's fallback past the texture size
//   limit, and the texture-tile kernel's epilogue: storeTileWgsl);
// - workgroup tile: a 64x64 tile per workgroup staged through workgroup memory, 16x16 threads of 4x4
//   outputs each (GPUs).
// Which one runs, and its tile, is the backend profile's (`bufferKernel`); the op, its argument
// checks and split-K are in matmul.ts. Shapes and layouts as there:
//   C_i (=|+=) op(A_i) · op(B_i) (+ bias), A_i stored [M, K] ([K, M] when transA), B_i [K, N] ([N, K]).
import type { Gpu } from "../../runtime/device.ts";
import { createDispatch, type Dispatch, type KernelSpec } from "../../runtime/kernel.ts";
import type { BufferGemmKernel, RegisterTile } from "../../runtime/profile.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import { f32Array, range, XYZW } from "../../runtime/wgsl.ts";

export interface Flags {
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

/** The uniform parameters both kernels take (kChunk: elements of K per split). */
export type GemmParams = { [name in keyof typeof params]: number };

function registerTileKernel(tile: RegisterTile, f: Flags): KernelSpec {
  const { TM, TN, WGX, WGY } = tile;
  const J = TN / 4;
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
    aAt = (i, kk) => `a${i}.${XYZW[kk]}`;
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
    aAt = (i, kk) => `a${kk}_${i >> 2}.${XYZW[i & 3]}`;
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
            range(4).map((q) => `bt${4 * j + q}.${XYZW[kk]}`).join(", ")
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
  const bindings: Record<string, string> = {
    a: `read ${f32Array(f.vecA)}`,
    b: `read ${f32Array(f.vecB)}`,
  };
  if (f.bias) bindings.bias = `read ${f32Array(f.vecC)}`;
  bindings.c = `write ${f32Array(f.vecC)}`;
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

function workgroupTileKernel(tile: number, kTile: number, f: Flags): KernelSpec {
  // 16x16 threads of 4x4 outputs, and whole rounds of 256 staged loads per K step.
  if (tile !== 64 || (tile * kTile) % 256 !== 0) {
    throw new Error(
      `matmul: workgroup tile ${tile} x ${kTile} (the kernel is written for 64 x 4k)`,
    );
  }
  const bindings: Record<string, string> = { a: "read", b: "read" };
  if (f.bias) bindings.bias = "read";
  bindings.c = "write";
  return {
    name: "matmulWorkgroupTile",
    params,
    bindings,
    consts: {
      TILE: tile,
      KT: kTile,
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

/**
 * C (=|+=) op(A) op(B) (+ bias) for `items` batch items x `p.splits` K chunks on the profile's buffer
 * kernel: one dispatch. With splits > 1, `c` is the [items, splits, M, N] scratch of split-K.
 */
export function bufferGemm(
  gpu: Gpu,
  kernel: BufferGemmKernel,
  g: { a: Tensor; b: Tensor; c: Tensor; bias?: Tensor; flags: Flags; items: number; p: GemmParams },
): Promise<Dispatch> {
  const [spec, tileM, tileN] = kernel.kind === "registerTile"
    ? [
      registerTileKernel(kernel.tile, g.flags),
      kernel.tile.TM * kernel.tile.WGY,
      kernel.tile.TN * kernel.tile.WGX,
    ]
    : [workgroupTileKernel(kernel.tile, kernel.kTile, g.flags), kernel.tile, kernel.tile];
  const buffers: Record<string, Tensor> = { a: g.a, b: g.b, c: g.c };
  if (g.bias) buffers.bias = g.bias;
  return createDispatch(gpu, spec, buffers, [
    Math.ceil(g.p.N / tileN),
    Math.ceil(g.p.M / tileM),
    g.items * g.p.splits,
  ], g.p);
}

/**
 * WGSL that writes a TM x 4J register tile (accumulators acc{i}_{j}, vec4 along n) to C at rows
 * m0.., columns n0.. of batch item z, with bias and ACCUMULATE, skipping rows and columns past the
 * matrix: the epilogue of the register-tile kernels (this one and texture.ts's).
 */
export function storeTileWgsl(
  TM: number,
  J: number,
  f: { vecC: boolean; bias: boolean },
): string[] {
  const L: string[] = [];
  L.push("let cBase = z * p.strideC;");
  for (const i of range(TM)) {
    L.push(`if (m0 + ${i}u < p.M) {`, `  let row = cBase + (m0 + ${i}u) * p.N + n0;`);
    for (const j of range(J)) {
      if (f.vecC) {
        L.push(`  if (n0 + ${4 * j}u < p.N) {`, `    var v = acc${i}_${j};`);
        if (f.bias) L.push(`    v += bias[(n0 >> 2u) + ${j}u];`);
        L.push(
          `    let o = (row >> 2u) + ${j}u;`,
          "    if (ACCUMULATE) { v += c[o]; }",
          "    c[o] = v;",
          "  }",
        );
      } else {
        for (const q of range(4)) {
          const n = 4 * j + q;
          L.push(`  if (n0 + ${n}u < p.N) {`, `    var v = acc${i}_${j}.${XYZW[q]};`);
          if (f.bias) L.push(`    v += bias[n0 + ${n}u];`);
          L.push(
            `    if (ACCUMULATE) { v += c[row + ${n}u]; }`,
            `    c[row + ${n}u] = v;`,
            "  }",
          );
        }
      }
    }
    L.push("}");
  }
  return L;
}
