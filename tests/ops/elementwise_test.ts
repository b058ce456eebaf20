import assert from "node:assert/strict";
import {
  add,
  addChannelBias,
  addInto,
  concatChannels,
  concatChannelsKernel,
  splitChannels,
  sumSpatial,
  transpose,
  upsampleNearest2xBackward,
  upsampleNearest2xForward,
} from "../../gpu/ops/elementwise.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { type Tensor, tensorView } from "../../gpu/runtime/tensor.ts";
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

// Pure data movement and short sums: results are exact or within a few roundings.
const TOL = 1e-6;

// 517 runs one value an invocation; 516 (whole vec4s) four; 516 inside a bigger buffer too.
for (const [n, at] of [[517, 0], [516, 0], [516, 64]]) {
  Deno.test(`addInto copies and accumulates; add sums two tensors (${n} values at ${at})`, async () => {
    const gpu = await getGpu();
    const rng = makeRng();
    const view = (t: Tensor) => at ? tensorView(t, at, [n]) : t;
    const a = randn(rng, n);
    const b = randn(rng, n);
    // Padded in front by `at` values, so a view at `at` holds the data.
    const pad = (v: Float64Array) => Float64Array.of(...new Array(at).fill(0), ...v, 7);
    const whole = (v?: Float64Array) =>
      v ? gpuTensor(gpu, pad(v), [at + n + 1]) : poisoned(gpu, [at + n + 1]);
    const [aT, bT, yT, outT] = [whole(a), whole(b), whole(), whole()];
    const [ta, tb, y, out] = [aT, bT, yT, outT].map((t) => view(at ? t : { ...t, size: n }));
    const sum = await add(gpu, { a: ta, b: tb, out });
    // Whole texels go four values an invocation.
    assert.equal(sum.workgroups[0], Math.ceil((n % 4 ? n : n / 4) / 64));
    await runNow(gpu, [await addInto(gpu, { x: ta, y }), sum]);
    const inside = async (t: Tensor) => (await read(gpu, t)).subarray(at, at + n);
    assertClose(await inside(yT), a, 0, "copy", rng.seed);
    assertClose(await inside(outT), a.map((v, i) => v + b[i]), TOL, "add", rng.seed);
    await runNow(gpu, [await addInto(gpu, { x: tb, y, accumulate: true })]);
    assertClose(await inside(yT), a.map((v, i) => v + b[i]), TOL, "addInto +=", rng.seed);
    // Nothing past the n values is written: the poison after them stays.
    for (const t of [yT, outT]) assert.ok(Number.isNaN((await read(gpu, t))[at + n]));
  });
}

Deno.test("addChannelBias and its backward sumSpatial", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const [batch, channels, spatial] = [3, 5, 13];
  const x = randn(rng, batch * channels * spatial);
  const bias = randn(rng, batch * channels);
  const r = randn(rng, x.length);
  const forward = (bv: Float64Array) => x.map((v, i) => v + bv[Math.floor(i / spatial)]);
  const xt = gpuTensor(gpu, x, [batch, channels, spatial]);
  const rt = gpuTensor(gpu, r, [batch, channels, spatial]);
  const dBias = poisoned(gpu, [batch, channels]);
  const dims = { batch, channels, spatial };
  await runNow(gpu, [
    await addChannelBias(gpu, { x: xt, bias: gpuTensor(gpu, bias, [batch, channels]), ...dims }),
    await sumSpatial(gpu, { x: rt, y: dBias, ...dims }),
  ]);
  assertClose(await read(gpu, xt), forward(bias), TOL, "addChannelBias", rng.seed);

  const analytic = bias.map((_, k) =>
    r.subarray(k * spatial, (k + 1) * spatial).reduce((s, v) => s + v)
  );
  assertGradientMatchesFD((bv) => dot(forward(bv), r), bias, analytic, rng, "f64 dBias");
  assertClose(await read(gpu, dBias), analytic, TOL, "sumSpatial", rng.seed);
  await runNow(gpu, [await sumSpatial(gpu, { x: rt, y: dBias, ...dims, accumulate: true })]);
  assertClose(await read(gpu, dBias), analytic.map((g) => 2 * g), TOL, "sumSpatial +=", rng.seed);
});

Deno.test("upsampleNearest2x forward and backward", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const [planes, height, width] = [5, 3, 7];
  const x = randn(rng, planes * height * width);
  const r = randn(rng, planes * 4 * height * width);
  const forward = (xv: Float64Array) => {
    const y = new Float64Array(planes * 4 * height * width);
    for (let p = 0; p < planes; p++) {
      for (let i = 0; i < 2 * height; i++) {
        for (let j = 0; j < 2 * width; j++) {
          y[(p * 2 * height + i) * 2 * width + j] = xv[(p * height + (i >> 1)) * width + (j >> 1)];
        }
      }
    }
    return y;
  };
  const y = poisoned(gpu, [planes, 2 * height, 2 * width]);
  const dx = poisoned(gpu, [planes, height, width]);
  const dy = gpuTensor(gpu, r, [planes, 2 * height, 2 * width]);
  const dims = { planes, height, width };
  await runNow(gpu, [
    await upsampleNearest2xForward(gpu, {
      x: gpuTensor(gpu, x, [planes, height, width]),
      y,
      ...dims,
    }),
    await upsampleNearest2xBackward(gpu, { dy, dx, ...dims }),
  ]);
  assertClose(await read(gpu, y), forward(x), 0, "upsample forward", rng.seed);

  const analytic = new Float64Array(x.length);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < 2 * height; i++) {
      for (let j = 0; j < 2 * width; j++) {
        analytic[(p * height + (i >> 1)) * width + (j >> 1)] +=
          r[(p * 2 * height + i) * 2 * width + j];
      }
    }
  }
  assertGradientMatchesFD((v) => dot(forward(v), r), x, analytic, rng, "f64 upsample gradient");
  assertClose(await read(gpu, dx), analytic, TOL, "upsample backward", rng.seed);
  await runNow(gpu, [await upsampleNearest2xBackward(gpu, { dy, dx, ...dims, accumulate: true })]);
  assertClose(
    await read(gpu, dx),
    analytic.map((g) => 2 * g),
    TOL,
    "upsample backward +=",
    rng.seed,
  );
});

Deno.test("concatChannels and its backward splitChannels", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const [batch, channelsA, channelsB, spatial] = [3, 5, 2, 7];
  const a = randn(rng, batch * channelsA * spatial);
  const b = randn(rng, batch * channelsB * spatial);
  const channels = channelsA + channelsB;
  const r = randn(rng, batch * channels * spatial);
  const forward = (av: Float64Array, bv: Float64Array) => {
    const out = new Float64Array(batch * channels * spatial);
    for (let n = 0; n < batch; n++) {
      out.set(
        av.subarray(n * channelsA * spatial, (n + 1) * channelsA * spatial),
        n * channels * spatial,
      );
      out.set(
        bv.subarray(n * channelsB * spatial, (n + 1) * channelsB * spatial),
        (n * channels + channelsA) * spatial,
      );
    }
    return out;
  };
  const out = poisoned(gpu, [batch, channels, spatial]);
  const da = poisoned(gpu, [batch, channelsA, spatial]);
  const db = poisoned(gpu, [batch, channelsB, spatial]);
  const dOut = gpuTensor(gpu, r, [batch, channels, spatial]);
  const dims = { batch, channelsA, channelsB, spatial };
  const inputs = {
    a: gpuTensor(gpu, a, [batch, channelsA, spatial]),
    b: gpuTensor(gpu, b, [batch, channelsB, spatial]),
  };
  const byKernel = poisoned(gpu, [batch, channels, spatial]);
  await runNow(gpu, [
    await concatChannels(gpu, { ...inputs, out, ...dims }),
    await concatChannelsKernel(gpu, { ...inputs, out: byKernel, ...dims }),
    await splitChannels(gpu, { dOut, da, db, ...dims }),
  ]);
  assertClose(await read(gpu, out), forward(a, b), 0, "concat", rng.seed);
  // The copies equal the kernel they replaced, bit for bit.
  assertClose(await read(gpu, byKernel), forward(a, b), 0, "concat (kernel)", rng.seed);

  // The gradient of sum(out * r) is r split back: the float64 split is checked by FD.
  const wantA = new Float64Array(a.length);
  const wantB = new Float64Array(b.length);
  for (let n = 0; n < batch; n++) {
    const item = r.subarray(n * channels * spatial, (n + 1) * channels * spatial);
    wantA.set(item.subarray(0, channelsA * spatial), n * channelsA * spatial);
    wantB.set(item.subarray(channelsA * spatial), n * channelsB * spatial);
  }
  assertGradientMatchesFD((v) => dot(forward(v, b), r), a, wantA, rng, "f64 concat dA");
  assertGradientMatchesFD((v) => dot(forward(a, v), r), b, wantB, rng, "f64 concat dB");
  assertClose(await read(gpu, da), wantA, 0, "split da", rng.seed);
  assertClose(await read(gpu, db), wantB, 0, "split db", rng.seed);
  await runNow(gpu, [await splitChannels(gpu, { dOut, da, db, ...dims, accumulate: true })]);
  assertClose(await read(gpu, da), wantA.map((g) => 2 * g), TOL, "split da +=", rng.seed);
  assertClose(await read(gpu, db), wantB.map((g) => 2 * g), TOL, "split db +=", rng.seed);
});

Deno.test("transpose and its backward (the transpose back, accumulated)", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const [batch, rows, cols] = [3, 13, 5];
  const x = randn(rng, batch * rows * cols);
  const r = randn(rng, x.length);
  const forward = (xv: Float64Array) => {
    const y = new Float64Array(xv.length);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < rows; i++) {
        for (let c = 0; c < cols; c++) y[(b * cols + c) * rows + i] = xv[(b * rows + i) * cols + c];
      }
    }
    return y;
  };
  const y = poisoned(gpu, [batch, cols, rows]);
  const dx = poisoned(gpu, [batch, rows, cols]);
  const dy = gpuTensor(gpu, r, [batch, cols, rows]);
  await runNow(gpu, [
    await transpose(gpu, { x: gpuTensor(gpu, x, [batch, rows, cols]), y, batch, rows, cols }),
    await transpose(gpu, { x: dy, y: dx, batch, rows: cols, cols: rows }),
  ]);
  assertClose(await read(gpu, y), forward(x), 0, "transpose", rng.seed);

  const analytic = new Float64Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < rows; i++) {
      for (let c = 0; c < cols; c++) {
        analytic[(b * rows + i) * cols + c] = r[(b * cols + c) * rows + i];
      }
    }
  }
  assertGradientMatchesFD((v) => dot(forward(v), r), x, analytic, rng, "f64 transpose gradient");
  assertClose(await read(gpu, dx), analytic, 0, "transpose back", rng.seed);
  await runNow(gpu, [
    await transpose(gpu, { x: dy, y: dx, batch, rows: cols, cols: rows, accumulate: true }),
  ]);
  assertClose(await read(gpu, dx), analytic.map((g) => 2 * g), TOL, "transpose +=", rng.seed);
});
