// Guidance's shared prefix: a UNet whose layers before the context run on the first half of the
// batch gives what the whole-batch UNet gives for that half twice over.
import assert from "node:assert/strict";
import { buildUNet } from "../../gpu/model/unet.ts";
import { parseUNetConfig } from "../../gpu/model/config.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { fill, readback, upload } from "../../gpu/runtime/tensor.ts";
import { getGpu, makeRng, randn } from "../util.ts";

const base = {
  sample_size: 16,
  in_channels: 3,
  out_channels: 3,
  layers_per_block: 1,
  block_out_channels: [8, 16, 16],
  norm_num_groups: 4,
  cross_attention_dim: 16,
  attention_head_dim: 2,
  encoder_hid_dim: 8,
};
// Where the context is first read: the third down block, the first, and the mid block.
const layouts = [
  [["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"], [
    "CrossAttnUpBlock2D",
    "UpBlock2D",
    "UpBlock2D",
  ]],
  [["CrossAttnDownBlock2D", "DownBlock2D", "DownBlock2D"], [
    "UpBlock2D",
    "UpBlock2D",
    "CrossAttnUpBlock2D",
  ]],
  [["DownBlock2D", "DownBlock2D", "DownBlock2D"], ["UpBlock2D", "UpBlock2D", "UpBlock2D"]],
];

Deno.test("shared prefix: the output is the whole-batch UNet's on the half repeated", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  for (const [down, up] of layouts) {
    const config = parseUNetConfig({ ...base, down_block_types: down, up_block_types: up });
    const model = randomSpriteModel(gpu, config, rng.seed);
    const half = 3;
    const options = { batch: 2 * half, training: false, withBackward: false };
    const whole = await buildUNet(gpu, config, { ...options, params: model.unetParams });
    const shared = await buildUNet(gpu, config, {
      ...options,
      params: model.unetParams,
      sharedPrefix: true,
    });
    assert.deepEqual(shared.sample.shape, [half, 3, 16, 16]);

    const x = Float32Array.from(randn(rng, half * 3 * 16 * 16));
    const t = Float32Array.from({ length: half }, () => Math.floor(rng.next() * 1000));
    const timesteps = Float32Array.of(...t, ...t);
    const states = Float32Array.from(randn(rng, whole.encoderHiddenStates.size));
    upload(gpu, whole.sample, Float32Array.of(...x, ...x));
    upload(gpu, shared.sample, x);
    for (const unet of [whole, shared]) {
      upload(gpu, unet.timesteps, timesteps);
      upload(gpu, unet.encoderHiddenStates, states);
      fill(gpu, unet.output, NaN);
      await runNow(gpu, unet.forward);
    }
    const want = await readback(gpu, whole.output);
    const got = await readback(gpu, shared.output);
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    // NaN anywhere (an unwritten half) fails the comparison.
    assert.ok(
      worst <= 1e-6 * scale,
      `${down}: max difference ${worst} of ${scale} (seed ${rng.seed})`,
    );
    // The halves differ (their contexts do), so the second half is not a copy of the first.
    const n = want.length / 2;
    assert.ok(want.subarray(0, n).some((v, i) => v !== want[n + i]), `${down}: halves agree`);
  }
});

Deno.test("shared prefix: refused for training and odd batches", async () => {
  const gpu = await getGpu();
  const config = parseUNetConfig({
    ...base,
    down_block_types: layouts[0][0],
    up_block_types: layouts[0][1],
  });
  const refused = /a shared prefix is for sampling/;
  await assert.rejects(
    buildUNet(gpu, config, { batch: 4, training: false, sharedPrefix: true }),
    refused,
  );
  await assert.rejects(
    buildUNet(gpu, config, { batch: 3, training: false, withBackward: false, sharedPrefix: true }),
    refused,
  );
});
