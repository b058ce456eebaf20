import { dropoutBackward, dropoutForward, maskClassVectors } from "../../gpu/ops/dropout.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { createSeed, setSeed } from "../../gpu/runtime/random.ts";
import { assertClose, getGpu, gpuTensor, makeRng, poisoned, randn, read } from "../util.ts";

function fail(message: string, seed: number): never {
  throw new Error(`${message} (seed ${seed})`);
}

Deno.test("dropout: exact scaled values, keep rate 1-p, backward reuses the mask", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 20_000 + Math.floor(rng.next() * 37) * 4 + 3; // odd tail inside a Philox block
  const p = 0.1 + 0.3 * rng.next();
  const scale = Math.fround(1 / Math.fround(1 - p)); // torch: 1.0f / float(1 - p)
  // Nonzero inputs, so a zero output always means a dropped element.
  const x = randn(rng, n).map((v) => v === 0 ? 1 : v);
  const dy = randn(rng, n).map((v) => v === 0 ? 1 : v);
  const base = randn(rng, n);
  const seed = createSeed(gpu, (rng.next() * 2 ** 32) >>> 0);
  const xt = gpuTensor(gpu, x, [n]), dyt = gpuTensor(gpu, dy, [n]);
  const y = poisoned(gpu, [n]), dx = poisoned(gpu, [n]), dxAcc = gpuTensor(gpu, base, [n]);
  const yOther = poisoned(gpu, [n]);
  await runNow(gpu, [
    await dropoutForward(gpu, { x: xt, y, p, seed, stream: 5 }),
    await dropoutBackward(gpu, { dy: dyt, dx, p, seed, stream: 5 }),
    await dropoutBackward(gpu, { dy: dyt, dx: dxAcc, p, seed, stream: 5, accumulate: true }),
    await dropoutForward(gpu, { x: xt, y: yOther, p, seed, stream: 6 }),
  ]);
  const yv = await read(gpu, y), dxv = await read(gpu, dx), accv = await read(gpu, dxAcc);
  const other = await read(gpu, yOther);

  const keep = new Float64Array(n);
  let kept = 0, differ = 0;
  for (let i = 0; i < n; i++) {
    if (yv[i] === 0) keep[i] = 0;
    else if (yv[i] === Math.fround(x[i] * scale)) keep[i] = 1;
    else {fail(
        `y[${i}] = ${yv[i]} is neither 0 nor x*scale = ${Math.fround(x[i] * scale)}`,
        rng.seed,
      );}
    kept += keep[i];
    if ((other[i] !== 0) !== (keep[i] === 1)) differ++;
  }
  // Backward: exactly the forward's mask and scale.
  const expectedDx = dy.map((g, i) => keep[i] * Math.fround(g * scale));
  assertClose(dxv, expectedDx, 0, "dropout backward", rng.seed);
  assertClose(accv, base.map((b, i) => b + expectedDx[i]), 1e-6, "dropout backward +=", rng.seed);

  const rate = kept / n, se = Math.sqrt(p * (1 - p) / n);
  if (Math.abs(rate - (1 - p)) > 5 * se) fail(`keep rate ${rate}, want ${1 - p}`, rng.seed);
  // Another stream draws an independent mask: disagreement 2p(1-p) of the time.
  if (Math.abs(differ / n - 2 * p * (1 - p)) > 0.05) fail(`streams differ on ${differ}`, rng.seed);

  // A new step gives a new mask from the same dispatch.
  setSeed(gpu, seed, 1, 2);
  await runNow(gpu, [await dropoutForward(gpu, { x: xt, y, p, seed, stream: 5 })]);
  const yStep = await read(gpu, y);
  let changed = 0;
  for (let i = 0; i < n; i++) if ((yStep[i] === 0) !== (keep[i] === 0)) changed++;
  if (changed < n * p * (1 - p)) {
    fail(`only ${changed} mask entries changed with the step`, rng.seed);
  }
});

Deno.test("dropout: p = 0 is an exact copy, p = 1 all zeros", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 1037;
  const x = randn(rng, n, 100);
  const seed = createSeed(gpu, 42);
  const xt = gpuTensor(gpu, x, [n]);
  const y = poisoned(gpu, [n]), z = poisoned(gpu, [n]);
  await runNow(gpu, [
    await dropoutForward(gpu, { x: xt, y, p: 0, seed, stream: 1 }),
    await dropoutForward(gpu, { x: xt, y: z, p: 1, seed, stream: 1 }),
  ]);
  assertClose(await read(gpu, y), x, 0, "p = 0 copy", rng.seed);
  assertClose(await read(gpu, z), new Float64Array(n), 0, "p = 1 zeros", rng.seed);
});

Deno.test("maskClassVectors: whole rows zeroed with probability 1 - keep, same rows again", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const rows = 20_011, cols = 7, keepProbability = 0.95;
  const x = randn(rng, rows * cols).map((v) => v === 0 ? 1 : v);
  const g = randn(rng, rows * cols).map((v) => v === 0 ? 1 : v);
  const seed = createSeed(gpu, (rng.next() * 2 ** 32) >>> 0);
  const xt = gpuTensor(gpu, x, [rows, cols]), gt = gpuTensor(gpu, g, [rows, cols]);
  await runNow(gpu, [
    await maskClassVectors(gpu, { x: xt, rows, cols, keepProbability, seed, stream: 9 }),
    await maskClassVectors(gpu, { x: gt, rows, cols, keepProbability, seed, stream: 9 }),
  ]);
  const xv = await read(gpu, xt), gv = await read(gpu, gt);
  let dropped = 0;
  const expectX = new Float64Array(x), expectG = new Float64Array(g);
  for (let r = 0; r < rows; r++) {
    if (xv[r * cols] !== 0) continue;
    dropped++;
    expectX.fill(0, r * cols, (r + 1) * cols);
    expectG.fill(0, r * cols, (r + 1) * cols);
  }
  // Rows are all-or-nothing and the gradient pass zeroes the same rows.
  assertClose(xv, expectX, 0, "masked x", rng.seed);
  assertClose(gv, expectG, 0, "masked gradient", rng.seed);
  const q = 1 - keepProbability, se = Math.sqrt(q * (1 - q) / rows);
  if (Math.abs(dropped / rows - q) > 5 * se) fail(`dropped ${dropped / rows}, want ${q}`, rng.seed);
});
