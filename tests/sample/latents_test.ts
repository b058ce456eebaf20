// The starting noise as an input (diffusers' `latents=`): the sampler starts from exactly the noise
// it is given, and what follows is diffusers' scheduler math. The fixture's own 10-step eta=0 DDIM
// loop starts from its `initial_sample` ([1, 3, 4, 4]); a UNet of sample_size 4 started from that
// noise here must give what the float32 host reference (bit-exact with the fixture,
// tests/sample/scheduler_test.ts) gives when fed the same UNet's outputs step by step. And noise
// equal to a seed's own first draw gives that seed's sprites byte for byte, with guidance and
// DDIM's later draws too, so the given noise replaces the first draw and nothing else.
import { deepStrictEqual as assertEquals, notDeepStrictEqual } from "node:assert/strict";
import type { UNetConfig } from "../../gpu/model/config.ts";
import { buildClassEmbedding } from "../../gpu/model/class_embedding.ts";
import { randomSpriteModel, type SpriteModel } from "../../gpu/model/sprite_model.ts";
import { buildUNet } from "../../gpu/model/unet.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { createSeed, fillNormal } from "../../gpu/runtime/random.ts";
import { createTensor, upload } from "../../gpu/runtime/tensor.ts";
import { oneHot, repeatVector } from "../../gpu/sample/labels.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { DDIMScheduler, ddimStepHost } from "../../gpu/sample/scheduler.ts";
import { assertClose, getGpu, type Gpu, read, tinyConfig } from "../util.ts";

const FIXTURE = new URL("../../../shared/fixtures/diffusers-ref/schedulers.json", import.meta.url);
const loop = JSON.parse(Deno.readTextFileSync(FIXTURE)).ddim.loop_eta0_10steps;

/** eps = UNet(x, t | class vector) for one sprite, run on its own (not the sampler's program). */
async function unetOutput(gpu: Gpu, model: SpriteModel) {
  const unet = await buildUNet(gpu, model.config, {
    batch: 1,
    training: false,
    withBackward: false,
    params: model.unetParams,
  });
  const emb = await buildClassEmbedding(gpu, model.embedding, {
    batch: 1,
    training: false,
    params: model.embeddingParams,
    output: unet.encoderHiddenStates,
  });
  return async (labels: Float32Array, x: Float32Array, t: number) => {
    upload(gpu, emb.input, labels);
    upload(gpu, unet.sample, x);
    upload(gpu, unet.timesteps, Float32Array.of(t));
    await runNow(gpu, [...emb.forward, ...unet.forward]);
    return await read(gpu, unet.output);
  };
}

Deno.test("latents: the fixture's initial sample through 10 DDIM steps is diffusers' scheduler math", async () => {
  const gpu = await getGpu();
  const config: UNetConfig = { ...tinyConfig, sample_size: 4 };
  const model = randomSpriteModel(gpu, config, 21);
  const x0 = Float32Array.from(loop.initial_sample.data as number[]);
  assertEquals(loop.initial_sample.shape, [1, 3, 4, 4]);
  const labels = oneHot(5, 2);
  const sampler = new SpriteSampler(gpu, model);
  const req = {
    labels,
    count: 1,
    steps: 10,
    eta: 0,
    seed: 1,
    guidance: 1,
    scheduler: "ddim" as const,
  };
  const ours = await sampler.generateFloats({ ...req, latents: x0 });

  const sched = new DDIMScheduler();
  sched.setTimesteps(10);
  assertEquals(sched.timesteps, loop.timesteps);
  const eps = await unetOutput(gpu, model);
  let x: Float32Array = x0;
  for (const t of sched.timesteps) {
    const step = ddimStepHost({
      modelOutput: await eps(labels, x, t),
      sample: x,
      eta: 0,
      clipSample: true,
      ...sched.stepScalars(t),
    });
    x = Float32Array.from(step.prevSample);
  }
  // The UNet's outputs are the same kernels' on the same inputs; the GPU's scheduler step agrees
  // with the host's to float32 rounding (scheduler_test: 1e-6), carried through 10 steps.
  assertClose(ours, x, 1e-5, "sampler from the fixture's noise vs the host loop");
  const drawn = await sampler.generateFloats(req);
  notDeepStrictEqual(drawn, ours, "without latents the sampler draws its own noise");
});

Deno.test("latents: a seed's own first draw given as latents gives that seed's bytes", async () => {
  const gpu = await getGpu();
  const model = randomSpriteModel(gpu, tinyConfig, 5);
  const sampler = new SpriteSampler(gpu, model);
  const count = 3;
  const seed = 77;
  // The sampler's first draw for a lone request: Philox at step 0, stream 0, counter = element.
  const noise = createTensor(gpu, [count * 3 * 16 * 16], "f32", "noise");
  await runNow(gpu, [
    await fillNormal(gpu, { out: noise, seed: createSeed(gpu, seed), stream: 0 }),
  ]);
  const latents = await read(gpu, noise);
  for (const [guidance, eta] of [[1, 0], [2, 0.5]]) {
    const req = {
      labels: repeatVector(oneHot(5, 1), count),
      count,
      steps: 3,
      eta,
      seed,
      guidance,
      scheduler: "ddim" as const,
    };
    const drawn = await sampler.generate(req);
    const given = await sampler.generate({ ...req, latents });
    assertEquals(given, drawn, `guidance ${guidance}, eta ${eta}`);
    // With progress reports (one command buffer a step) the noise is still the given one.
    assertEquals(await sampler.generate({ ...req, latents }, () => {}), drawn);
    const other = Float32Array.from(latents, (v) => -v);
    notDeepStrictEqual(await sampler.generate({ ...req, latents: other }), drawn);
  }
});
