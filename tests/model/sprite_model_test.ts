// Checkpoints round-trip exactly, bad checkpoints say what is wrong, and sampling is a pure
// function of its request.
import assert from "node:assert/strict";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { loadSpriteModel, saveSpriteModel } from "../../data/model_folder.ts";
import { randomSpriteModel, type SpriteModel } from "../../gpu/model/sprite_model.ts";
import { fill, readback, upload } from "../../gpu/runtime/tensor.ts";
import { buildUNet } from "../../gpu/model/unet.ts";
import { parseUNetConfig } from "../../gpu/model/config.ts";
import { compactConfig } from "../../gpu/model/presets.ts";
import { DEFAULT_MODEL_DIR } from "../../data/model_source.ts";
import { EngineInputError } from "../../gpu/runtime/errors.ts";
import { withPrecision } from "../../gpu/runtime/device.ts";
import { getGpu, type Gpu, makeRng, randn } from "../util.ts";

// Small enough for llvmpipe; every block type is still there.
const tiny = parseUNetConfig({
  sample_size: 16,
  in_channels: 3,
  out_channels: 3,
  layers_per_block: 1,
  block_out_channels: [8, 16, 16],
  down_block_types: ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
  up_block_types: ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
  norm_num_groups: 4,
  cross_attention_dim: 16,
  attention_head_dim: 2,
  encoder_hid_dim: 8,
});

async function unetOutput(gpu: Gpu, model: SpriteModel, inputs: Float32Array[]) {
  const unet = await buildUNet(gpu, model.config, {
    batch: 2,
    training: false,
    withBackward: false,
    params: model.unetParams,
  });
  upload(gpu, unet.sample, inputs[0]);
  upload(gpu, unet.timesteps, inputs[1]);
  upload(gpu, unet.encoderHiddenStates, inputs[2]);
  fill(gpu, unet.output, NaN);
  await runNow(gpu, unet.forward);
  return await readback(gpu, unet.output);
}

Deno.test("checkpoint: save -> load gives bit-identical parameters and output", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const model = randomSpriteModel(gpu, tiny, rng.seed);
  const dir = await Deno.makeTempDir();
  try {
    await saveSpriteModel(gpu, `${dir}/ckpt`, model, { epoch: 3 });
    const loaded = await loadSpriteModel(gpu, `${dir}/ckpt`);
    assert.deepEqual(loaded.config, model.config);
    assert.deepEqual(loaded.classNames, model.classNames);
    assert.equal(loaded.info.epoch, 3);
    assert.deepEqual(
      await readback(gpu, loaded.unetParams.data),
      await readback(gpu, model.unetParams.data),
    );
    assert.deepEqual(
      await readback(gpu, loaded.embeddingParams!.data),
      await readback(gpu, model.embeddingParams!.data),
    );
    const inputs = [
      Float32Array.from(randn(rng, 2 * 3 * 16 * 16)),
      Float32Array.of(10, 873),
      Float32Array.from(randn(rng, 2 * 8)),
    ];
    assert.deepEqual(await unetOutput(gpu, loaded, inputs), await unetOutput(gpu, model, inputs));
    const config = JSON.parse(await Deno.readTextFile(`${dir}/ckpt/config.json`));
    assert.equal(config._class_name, "UNet2DConditionModel");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: a missing or misshapen tensor is an error naming it", async () => {
  const gpu = await getGpu();
  const dir = await Deno.makeTempDir();
  try {
    await saveSpriteModel(gpu, `${dir}/ckpt`, randomSpriteModel(gpu, tiny, 1));
    const config = JSON.parse(await Deno.readTextFile(`${dir}/ckpt/config.json`));
    // The same weights under a config with wider blocks: every shape is off.
    await Deno.writeTextFile(
      `${dir}/ckpt/config.json`,
      JSON.stringify({ ...config, block_out_channels: [8, 16, 24] }),
    );
    await assert.rejects(() => loadSpriteModel(gpu, `${dir}/ckpt`), (e: Error) => {
      assert.ok(e instanceof EngineInputError, String(e));
      assert.match(e.message, /down_blocks\.2|up_blocks|mid_block/);
      return true;
    });
    await Deno.writeTextFile(
      `${dir}/ckpt/config.json`,
      JSON.stringify({ ...config, act_fn: "gelu" }),
    );
    await assert.rejects(() => loadSpriteModel(gpu, `${dir}/ckpt`), /act_fn/);
    await Deno.writeTextFile(`${dir}/ckpt/config.json`, "{not json");
    await assert.rejects(() => loadSpriteModel(gpu, `${dir}/ckpt`), /config\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sampling: same request, same bytes; seeds, classes and guidance change the sprites", async () => {
  const gpu = await getGpu();
  const model = randomSpriteModel(gpu, tiny, 7);
  const sampler = new SpriteSampler(gpu, model);
  const labels = Float32Array.from({ length: 3 * 5 }, (_, i) => (i % 5 === i / 5 ? 1 : 0));
  const base = {
    labels,
    count: 3,
    steps: 3,
    eta: 0,
    seed: 11,
    guidance: 1,
    scheduler: "ddim",
  } as const;
  const a = await sampler.generate(base);
  assert.equal(a.length, 3 * 16 * 16 * 3);
  assert.deepEqual(await sampler.generate(base), a);
  assert.notDeepEqual(await sampler.generate({ ...base, seed: 12 }), a);
  // The first sprite does not depend on how many others share its batch.
  const one = await sampler.generate({ ...base, labels: labels.slice(0, 5), count: 1 });
  assert.deepEqual(one, a.subarray(0, 16 * 16 * 3));
  const guided = await sampler.generate({ ...base, guidance: 3 });
  assert.deepEqual(await sampler.generate({ ...base, guidance: 3 }), guided);
  assert.notDeepEqual(guided, a);
  const noisy = await sampler.generate({ ...base, eta: 1 });
  assert.notDeepEqual(noisy, a);
  const ddpm = await sampler.generate({ ...base, scheduler: "ddpm" });
  assert.equal(ddpm.length, a.length);
});

Deno.test("sampling with f16 operands: deterministic, and within a few levels of f32", async () => {
  const gpu = await getGpu();
  const model = randomSpriteModel(gpu, tiny, 7);
  const request = {
    labels: Float32Array.from({ length: 2 * 5 }, (_, i) => (i === 1 || i === 8 ? 1 : 0)),
    count: 2,
    steps: 3,
    eta: 0,
    seed: 5,
    guidance: 1,
    scheduler: "ddim",
  } as const;
  const f32 = await new SpriteSampler(gpu, model).generate(request);
  const half = new SpriteSampler(withPrecision(gpu, "f16"), model);
  const f16 = await half.generate(request);
  assert.deepEqual(await half.generate(request), f16);
  let worst = 0, differ = 0;
  f16.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - f32[i]));
    if (v !== f32[i]) differ++;
  });
  console.log(`f16 vs f32: ${differ} of ${f16.length} bytes differ, worst by ${worst}`);
  assert.ok(differ > 0, "f16 sampling gave the f32 bytes: were the operands rounded?");
  assert.ok(worst <= 4, `f16 sprites differ from f32 by up to ${worst} levels`);
});

Deno.test("the shipped model loads: the compact preset, five classes, finite weights, its recipe", async () => {
  const gpu = await getGpu();
  const model = await loadSpriteModel(gpu, DEFAULT_MODEL_DIR);
  assert.deepEqual(model.classNames, ["human", "non-human", "food", "spell", "side-facing"]);
  assert.deepEqual(model.config.block_out_channels, compactConfig.block_out_channels);
  assert.equal(model.unetParams.layout.count, 2_481_827);
  for (const store of [model.unetParams, model.embeddingParams!]) {
    const values = await readback(gpu, store.data);
    assert.ok(values.every(Number.isFinite), "a weight is not finite");
    assert.ok(values.some((v) => v !== 0));
  }
  const info = model.info as { epoch: number; step: number; recipe: { batch: number } };
  assert.ok(info.epoch >= 1 && info.step >= 1 && info.recipe.batch === 32, JSON.stringify(info));
  // Its log has one line per epoch, the last one the checkpoint's.
  const log = (await Deno.readTextFile(`${DEFAULT_MODEL_DIR}/train_log.jsonl`)).trim().split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(log.length, info.epoch);
  assert.equal(log.at(-1).step, info.step);
});
