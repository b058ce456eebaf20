import { createDispatch, runNow } from "../../gpu/runtime/kernel.ts";
import {
  createSeed,
  fillNormal,
  fillUniform,
  RANDOM_WGSL,
  randomTimesteps,
  setSeed,
} from "../../gpu/runtime/random.ts";
import { createTensor, fill, readbackU32 } from "../../gpu/runtime/tensor.ts";
import { assertClose, getGpu, makeRng, poisoned, read } from "../util.ts";

/** Philox4x32-10 on the host, from the Random123 paper's definition. */
function philox(counter: number[], key: number[]): number[] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let r = 0; r < 10; r++) {
    const p0 = BigInt(0xD2511F53) * BigInt(c0);
    const p1 = BigInt(0xCD9E8D57) * BigInt(c2);
    const hi0 = Number(p0 >> 32n), lo0 = Number(p0 & 0xffffffffn);
    const hi1 = Number(p1 >> 32n), lo1 = Number(p1 & 0xffffffffn);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9E3779B9) >>> 0;
    k1 = (k1 + 0xBB67AE85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

const hex = (ws: number[]) => ws.map((w) => w.toString(16).padStart(8, "0")).join(" ");

/** Standard normal CDF. */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  // Numerical Recipes erfcc: fractional error below 1.2e-7, enough for a KS test.
  const erfc = t * Math.exp(
    -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                  t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                                  t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

/** Kolmogorov-Smirnov statistic sqrt(n) * D; above 2.5 happens with probability 1e-5. */
function ksStatistic(samples: Float32Array, cdf: (x: number) => number): number {
  const s = Float64Array.from(samples).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
  }
  return Math.sqrt(n) * d;
}

function moments(x: Float32Array) {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  return { mean, variance: variance / (x.length - 1) };
}

Deno.test("philox: host reference matches the Random123 known-answer vectors", () => {
  assertEqualStr(hex(philox([0, 0, 0, 0], [0, 0])), "6627e8d5 e169c58d bc57ac4c 9b00dbd8");
  assertEqualStr(
    hex(philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    "d16cfe09 94fdcceb 5001e420 24126ea1",
  );
});

function assertEqualStr(a: string, b: string) {
  if (a !== b) throw new Error(`got ${a}, want ${b}`);
}

Deno.test("rand_u32 in WGSL is bit-exact Philox4x32-10 of (block, step | seed, stream)", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 37;
  const seedValue = (rng.next() * 2 ** 32) >>> 0;
  const step = (rng.next() * 2 ** 32) >>> 0;
  const stream = (rng.next() * 2 ** 32) >>> 0;
  const seed = createSeed(gpu, seedValue);
  setSeed(gpu, seed, seedValue, step);
  const out = createTensor(gpu, [n], "u32");
  fill(gpu, out, 0xdeadbeef);
  const spec = {
    name: "rand_u32_probe",
    params: { n: "u32", stream: "u32" } as const,
    bindings: { seed: "read array<u32>", out: "write array<u32>" },
    code: RANDOM_WGSL + `
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.n) { out[gid.x] = rand_u32(seed[0], seed[1], p.stream, gid.x); }
}`,
  };
  await runNow(gpu, [await createDispatch(gpu, spec, { seed, out }, [1], { n, stream })]);
  const got = Array.from(await readbackU32(gpu, out));
  const want = Array.from(
    { length: n },
    (_, i) => philox([i >> 2, step, 0, 0], [seedValue, stream])[i & 3],
  );
  assertEqualStr(hex(got), hex(want));
});

Deno.test("uniform and normal fills: deterministic, new per step and stream, right law", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 100_003; // odd tail: not a multiple of 4 elements per invocation
  const seedValue = (rng.next() * 2 ** 32) >>> 0;
  const seed = createSeed(gpu, seedValue);
  const u = poisoned(gpu, [n]);
  const z = poisoned(gpu, [n]);
  const u2 = poisoned(gpu, [n]);
  const fills = [
    await fillUniform(gpu, { out: u, seed, stream: 3 }),
    await fillNormal(gpu, { out: z, seed, stream: 3 }),
    await fillUniform(gpu, { out: u2, seed, stream: 4 }),
  ];
  await runNow(gpu, fills);
  const uA = await read(gpu, u), zA = await read(gpu, z), u2A = await read(gpu, u2);

  // Same seed and step: identical numbers.
  fill(gpu, u, NaN);
  fill(gpu, z, NaN);
  await runNow(gpu, fills);
  assertClose(await read(gpu, u), uA, 0, "uniform repeat", rng.seed);
  assertClose(await read(gpu, z), zA, 0, "normal repeat", rng.seed);

  // A new step (the same recorded dispatches) or another stream: different numbers.
  setSeed(gpu, seed, seedValue, 1);
  await runNow(gpu, fills);
  const uB = await read(gpu, u), zB = await read(gpu, z);
  for (
    const [a, b, what] of [[uA, uB, "uniform step"], [zA, zB, "normal step"], [
      uA,
      u2A,
      "stream",
    ]] as const
  ) {
    let same = 0;
    for (let i = 0; i < n; i++) if (a[i] === b[i]) same++;
    if (same > 20) throw new Error(`${what}: ${same} of ${n} values repeat (seed ${rng.seed})`);
  }

  const se = 1 / Math.sqrt(n);
  for (const x of [uA, uB, u2A]) {
    let lo = Infinity, hi = -Infinity;
    for (const v of x) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    if (!(lo >= 0 && hi < 1)) throw new Error(`uniform out of [0, 1): ${lo} .. ${hi}`);
    const { mean, variance } = moments(x);
    // U[0,1): mean 1/2 (sd 1/sqrt(12 n)), variance 1/12 (sd sqrt(1/180 n)).
    if (Math.abs(mean - 0.5) > 5 * se / Math.sqrt(12)) throw new Error(`uniform mean ${mean}`);
    if (Math.abs(variance - 1 / 12) > 5 * se / Math.sqrt(180)) {
      throw new Error(`uniform variance ${variance}`);
    }
    const ks = ksStatistic(x, (v) => v);
    if (ks > 2.5) throw new Error(`uniform KS ${ks} (seed ${rng.seed})`);
  }
  for (const x of [zA, zB]) {
    if (!x.every(Number.isFinite)) throw new Error("normal: non-finite value");
    const { mean, variance } = moments(x);
    if (Math.abs(mean) > 5 * se) throw new Error(`normal mean ${mean} (seed ${rng.seed})`);
    if (Math.abs(variance - 1) > 5 * se * Math.SQRT2) {
      throw new Error(`normal variance ${variance} (seed ${rng.seed})`);
    }
    const ks = ksStatistic(x, normalCdf);
    if (ks > 2.5) throw new Error(`normal KS ${ks} (seed ${rng.seed})`);
  }
  // Neighbouring elements (cos and sin of one Box-Muller pair) must be uncorrelated.
  let corr = 0;
  for (let i = 0; i + 1 < n; i += 2) corr += zA[i] * zA[i + 1];
  corr /= n / 2;
  if (Math.abs(corr) > 5 / Math.sqrt(n / 2)) throw new Error(`pair correlation ${corr}`);
});

Deno.test("random timesteps: integers in [0, count), uniform by chi-square", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 100_001, count = 1000;
  const seed = createSeed(gpu, (rng.next() * 2 ** 32) >>> 0);
  const t = poisoned(gpu, [n]);
  await runNow(gpu, [await randomTimesteps(gpu, { out: t, seed, stream: 7, count })]);
  const hist = new Float64Array(count);
  for (const v of await read(gpu, t)) {
    if (!(Number.isInteger(v) && v >= 0 && v < count)) throw new Error(`timestep ${v}`);
    hist[v]++;
  }
  const expected = n / count;
  let chi2 = 0;
  for (const h of hist) chi2 += (h - expected) ** 2 / expected;
  // 999 degrees of freedom: mean 999, sd sqrt(2 * 999) = 44.7; 6 sd is a one-in-1e9 false alarm.
  if (Math.abs(chi2 - (count - 1)) > 6 * Math.sqrt(2 * (count - 1))) {
    throw new Error(`chi-square ${chi2} for ${count - 1} dof (seed ${rng.seed})`);
  }
});
