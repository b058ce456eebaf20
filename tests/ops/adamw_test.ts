import assert from "node:assert/strict";
import {
  ADAMW_HYPER_SIZE,
  adamwHyper,
  adamwStep,
  adamwStepReference,
} from "../../gpu/ops/adamw.ts";
import { LOSS_SCALE_DEFAULTS, LossScaler } from "../../gpu/ops/loss_scale.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { upload } from "../../gpu/runtime/tensor.ts";
import { assertClose, getGpu, gpuTensor, makeRng, randn, read } from "../util.ts";

/** torch.optim.AdamW's single-tensor update, in float64. */
function torchAdamW(
  param: Float64Array,
  grads: Float64Array[],
  o: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
) {
  const p = new Float64Array(param), m = new Float64Array(p.length), v = new Float64Array(p.length);
  grads.forEach((g, s) => {
    const step = s + 1;
    const bc1 = 1 - o.beta1 ** step, bc2 = 1 - o.beta2 ** step;
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - o.lr * o.weightDecay;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
      p[i] -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps);
    }
  });
  return { p, m, v };
}

Deno.test("adamw: three steps match torch's AdamW in float64 (vec4 and scalar kernels)", async () => {
  const rng = makeRng();
  const n4 = 4 * (250 + Math.floor(rng.next() * 10));
  await threeSteps(rng, n4); // a multiple of 4: the vec4 kernel
  await threeSteps(rng, n4 + 1 + Math.floor(rng.next() * 3)); // the scalar kernel
});

async function threeSteps(rng: ReturnType<typeof makeRng>, n: number) {
  const gpu = await getGpu();
  const o = { lr: 1e-3 * (1 + rng.next()), beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 };
  // Even elements small, so their update (~lr) stands well above their f32 rounding.
  const param = randn(rng, n).map((x, i) => i % 2 ? x : Math.fround(x * 0.01));
  // Mixed gradient scales, a few exact zeros (v = 0 there: denom = eps).
  const grads = [0, 1, 2].map(() =>
    randn(rng, n).map((g, i) => i % 97 === 0 ? 0 : g * 10 ** (i % 5 - 3))
  );
  const paramT = gpuTensor(gpu, param, [n]);
  const gradT = gpuTensor(gpu, grads[0], [n]);
  const m = gpuTensor(gpu, new Float64Array(n), [n]);
  const v = gpuTensor(gpu, new Float64Array(n), [n]);
  const hyper = gpuTensor(gpu, adamwHyper(o, 1), [ADAMW_HYPER_SIZE]);
  const step = await adamwStep(gpu, { param: paramT, grad: gradT, m, v, hyper, n });
  for (let s = 0; s < 3; s++) {
    upload(gpu, gradT, Float32Array.from(grads[s]));
    upload(gpu, hyper, adamwHyper(o, s + 1));
    await runNow(gpu, step);
  }
  const want = torchAdamW(param, grads, o);
  // f32 state over three steps; the update itself is ~lr and is checked separately below.
  assertClose(await read(gpu, paramT), want.p, 1e-6, "param", rng.seed);
  assertClose(await read(gpu, m), want.m, 1e-6, "m", rng.seed);
  assertClose(await read(gpu, v), want.v, 1e-6, "v", rng.seed);
  const got = await read(gpu, paramT);
  const delta = (a: ArrayLike<number>) =>
    Array.from(a, (x, i) => x - param[i]).filter((_, i) => i % 2 === 0);
  // The update relative to its own size (~3 lr); f32 rounding of |param| < 0.05 is ~1e-6 of it.
  assertClose(delta(got), delta(want.p), 1e-5, `param update, n = ${n}`, rng.seed);
}

Deno.test("adamw: a 7-value hyper tensor (the contract's minimum) still updates", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 37;
  const o = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
  const param = randn(rng, n), grad = randn(rng, n);
  const paramT = gpuTensor(gpu, param, [n]);
  const m = gpuTensor(gpu, new Float64Array(n), [n]), v = gpuTensor(gpu, new Float64Array(n), [n]);
  const hyper = gpuTensor(gpu, adamwHyper(o, 1).subarray(0, 7), [7]);
  await runNow(
    gpu,
    await adamwStep(gpu, { param: paramT, grad: gpuTensor(gpu, grad, [n]), m, v, hyper, n }),
  );
  // 1 - beta computed in f32 here: v is off by 1.3e-5 relative, the first update is not.
  const want = torchAdamW(param, [grad], o);
  assertClose(await read(gpu, paramT), want.p, 1e-6, "param", rng.seed);
  assertClose(await read(gpu, v), want.v, 2e-5, "v", rng.seed);
});

Deno.test("adamw: the uniform-hyperparameter kernel equals the storage-buffer one bit for bit", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const o = { lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4 };
  for (const n of [4 * 301, 4 * 301 + 3]) {
    for (const [hyperSize, scaled] of [[ADAMW_HYPER_SIZE, false], [7, false], [9, true]] as const) {
      const param = randn(rng, n), grad = randn(rng, n, 1e-2);
      const m0 = randn(rng, n, 1e-3), v0 = randn(rng, n, 1e-6).map(Math.abs);
      const hyper = gpuTensor(gpu, adamwHyper(o, 5).subarray(0, hyperSize), [hyperSize]);
      const scaler = scaled
        ? new LossScaler(gpu, { ...LOSS_SCALE_DEFAULTS, initScale: 1024 })
        : undefined;
      const run = async (reference: boolean) => {
        const args = {
          param: gpuTensor(gpu, param, [n]),
          grad: gpuTensor(gpu, grad, [n]),
          m: gpuTensor(gpu, m0, [n]),
          v: gpuTensor(gpu, v0, [n]),
          hyper,
          n,
          lossScale: scaler?.state,
        };
        await runNow(
          gpu,
          reference ? [await adamwStepReference(gpu, args)] : await adamwStep(gpu, args),
        );
        return Promise.all([args.param, args.m, args.v].map((t) => read(gpu, t)));
      };
      const [want, got] = [await run(true), await run(false)];
      ["param", "m", "v"].forEach((k, i) =>
        assert.deepEqual(got[i], want[i], `${k}, n = ${n}, hyper ${hyperSize}, scaled ${scaled}`)
      );
    }
  }
});
