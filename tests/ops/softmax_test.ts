import { softmaxBackward, softmaxForward } from "../../gpu/ops/softmax.ts";
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

// float64 reference: row-wise softmax of x [rows, cols].
function softmaxRef(x: Float64Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]);
    let total = 0;
    for (let j = 0; j < cols; j++) total += y[r * cols + j] = Math.exp(x[r * cols + j] - m);
    for (let j = 0; j < cols; j++) y[r * cols + j] /= total;
  }
  return y;
}

// Analytic gradient of sum(softmax(x) * dy) with respect to x.
function softmaxGradRef(y: Float64Array, dy: Float64Array, rows: number, cols: number) {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let d = 0;
    for (let j = 0; j < cols; j++) d += y[r * cols + j] * dy[r * cols + j];
    for (let j = 0; j < cols; j++) dx[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - d);
  }
  return dx;
}

async function checkSoftmax(rows: number, cols: number, rowOffset: number, tol: number) {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = rows * cols;
  // softmax is invariant to a shift of its row, so a large per-row offset keeps the result
  // well conditioned while pushing exp() past f32's range unless the row max is subtracted.
  const offsets = randn(rng, rows, rowOffset);
  const x = randn(rng, n, 2).map((v, i) => Math.fround(v + offsets[Math.floor(i / cols)]));
  const r = randn(rng, n);
  const xt = gpuTensor(gpu, x, [rows, cols]);
  const rt = gpuTensor(gpu, r, [rows, cols]);
  const y = poisoned(gpu, [rows, cols]);
  const dx = poisoned(gpu, [rows, cols]);
  await runNow(gpu, [
    await softmaxForward(gpu, { x: xt, y, rows, cols }),
    await softmaxBackward(gpu, { y, dy: rt, dx, rows, cols }),
  ]);

  const yRef = softmaxRef(x, rows, cols);
  assertClose(await read(gpu, y), yRef, tol, `softmax forward ${rows}x${cols}`, rng.seed);
  const analytic = softmaxGradRef(yRef, r, rows, cols);
  assertGradientMatchesFD(
    (v) => dot(softmaxRef(v, rows, cols), r),
    x,
    analytic,
    rng,
    "softmax float64 gradient",
  );
  assertClose(await read(gpu, dx), analytic, tol, `softmax backward ${rows}x${cols}`, rng.seed);

  // accumulate onto arbitrary existing values, not just onto its own result.
  const base = randn(rng, n);
  const dxAcc = gpuTensor(gpu, base, [rows, cols]);
  await runNow(gpu, [
    await softmaxBackward(gpu, { y, dy: rt, dx: dxAcc, rows, cols, accumulate: true }),
  ]);
  assertClose(
    await read(gpu, dxAcc),
    analytic.map((g, i) => g + base[i]),
    tol,
    "softmax backward +=",
    rng.seed,
  );
}

Deno.test("softmax forward and backward, odd sizes", () => checkSoftmax(37, 13, 1, 1e-5));

Deno.test("softmax of one column is exactly 1 and has zero gradient", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const rows = 23;
  const xt = gpuTensor(gpu, randn(rng, rows, 5), [rows, 1]);
  const rt = gpuTensor(gpu, randn(rng, rows), [rows, 1]);
  const y = poisoned(gpu, [rows, 1]);
  const dx = poisoned(gpu, [rows, 1]);
  await runNow(gpu, [
    await softmaxForward(gpu, { x: xt, y, rows, cols: 1 }),
    await softmaxBackward(gpu, { y, dy: rt, dx, rows, cols: 1 }),
  ]);
  assertClose(
    await read(gpu, y),
    new Float64Array(rows).fill(1),
    0,
    "softmax of 1 column",
    rng.seed,
  );
  assertClose(await read(gpu, dx), new Float64Array(rows), 0, "softmax 1-column grad", rng.seed);
});

// Row offsets of ~±300 overflow (or underflow to 0/0) exp() in f32 unless the row max is
// subtracted; x - max stays exact (Sterbenz), so the tolerance need not be looser.
Deno.test("softmax is stable for large logits", () => checkSoftmax(19, 11, 300, 1e-5));
