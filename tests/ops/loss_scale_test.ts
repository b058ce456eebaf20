// Dynamic loss scaling: the overflow check finds one inf or NaN anywhere, AdamW on scaled gradients
// equals AdamW on the unscaled ones and skips the whole step on overflow, the scale backs off and
// grows as GradScaler's does, and the loss gradient (not the loss) is multiplied by the scale.
import assert from "node:assert/strict";
import { ADAMW_HYPER_SIZE, adamwHyper, adamwStep } from "../../gpu/ops/adamw.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { l1Loss } from "../../gpu/ops/loss.ts";
import { LOSS_SCALE_DEFAULTS, LossScaler } from "../../gpu/ops/loss_scale.ts";
import { readback, upload } from "../../gpu/runtime/tensor.ts";
import { assertClose, getGpu, gpuTensor, makeRng, poisoned, randn, read } from "../util.ts";

Deno.test("loss scale: the overflow check flags one inf or NaN anywhere, and nothing else", async () => {
  const rng = makeRng();
  const n4 = 4 * (1250 + Math.floor(rng.next() * 750));
  await overflowCheck(rng, n4); // the vec4 kernel
  await overflowCheck(rng, n4 + 1 + Math.floor(rng.next() * 3)); // the scalar kernel
});

async function overflowCheck(rng: ReturnType<typeof makeRng>, n: number) {
  const gpu = await getGpu();
  const scaler = new LossScaler(gpu);
  // Large but finite values (f32 max) must not count.
  const x = randn(rng, n, 1e30).map((v, i) => (i === 17 ? 3.4e38 : v));
  const t = gpuTensor(gpu, x, [n]);
  const check = await scaler.checkNonFinite(t, n);
  const flag = async () => (await readback(gpu, scaler.state))[2];
  await runNow(gpu, [check]);
  assert.equal(await flag(), 0, `finite data flagged (seed ${rng.seed})`);
  for (const bad of [Infinity, -Infinity, NaN]) {
    const at = Math.floor(rng.next() * n);
    upload(gpu, t, Float32Array.from(x, (v, i) => (i === at ? bad : v)));
    await runNow(gpu, [check]);
    assert.equal(await flag(), 1, `${bad} at ${at} of ${n} missed (seed ${rng.seed})`);
    scaler.set({ scale: 1, goodSteps: 0, skipped: 0 });
  }
}

Deno.test("loss scale: backs off on overflow, grows after the interval, counts skipped steps", async () => {
  const gpu = await getGpu();
  const options = { initScale: 1024, growthFactor: 2, backoffFactor: 0.5, growthInterval: 3 };
  const scaler = new LossScaler(gpu, options);
  const update = await scaler.update();
  const inf = gpuTensor(gpu, [Infinity], [1]);
  const overflow = await scaler.checkNonFinite(inf, 1);
  // GradScaler's rule, stepped on the host: the GPU must agree after every step.
  let scale = 1024, good = 0, skipped = 0;
  for (const overflowed of [false, false, true, false, false, false, true, true, false]) {
    await runNow(gpu, overflowed ? [overflow, update] : [update]);
    if (overflowed) [scale, good, skipped] = [scale * 0.5, 0, skipped + 1];
    else if (++good === 3) [scale, good] = [scale * 2, 0];
    const [s, g, flag, k] = await readback(gpu, scaler.state);
    assert.deepEqual([s, g, flag, k], [scale, good, 0, skipped]);
  }
  assert.deepEqual(await scaler.read(), { scale, goodSteps: good, skipped });
});

Deno.test("loss scale: AdamW unscales (equal to the unscaled step) and skips on overflow", async () => {
  const rng = makeRng();
  for (const n of [776, 777]) await scaledAdamW(rng, n); // the vec4 and the scalar kernel
});

async function scaledAdamW(rng: ReturnType<typeof makeRng>, n: number) {
  const gpu = await getGpu();
  const o = { lr: 1e-3, weightDecay: 0.01 };
  const param = randn(rng, n);
  const grad = randn(rng, n, 1e-3);
  const scale = 2 ** 15;
  const scaler = new LossScaler(gpu, { ...LOSS_SCALE_DEFAULTS, initScale: scale });
  const make = (g: Float64Array) => ({
    param: gpuTensor(gpu, param, [n]),
    grad: gpuTensor(gpu, g, [n]),
    m: gpuTensor(gpu, randn(rng, n, 1e-3), [n]),
    v: gpuTensor(gpu, randn(rng, n, 1e-3).map(Math.abs), [n]),
  });
  const plain = make(grad);
  const scaled = make(grad.map((g) => g * scale));
  upload(gpu, scaled.m, await readback(gpu, plain.m));
  upload(gpu, scaled.v, await readback(gpu, plain.v));
  const m0 = await readback(gpu, plain.m);
  const hyper = gpuTensor(gpu, adamwHyper(o, 3), [ADAMW_HYPER_SIZE]);
  await runNow(gpu, [
    ...await adamwStep(gpu, { ...plain, hyper, n }),
    ...await adamwStep(gpu, { ...scaled, hyper, n, lossScale: scaler.state }),
  ]);
  // A power-of-two scale divides out exactly.
  for (const k of ["param", "m", "v"] as const) {
    assertClose(await read(gpu, scaled[k]), await read(gpu, plain[k]), 0, `scaled ${k}`, rng.seed);
  }
  assert.ok((await read(gpu, plain.m)).some((v, i) => v !== m0[i]), "the step changed nothing");

  // Overflow flagged: nothing moves.
  const before = await Promise.all([scaled.param, scaled.m, scaled.v].map((t) => read(gpu, t)));
  await runNow(gpu, [
    await scaler.checkNonFinite(gpuTensor(gpu, [NaN], [1]), 1),
    ...await adamwStep(gpu, { ...scaled, hyper, n, lossScale: scaler.state }),
  ]);
  const after = await Promise.all([scaled.param, scaled.m, scaled.v].map((t) => read(gpu, t)));
  after.forEach((a, i) => assertClose(a, before[i], 0, `skipped step, n = ${n}`, rng.seed));
}

Deno.test("loss scale: the loss gradient is multiplied by the scale, the loss is not", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 3000;
  const pred = gpuTensor(gpu, randn(rng, n), [n]);
  const target = gpuTensor(gpu, randn(rng, n), [n]);
  const scaler = new LossScaler(gpu, { ...LOSS_SCALE_DEFAULTS, initScale: 4096 });
  const run = async (lossScale?: typeof scaler.state) => {
    const dPred = poisoned(gpu, [n]);
    const loss = poisoned(gpu, [1]);
    await runNow(gpu, await l1Loss(gpu, { pred, target, dPred, loss, n, lossScale }));
    return { dPred: await read(gpu, dPred), loss: await read(gpu, loss) };
  };
  const plain = await run();
  const scaled = await run(scaler.state);
  assertClose(scaled.loss, plain.loss, 0, "loss", rng.seed);
  assertClose(scaled.dPred, plain.dPred.map((g) => g * 4096), 0, "scaled dPred", rng.seed);
});
