import {
  type Precision,
  PROFILES,
  withPrecision,
  withProfile,
} from "../../../gpu/runtime/device.ts";
import type { BackendProfile } from "../../../gpu/runtime/profile.ts";
import { LLVMPIPE } from "../../../gpu/runtime/profiles/llvmpipe.ts";
import { runNow } from "../../../gpu/runtime/kernel.ts";
import { matmul, sumRows } from "../../../gpu/ops/matmul/matmul.ts";
import { gemmTile } from "../../../gpu/ops/matmul/tile.ts";
import {
  assertClose,
  getGpu,
  gpuTensor,
  makeRng,
  poisoned,
  randn,
  read,
  relativeError,
  type Rng,
} from "../../util.ts";

interface Case {
  M: number;
  N: number;
  K: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  accumulate?: boolean;
  strideA?: number;
  strideB?: number;
  strideC?: number;
  splits?: number;
  /** NaNs after each operand's last item: what a mirrored read past M or N finds. */
  nanTail?: boolean;
}

/** float64 C_i (=|+=) op(A_i) op(B_i) + bias over the strided layout, leaving gaps untouched. */
function referenceMatmul(
  cs: Required<Omit<Case, "splits" | "nanTail">>,
  a: Float64Array,
  b: Float64Array,
  bias: Float64Array | undefined,
  c0: Float64Array,
): Float64Array {
  const { M, N, K, batch, transA, transB, strideA, strideB, strideC } = cs;
  const c = c0.slice();
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = bias ? bias[n] : 0;
        for (let k = 0; k < K; k++) {
          const av = a[z * strideA + (transA ? k * M + m : m * K + k)];
          const bv = b[z * strideB + (transB ? n * K + k : k * N + n)];
          s += av * bv;
        }
        const o = z * strideC + m * N + n;
        c[o] = cs.accumulate ? c[o] + s : s;
      }
    }
  }
  return c;
}

/** The profile's technique for the precision, for the test names: "texture" or "buffer". */
const technique = (p: BackendProfile, precision: Precision) =>
  p.operands[precision].matmul.technique;

async function check(
  profile: BackendProfile,
  cs: Case,
  rng: Rng,
  precision: Precision = "f32",
) {
  const gpu = withPrecision(withProfile(await getGpu(), profile), precision);
  const what = `${technique(profile, precision)}, ${profile.name} profile`;
  const tail = (x: Float64Array) =>
    cs.nanTail ? Float64Array.from([...x, ...new Array(64).fill(NaN)]) : x;
  const full = {
    batch: 1,
    transA: false,
    transB: false,
    bias: false,
    accumulate: false,
    ...cs,
    strideA: cs.strideA ?? cs.M * cs.K,
    strideB: cs.strideB ?? cs.K * cs.N,
    strideC: cs.strideC ?? cs.M * cs.N,
  };
  const { M, N, K, batch } = full;
  const len = (stride: number, n: number) => (batch - 1) * stride + n;
  const a = randn(rng, len(full.strideA, M * K));
  const b = randn(rng, len(full.strideB, K * N));
  const bias = full.bias ? randn(rng, N) : undefined;
  const cLen = len(full.strideC, M * N);
  // Accumulating needs defined contents; otherwise NaN catches unwritten outputs, and gaps between
  // strided items must stay NaN.
  const c0 = full.accumulate ? randn(rng, cLen) : new Float64Array(cLen).fill(NaN);
  const ct = full.accumulate ? gpuTensor(gpu, c0, [cLen]) : poisoned(gpu, [cLen]);
  const dispatches = await matmul(gpu, {
    ...full,
    a: gpuTensor(gpu, tail(a), [tail(a).length]),
    b: gpuTensor(gpu, tail(b), [tail(b).length]),
    c: ct,
    bias: bias && gpuTensor(gpu, bias, [N]),
  });
  if (cs.splits && cs.splits > 1 && dispatches.at(-1)?.name !== "matmulSplitReduce") {
    throw new Error("split-K not taken");
  }
  await runNow(gpu, dispatches);
  if (cs.nanTail) {
    const [gemm] = dispatches.filter((d) => d.name.startsWith("matmulTextureTile"));
    if (gemm && !/\.[mtp]{2}$/.test(gemm.name)) throw new Error(`${gemm.name}: not mirrored`);
  }
  // f16 operands: the exact product of the f16-rounded operands, summed in f32.
  const f16 = (x: Float64Array) => precision === "f16" ? x.map(Math.f16round) : x;
  const want = referenceMatmul(full, f16(a), f16(b), bias, c0);
  const got = await read(gpu, ct);
  for (let i = 0; i < cLen; i++) {
    if (Number.isNaN(want[i]) !== Number.isNaN(got[i])) {
      throw new Error(`${what} ${JSON.stringify(cs)}: element ${i} written=${got[i]}`);
    }
  }
  const keep = (_: number, i: number) => !Number.isNaN(want[i]);
  assertClose(
    got.filter(keep),
    want.filter(keep),
    1e-5,
    `${what} ${precision} matmul ${JSON.stringify(cs)}`,
    rng.seed,
  );
  if (precision === "f16") {
    // ...and not the product of the f32 operands: the operands really were rounded.
    const exact = referenceMatmul(full, a, b, bias, c0).filter(keep);
    const err = relativeError(got.filter(keep), exact);
    if (!(err > 3e-5)) throw new Error(`f16 matmul ${JSON.stringify(cs)}: error ${err} vs f32`);
  }
}

const transposes = [[false, false], [true, false], [false, true], [true, true]];

// The texture GEMM as it was before it read aligned operands from their mirrors: every operand
// packed. It stays under test beside the mirrored reads of the llvmpipe profile.
const PACKED_LLVMPIPE: BackendProfile = {
  ...LLVMPIPE,
  name: "llvmpipe (packed operands)",
  operands: {
    f32: {
      ...LLVMPIPE.operands.f32,
      matmul: { ...LLVMPIPE.operands.f32.matmul, mirrorOperands: false },
    },
    f16: LLVMPIPE.operands.f16,
  },
};

for (const profile of [...PROFILES, PACKED_LLVMPIPE]) {
  const name = `${technique(profile, "f32")}, ${profile.name} profile`;
  Deno.test(`matmul (${name}): every transpose, odd and aligned sizes, one row`, async () => {
    const rng = makeRng();
    for (const [transA, transB] of transposes) {
      await check(profile, { M: 13, N: 7, K: 37, transA, transB }, rng); // scalar loads, K tail
      await check(profile, { M: 20, N: 36, K: 44, transA, transB }, rng); // vec4 loads, edge tiles
    }
    await check(profile, { M: 1, N: 37, K: 12 }, rng);
    await check(profile, { M: 1, N: 40, K: 13, transB: true }, rng);
    await check(profile, { M: 29, N: 1, K: 5, transA: true }, rng);
  });

  Deno.test(`matmul (${name}): batch strides, broadcast, bias, accumulate`, async () => {
    const rng = makeRng();
    // B broadcast (stride 0), A and C with gaps between items.
    await check(profile, {
      M: 9,
      N: 12,
      K: 8,
      batch: 3,
      strideA: 9 * 8 + 3,
      strideB: 0,
      strideC: 9 * 12 + 5,
      bias: true,
    }, rng);
    // Aligned strides keep the vec4 path; A broadcast.
    await check(profile, {
      M: 8,
      N: 12,
      K: 20,
      batch: 2,
      transB: true,
      strideA: 0,
      strideC: 8 * 12 + 64,
      bias: true,
      accumulate: true,
    }, rng);
    await check(profile, { M: 13, N: 7, K: 37, bias: true, accumulate: true }, rng);
    await check(profile, { M: 17, N: 20, K: 36, transA: true, bias: true }, rng);
    // 1100 items of 16 packed rows pass llvmpipe's 16384 texture rows: the texture technique's
    // buffer fallback.
    await check(profile, { M: 3, N: 5, K: 7, batch: 1100, transB: true, bias: true }, rng);
  });

  Deno.test(`matmul (${name}): split-K, forced and chosen`, async () => {
    const rng = makeRng();
    await check(
      profile,
      { M: 7, N: 5, K: 50, splits: 3, batch: 2, bias: true, accumulate: true },
      rng,
    );
    await check(
      profile,
      { M: 12, N: 8, K: 64, splits: 4, transA: true, strideC: 100, batch: 2 },
      rng,
    );
    await check(profile, { M: 5, N: 9, K: 3000, transA: true }, rng); // few tiles, long K: split
  });
}

Deno.test("matmul (texture, llvmpipe profile): aligned f32 operands are read from their mirrors, unpacked", async () => {
  const rng = makeRng();
  const gpu = withProfile(await getGpu(), LLVMPIPE);
  for (const [transA, transB] of transposes) {
    // Edge tiles on both axes: the reads past M and N run into the NaN tails.
    const cs = { M: 20, N: 36, K: 44, transA, transB, nanTail: true };
    await check(LLVMPIPE, cs, rng);
    await check(LLVMPIPE, {
      ...cs,
      batch: 3,
      strideA: 20 * 44 + 8,
      strideC: 20 * 36 + 4,
      bias: true,
    }, rng);
    const dispatches = await matmul(gpu, {
      ...cs,
      a: gpuTensor(gpu, randn(rng, 20 * 44), [20 * 44]),
      b: gpuTensor(gpu, randn(rng, 36 * 44), [36 * 44]),
      c: poisoned(gpu, [20 * 36]),
    });
    const names = dispatches.map((d) => d.name);
    const gemm = `matmulTextureTile.${transA ? "t" : "m"}${transB ? "t" : "m"}`;
    if (names.includes("matmulPackTexture") || !names.includes(gemm)) {
      throw new Error(`transA=${transA} transB=${transB}: ${names.join(", ")}`);
    }
  }
  // Broadcast B, split K, one operand mirrored and one packed (a K tail of 2 packs both).
  await check(
    LLVMPIPE,
    { M: 24, N: 12, K: 2048, batch: 2, strideB: 0, splits: 4, nanTail: true },
    rng,
  );
  await check(LLVMPIPE, { M: 20, N: 6, K: 44, transA: true, nanTail: true }, rng);
});

Deno.test("matmul (texture, llvmpipe profile): 12- or 8-column tiles, whichever pads N less", async () => {
  const rng = makeRng();
  const gpu = withProfile(await getGpu(), LLVMPIPE);
  const plan = LLVMPIPE.operands.f32;
  const widths = [plan.textureTile, ...plan.textureTileChoices ?? []].map((t) => t.TN).sort();
  if (widths.join() !== "12,8") throw new Error(`the llvmpipe profile's tiles: ${widths}`);
  // gemmTile's choice: N = 96 is one full workgroup of 12-column tiles (two of 8-column ones, one
  // half idle); N = 64 fits 8-column tiles exactly, 40 and im2col's 292 pad less to 8 columns,
  // and 192 is a tie (three workgroups of either), which goes to textureTile (12).
  for (const [N, TN] of [[96, 12], [90, 12], [80, 12], [192, 12], [64, 8], [40, 8], [292, 8]]) {
    if (gemmTile(gpu, N).TN !== TN) throw new Error(`N = ${N}: ${gemmTile(gpu, N).TN} columns`);
  }
  for (const [transA, transB] of transposes) {
    // Mirrored (reads past N run into the NaN tail) and packed; an edge tile along N (90).
    await check(LLVMPIPE, { M: 36, N: 96, K: 20, transA, transB, nanTail: true }, rng);
    await check(PACKED_LLVMPIPE, { M: 20, N: 90, K: 13, transA, transB, bias: true }, rng);
  }
  await check(LLVMPIPE, { M: 33, N: 96, K: 48, batch: 3, strideA: 0, accumulate: true }, rng);
  await check(LLVMPIPE, { M: 5, N: 96, K: 3000, transA: true }, rng); // split-K
  const dispatches = await matmul(gpu, {
    M: 36,
    N: 96,
    K: 20,
    a: gpuTensor(gpu, randn(rng, 36 * 20), [36 * 20]),
    b: gpuTensor(gpu, randn(rng, 96 * 20), [96 * 20]),
    c: poisoned(gpu, [36 * 96]),
  });
  const gemm = dispatches.find((d) => d.name.startsWith("matmulTextureTile"));
  if (gemm?.workgroups[0] !== 1) {
    throw new Error(`N = 96 ran ${gemm?.workgroups[0]} workgroups wide`);
  }
});

for (const profile of PROFILES) {
  // Each profile's f16 plan: f16 operands live in textures, so it must take the texture technique.
  const name = `${technique(profile, "f16")}, ${profile.name} profile`;
  Deno.test(`matmul with f16 operands (${name}): f32 sums of the rounded operands`, async () => {
    const rng = makeRng();
    for (const [transA, transB] of transposes) {
      await check(profile, { M: 20, N: 36, K: 44, transA, transB, bias: true }, rng, "f16");
    }
    await check(profile, { M: 13, N: 7, K: 37, accumulate: true }, rng, "f16");
    await check(profile, { M: 12, N: 8, K: 64, splits: 4, transA: true, batch: 2 }, rng, "f16");
  });
}

Deno.test("sumRows matches float64, overwrite and accumulate", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const rows = 37, cols = 70;
  const x = randn(rng, rows * cols);
  const want = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[c] += x[r * cols + c];
  const xt = gpuTensor(gpu, x, [rows, cols]);
  const y = poisoned(gpu, [cols]);
  await runNow(gpu, [await sumRows(gpu, { x: xt, y, rows, cols })]);
  assertClose(await read(gpu, y), want, 1e-5, "sumRows", rng.seed);
  await runNow(gpu, [await sumRows(gpu, { x: xt, y, rows, cols, accumulate: true })]);
  assertClose(await read(gpu, y), want.map((v) => 2 * v), 1e-5, "sumRows +=", rng.seed);
});
