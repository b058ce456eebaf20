import { ok } from "node:assert/strict";
import { crossEntropyLoss } from "../../gpu/ops/cross_entropy.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import {
  assertClose,
  assertGradientMatchesFD,
  getGpu,
  gpuTensor,
  makeRng,
  poisoned,
  randn,
  read,
} from "../util.ts";

/**
 * A row's largest logit m (its index `top`) and the others' sum of exp(x - m). Both references
 * are written from them, as the kernel is: for a confident row the loss and the top gradient are
 * tiny, and (m + log(sum)) - x or softmax - 1 would leave only float64's rounding of m, whose noise
 * the finite differences would then measure.
 */
function rowStats(row: Float64Array) {
  let top = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[top]) top = j;
  const m = row[top];
  let rest = 0;
  for (let j = 0; j < row.length; j++) if (j !== top) rest += Math.exp(row[j] - m);
  return { top, m, rest };
}

/** float64: mean_r sum_j t_rj (logsumexp(x_r) - x_rj). */
function crossEntropy(x: Float64Array, t: Float64Array, rows: number, cols: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const { m, rest } = rowStats(row);
    for (let j = 0; j < cols; j++) total += t[r * cols + j] * ((m - row[j]) + Math.log1p(rest));
  }
  return total / rows;
}

function crossEntropyGrad(x: Float64Array, t: Float64Array, rows: number, cols: number) {
  const g = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const { top, m, rest } = rowStats(row);
    const ts = t.subarray(r * cols, (r + 1) * cols);
    const mass = ts.reduce((s, v) => s + v, 0);
    for (let j = 0; j < cols; j++) {
      // At the top, softmax - 1 = -rest / (1 + rest).
      const d = j === top
        ? ((mass - ts[j]) - ts[j] * rest) / (1 + rest)
        : Math.exp(row[j] - m) / (1 + rest) * mass - ts[j];
      g[r * cols + j] = d / rows;
    }
  }
  return g;
}

Deno.test("cross-entropy: loss and gradient vs float64 and finite differences", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  for (const [rows, cols] of [[1, 2], [7, 5], [130, 13]]) {
    // Large logits: the max subtraction must keep exp() finite.
    const x = randn(rng, rows * cols, 8);
    // One-hot rows with a class weight, a soft row and an all-zero row (weight 0).
    const t = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      if (r % 5 === 3) { for (let j = 0; j < cols; j++) t[r * cols + j] = 1 / cols; }
      else if (r % 5 !== 4) t[r * cols + Math.floor(rng.next() * cols)] = r % 2 ? 1 : 2.5;
    }
    const dLogits = poisoned(gpu, [rows, cols]);
    const loss = poisoned(gpu, [1]);
    await runNow(
      gpu,
      await crossEntropyLoss(gpu, {
        logits: gpuTensor(gpu, x, [rows, cols]),
        target: gpuTensor(gpu, t, [rows, cols]),
        dLogits,
        loss,
        rows,
        classes: cols,
      }),
    );
    const what = `cross-entropy ${rows}x${cols}`;
    // WGSL's log() is within 2^-21 absolute on [0.5, 2], where a confident row's log(total) lies:
    // the loss may be off by that much per unit of target mass however small it is, plus 1e-5 of it.
    const want = crossEntropy(x, t, rows, cols);
    const [got] = await read(gpu, loss);
    const mass = t.reduce((s, v) => s + v, 0) / rows;
    const bound = 1e-5 * Math.abs(want) + 2 ** -21 * mass;
    ok(
      Math.abs(got - want) <= bound,
      `${what}: loss ${got}, want ${want} (off ${
        Math.abs(got - want)
      } > ${bound}; seed ${rng.seed})`,
    );
    const analytic = crossEntropyGrad(x, t, rows, cols);
    assertGradientMatchesFD((v) => crossEntropy(v, t, rows, cols), x, analytic, rng, what);
    assertClose(await read(gpu, dLogits), analytic, 1e-5, `${what} gradient`, rng.seed);
  }
});

Deno.test("cross-entropy: accumulateLoss adds the mean to what the loss holds", async () => {
  const gpu = await getGpu();
  const x = Float64Array.of(0, Math.log(3)); // softmax (1/4, 3/4)
  const t = Float64Array.of(0, 1);
  const loss = gpuTensor(gpu, [1.5], [1]);
  await runNow(
    gpu,
    await crossEntropyLoss(gpu, {
      logits: gpuTensor(gpu, x, [1, 2]),
      target: gpuTensor(gpu, t, [1, 2]),
      dLogits: poisoned(gpu, [1, 2]),
      loss,
      rows: 1,
      classes: 2,
      accumulateLoss: true,
    }),
  );
  assertClose(await read(gpu, loss), [1.5 - Math.log(0.75)], 1e-6, "accumulated loss");
});
