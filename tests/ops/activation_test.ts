import {
  gegluBackward,
  gegluForward,
  geluBackward,
  geluForward,
  siluBackward,
  siluForward,
} from "../../gpu/ops/activation.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import {
  assertClose,
  assertGradientMatchesFD,
  dot,
  getGpu,
  gpuTensor,
  makeRng,
  poisoned,
  randn,
  read,
} from "../util.ts";

const silu = (v: number) => v / (1 + Math.exp(-v));
const siluGrad = (v: number) => {
  const s = 1 / (1 + Math.exp(-v));
  return s * (1 + v * (1 - s));
};

Deno.test("silu forward and backward match float64 and finite differences", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 1000 + Math.floor(rng.next() * 37); // not a multiple of the workgroup
  const x = randn(rng, n, 3);
  const r = randn(rng, n);
  const xt = gpuTensor(gpu, x, [n]);
  const rt = gpuTensor(gpu, r, [n]);
  const y = poisoned(gpu, [n]);
  const dx = poisoned(gpu, [n]);
  await runNow(gpu, [await siluForward(gpu, xt, y), await siluBackward(gpu, xt, rt, dx)]);

  assertClose(await read(gpu, y), x.map(silu), 1e-6, "silu forward", rng.seed);
  const analytic = x.map((v, i) => r[i] * siluGrad(v));
  assertGradientMatchesFD((v) => dot(v.map(silu), r), x, analytic, rng, "silu float64 gradient");
  assertClose(await read(gpu, dx), analytic, 1e-6, "silu backward", rng.seed);

  // accumulate: dx += g on top of what is there.
  await runNow(gpu, [await siluBackward(gpu, xt, rt, dx, true)]);
  assertClose(await read(gpu, dx), analytic.map((g) => 2 * g), 1e-6, "silu backward +=", rng.seed);
});

// Float64 erfc: Taylor series of erf below 2.5 (terms stay < 20, so ~1e-14), Lentz-free backward
// evaluation of the continued fraction above (200 levels converge far past float64 there).
function erfc64(x: number): number {
  if (x < 0) return 2 - erfc64(-x);
  if (x < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= -x * x / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = x;
  for (let k = 200; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
const normalCdf = (v: number) => 0.5 * erfc64(-v / Math.SQRT2);
const normalPdf = (v: number) => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
const gelu = (v: number) => v * normalCdf(v);
/** The spacing of f32 values at |v| (subnormal spacing at the bottom). */
const f32Ulp = (v: number) => {
  const a = Math.abs(Math.fround(v));
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
};
const geluGrad = (v: number) => normalCdf(v) + v * normalPdf(v);

Deno.test("float64 erfc reference matches known values", () => {
  // erfc at 1, 2.5 and 4 to 17 digits (from 40-digit arithmetic).
  const known: [number, number][] = [
    [1, 0.15729920705028513],
    [2.5, 4.0695201744495894e-4],
    [4, 1.5417257900280019e-8],
  ];
  for (const [x, want] of known) {
    const err = Math.abs(erfc64(x) - want) / want;
    if (!(err < 1e-12)) throw new Error(`erfc64(${x}) = ${erfc64(x)}, want ${want}`);
  }
});

Deno.test("gelu forward and backward match float64 per element and finite differences", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  // Random values plus the seams of the erf pieces (|x|/sqrt2 = 0.5 and 2.5) and deep tails.
  const seams = [0.5, 2.5].flatMap((
    t,
  ) => [t * Math.SQRT2, Math.fround(t * Math.SQRT2) * (1 + 1e-7)]);
  const special = [0, 1e-3, 6, 9, 12, 20, ...seams].flatMap((v) => [v, -v]).map(Math.fround);
  const random = Array.from(randn(rng, 997 + Math.floor(rng.next() * 37), 3));
  // A dense grid over both tails: the worst elements (-4.55, seed 984361845, 5.4 ulps) sit between
  // random draws, so a bound checked on random values alone passed or failed by the seed.
  const grid = Array.from({ length: 24001 }, (_, i) => Math.fround(-12 + i / 1000));
  const x = Float64Array.from([...special, ...random, ...grid]);
  const n = x.length;
  const r = randn(rng, n);
  const xt = gpuTensor(gpu, x, [n]);
  const rt = gpuTensor(gpu, r, [n]);
  const y = poisoned(gpu, [n]);
  const dx = poisoned(gpu, [n]);
  await runNow(gpu, [await geluForward(gpu, xt, y), await geluBackward(gpu, xt, rt, dx)]);

  const want = x.map(gelu);
  const got = await read(gpu, y);
  // Element-wise, in f32 ulps of the answer: within 2 for x > -0.7; in the negative tail the
  // builtin exp (3.3 ulps on llvmpipe) and the erfc series (3.9) add up to 6.4 at most over a sweep
  // of 400,000 values from -12 to 12.
  for (let i = 0; i < n; i++) {
    const ulps = Math.abs(got[i] - want[i]) / f32Ulp(want[i]);
    if (!(ulps <= (x[i] > -0.7 ? 2 : 8))) {
      throw new Error(
        `gelu(${x[i]}) = ${got[i]}, want ${want[i]}: ${ulps.toFixed(1)} ulps (seed ${rng.seed})`,
      );
    }
  }
  assertClose(got, want, 1e-6, "gelu forward", rng.seed);
  const analytic = x.map((v, i) => r[i] * geluGrad(v));
  assertGradientMatchesFD((v) => dot(v.map(gelu), r), x, analytic, rng, "gelu float64 gradient");
  assertClose(await read(gpu, dx), analytic, 1e-6, "gelu backward", rng.seed);

  await runNow(gpu, [await geluBackward(gpu, xt, rt, dx, true)]);
  assertClose(await read(gpu, dx), analytic.map((g) => 2 * g), 1e-6, "gelu backward +=", rng.seed);
});

function gegluReference(x: Float64Array, rows: number, features: number): Float64Array {
  const y = new Float64Array(rows * features);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < features; f++) {
      const a = x[r * 2 * features + f];
      const g = x[r * 2 * features + features + f];
      y[r * features + f] = a * gelu(g);
    }
  }
  return y;
}

Deno.test("geglu forward and backward match float64 and finite differences", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const rows = 7;
  const features = 37;
  const x = randn(rng, rows * 2 * features, 2);
  const r = randn(rng, rows * features);
  const xt = gpuTensor(gpu, x, [rows, 2 * features]);
  const rt = gpuTensor(gpu, r, [rows, features]);
  const y = poisoned(gpu, [rows, features]);
  const dx = poisoned(gpu, [rows, 2 * features]);
  await runNow(gpu, [
    await gegluForward(gpu, { x: xt, y, rows, features }),
    await gegluBackward(gpu, { x: xt, dy: rt, dx, rows, features }),
  ]);
  assertClose(
    await read(gpu, y),
    gegluReference(x, rows, features),
    1e-6,
    "geglu forward",
    rng.seed,
  );

  const analytic = new Float64Array(x.length);
  for (let row = 0; row < rows; row++) {
    for (let f = 0; f < features; f++) {
      const ia = row * 2 * features + f;
      const ig = ia + features;
      const d = r[row * features + f];
      analytic[ia] = d * gelu(x[ig]);
      analytic[ig] = d * x[ia] * geluGrad(x[ig]);
    }
  }
  assertGradientMatchesFD(
    (v) => dot(gegluReference(v, rows, features), r),
    x,
    analytic,
    rng,
    "geglu float64 gradient",
  );
  assertClose(await read(gpu, dx), analytic, 1e-6, "geglu backward", rng.seed);

  await runNow(gpu, [
    await gegluBackward(gpu, { x: xt, dy: rt, dx, rows, features, accumulate: true }),
  ]);
  assertClose(await read(gpu, dx), analytic.map((g) => 2 * g), 1e-6, "geglu backward +=", rng.seed);
});
