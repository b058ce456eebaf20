import { runNow } from "../../gpu/runtime/kernel.ts";
import { l1Loss, mseLoss } from "../../gpu/ops/loss.ts";
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

const losses = {
  l1: {
    op: l1Loss,
    value: (p: Float64Array, t: Float64Array) =>
      p.reduce((s, v, i) => s + Math.abs(v - t[i]), 0) / p.length,
    grad: (p: Float64Array, t: Float64Array) => p.map((v, i) => Math.sign(v - t[i]) / p.length),
  },
  mse: {
    op: mseLoss,
    value: (p: Float64Array, t: Float64Array) =>
      p.reduce((s, v, i) => s + (v - t[i]) ** 2, 0) / p.length,
    grad: (p: Float64Array, t: Float64Array) => p.map((v, i) => 2 * (v - t[i]) / p.length),
  },
};

for (const [name, loss] of Object.entries(losses)) {
  Deno.test(`${name} loss: mean and gradient vs float64, every reduction depth`, async () => {
    const gpu = await getGpu();
    const rng = makeRng();
    // 1 stage + finish, 2 partial stages (1536 = the fixture's batch), 3 (128*3*16*16 + odd tail).
    for (const n of [37, 1536, 98304, 98304 + 13 + Math.floor(rng.next() * 50)]) {
      const pred = randn(rng, n), target = randn(rng, n);
      // Exact ties: torch's gradient of |0| is 0.
      for (let k = 0; k < 5; k++) target[k] = pred[k];
      const predT = gpuTensor(gpu, pred, [n]), targetT = gpuTensor(gpu, target, [n]);
      const dPred = poisoned(gpu, [n]), lossT = poisoned(gpu, [1]);
      await runNow(
        gpu,
        await loss.op(gpu, { pred: predT, target: targetT, dPred, loss: lossT, n }),
      );

      // f32 terms summed in f32 over <= 64 terms per stage: well inside 1e-6 of the mean.
      assertClose(
        await read(gpu, lossT),
        [loss.value(pred, target)],
        1e-6,
        `${name} n=${n}`,
        rng.seed,
      );
      const analytic = loss.grad(pred, target);
      if (n === 37) {
        // Finite differences need no ties (|x| has a kink at 0).
        const untied = pred.slice(5);
        assertGradientMatchesFD(
          (x) => loss.value(x, target.slice(5)),
          untied,
          loss.grad(untied, target.slice(5)),
          rng,
          `${name} float64 gradient`,
        );
      }
      const got = await read(gpu, dPred);
      for (let k = 0; k < 5; k++) {
        if (got[k] !== 0) {
          throw new Error(`${name}: gradient at a tie is ${got[k]} (seed ${rng.seed})`);
        }
      }
      assertClose(got, analytic, 2e-7, `${name} gradient n=${n}`, rng.seed);
    }
  });
}

Deno.test("accumulateLoss adds the mean into loss[0]", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 1000 + Math.floor(rng.next() * 100);
  const pred = randn(rng, n), target = randn(rng, n);
  const predT = gpuTensor(gpu, pred, [n]), targetT = gpuTensor(gpu, target, [n]);
  const start = rng.normal();
  const lossT = gpuTensor(gpu, [start], [1]);
  const dPred = poisoned(gpu, [n]);
  const step = await l1Loss(gpu, {
    pred: predT,
    target: targetT,
    dPred,
    loss: lossT,
    n,
    accumulateLoss: true,
  });
  await runNow(gpu, [...step, ...step]);
  const mean = losses.l1.value(pred, target);
  assertClose(
    await read(gpu, lossT),
    [Math.fround(start) + 2 * mean],
    1e-6,
    "sum of means",
    rng.seed,
  );
  assertClose(await read(gpu, dPred), losses.l1.grad(pred, target), 2e-7, "l1 gradient", rng.seed);
});
