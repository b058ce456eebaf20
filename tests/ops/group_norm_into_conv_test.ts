// groupNormSiluIntoConv: silu(groupnorm(x)), with or without dropout, written into a conv's packed
// input gives the conv's output, statistics and weight gradient of the float64 reference (and of
// the unfused ops: groupNormForward, dropoutForward, the conv's own pack).
import assert from "node:assert/strict";
import {
  conv2dBackward,
  conv2dForward,
  type Conv2dShape,
  type ConvInputSlot,
} from "../../gpu/ops/conv2d/conv2d.ts";
import { dropoutForward } from "../../gpu/ops/dropout.ts";
import { groupNormForward } from "../../gpu/ops/group_norm.ts";
import { groupNormSiluIntoConv } from "../../gpu/ops/group_norm_into_conv.ts";
import { withProfile } from "../../gpu/runtime/device.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { createSeed } from "../../gpu/runtime/random.ts";
import { LLVMPIPE } from "../../gpu/runtime/profiles/llvmpipe.ts";
import { conv3x3Reference } from "./conv2d/conv3x3_reference.ts";
import { assertClose, getGpu, gpuTensor, makeRng, poisoned, randn, read } from "../util.ts";

/** float64 silu(groupnorm(x)) [B, C, H*W] and its mean and rstd per (b, group). */
function normSiluReference(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  s: { batch: number; channels: number; spatial: number; groups: number; eps: number },
) {
  const n = (s.channels / s.groups) * s.spatial;
  const y = new Float64Array(x.length);
  const mean = new Float64Array(s.batch * s.groups);
  const rstd = new Float64Array(s.batch * s.groups);
  for (let bg = 0; bg < s.batch * s.groups; bg++) {
    const run = x.subarray(bg * n, (bg + 1) * n);
    const mu = run.reduce((a, v) => a + v, 0) / n;
    const variance = run.reduce((a, v) => a + (v - mu) ** 2, 0) / n;
    const r = 1 / Math.sqrt(variance + s.eps);
    mean[bg] = mu;
    rstd[bg] = r;
    for (let i = 0; i < n; i++) {
      const c = (bg % s.groups) * (s.channels / s.groups) + Math.floor(i / s.spatial);
      const z = (run[i] - mu) * r * gamma[c] + beta[c];
      y[bg * n + i] = z / (1 + Math.exp(-z));
    }
  }
  return { y, mean, rstd };
}

for (
  const [channels, groups, height, width, outChannels, p] of [
    [16, 4, 8, 8, 12, 0], // 4 channels a group
    [24, 3, 4, 12, 8, 0], // 8 a group, a wide image
    [16, 4, 8, 12, 12, 0.3], // dropout (a ResNet's norm2 -> conv2 in training)
  ]
) {
  const what = p ? `, dropout ${p},` : "";
  Deno.test(`groupNormSiluIntoConv: ${channels} channels in ${groups} groups, ${height}x${width}${what} into a 3x3 conv`, async () => {
    const gpu = withProfile(await getGpu(), LLVMPIPE);
    const rng = makeRng();
    const batch = 3, eps = 1e-5, spatial = height * width;
    // An offset mean, as activations have: the statistics must not lose it.
    const x = randn(rng, batch * channels * spatial).map((v) => 3 + 2 * v);
    const gamma = randn(rng, channels).map((v) => 1 + 0.3 * v);
    const beta = randn(rng, channels, 0.3);
    const w = randn(rng, outChannels * channels * 9, 0.2);
    const bias = randn(rng, outChannels, 0.1);
    const dy = randn(rng, batch * outChannels * spatial);
    const norm = { batch, channels, spatial, groups, eps };
    const shape: Conv2dShape = {
      batch,
      inChannels: channels,
      outChannels,
      height,
      width,
      kernel: 3,
      stride: 1,
    };
    const ref = normSiluReference(x, gamma, beta, norm);
    const seed = createSeed(gpu, (rng.next() * 2 ** 32) >>> 0);
    const dropout = p ? { p, seed, stream: 7 } : undefined;

    const t = (v: Float64Array, dims: number[]) => gpuTensor(gpu, v, dims);
    const [xt, gt, bt, wt, biast, dyt] = [
      t(x, [batch, channels, spatial]),
      t(gamma, [channels]),
      t(beta, [channels]),
      t(w, [outChannels, channels, 3, 3]),
      t(bias, [outChannels]),
      t(dy, [batch, outChannels, height, width]),
    ];
    const run = async (fused: boolean) => {
      const a = poisoned(gpu, [batch, channels, height, width], "a");
      // The conv's input: dropout(a), or a itself.
      const ad = dropout ? poisoned(gpu, [batch, channels, height, width], "ad") : a;
      const mean = poisoned(gpu, [batch * groups]);
      const rstd = poisoned(gpu, [batch * groups]);
      const y = poisoned(gpu, [batch, outChannels, height, width]);
      const dWeight = poisoned(gpu, [outChannels, channels, 3, 3]);
      const slot: ConvInputSlot = {};
      const stats = { x: xt, gamma: gt, beta: bt, mean, rstd, eps };
      let norm1;
      if (fused) {
        const into = await groupNormSiluIntoConv(gpu, {
          ...stats,
          groups,
          y: ad,
          conv: shape,
          dropout,
        });
        assert.ok(into, "the llvmpipe profile takes the fused path at this shape");
        norm1 = into.dispatches;
        slot.written = into.written;
      } else {
        norm1 = [...await groupNormForward(gpu, { ...stats, ...norm, y: a, silu: true })];
        if (dropout) norm1.push(await dropoutForward(gpu, { x: a, y: ad, ...dropout }));
      }
      await runNow(gpu, [
        ...norm1,
        ...await conv2dForward(gpu, { x: ad, weight: wt, bias: biast, y, shape, inputSlot: slot }),
        ...await conv2dBackward(gpu, {
          x: ad,
          weight: wt,
          dy: dyt,
          dWeight,
          shape,
          inputSlot: slot,
        }),
      ]);
      return {
        y: await read(gpu, y),
        mean: await read(gpu, mean),
        rstd: await read(gpu, rstd),
        dWeight: await read(gpu, dWeight),
        a: await read(gpu, a),
        ad: await read(gpu, ad),
      };
    };
    const fused = await run(true);
    const unfused = await run(false);
    // The mask, read off the unfused dropout (silu's output is never exactly 0 here), must drop
    // about p of the elements and scale the rest exactly (tests/ops/dropout_test.ts checks the
    // dropout op itself against its float64 definition).
    let convInput = ref.y;
    if (dropout) {
      const scale = Math.fround(1 / Math.fround(1 - p));
      const kept = unfused.ad.map((v) => (v === 0 ? 0 : 1));
      const rate = kept.reduce((n, k) => n + k, 0) / kept.length;
      assert.ok(Math.abs(rate - (1 - p)) < 0.05, `keep rate ${rate}, want ${1 - p}`);
      convInput = ref.y.map((v, i) => kept[i] * v * scale);
      assertClose(unfused.ad, convInput, 1e-5, "unfused dropout", rng.seed);
    }
    const { y: yRef, dWeight: dwRef } = conv3x3Reference(convInput, w, bias, dy, shape);
    assertClose(fused.mean, ref.mean, 1e-6, "mean", rng.seed);
    assertClose(fused.rstd, ref.rstd, 1e-5, "rstd", rng.seed);
    assertClose(fused.y, yRef, 1e-5, "conv output", rng.seed);
    assertClose(fused.dWeight, dwRef, 1e-5, "weight gradient from the written texture", rng.seed);
    assertClose(fused.y, unfused.y, 1e-6, "fused against unfused output", rng.seed);
    // The activation itself is never stored: its buffer keeps its poison.
    assert.ok(fused.a.every(Number.isNaN), "the fused path wrote no activation");
    assert.ok(fused.ad.every(Number.isNaN), "the fused path wrote no dropout output");
    assertClose(unfused.a, ref.y, 1e-5, "unfused activation", rng.seed);
  });
}
