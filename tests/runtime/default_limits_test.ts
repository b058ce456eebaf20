// The engine within WebGPU's default limits, the only ones a web page can count on: a device that
// asks for nothing builds every program (sampling, the fixture's forward and backward, a training
// step) under every backend profile, and samples the same bytes as the process's own device.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { PROFILES, requestGpu, withProfile } from "../../gpu/runtime/device.ts";
import { compactConfig } from "../../gpu/model/presets.ts";
import { parseUNetConfig } from "../../gpu/model/config.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { buildUNet } from "../../gpu/model/unet.ts";
import { oneHot, repeatVector } from "../../gpu/sample/labels.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { buildTrainingStep } from "../../gpu/train/step.ts";
import { getGpu, tinyConfig } from "../util.ts";

// WebGPU's defaults (the spec's "Limits" table), as a page gets them.
const DEFAULTS = {
  maxStorageBuffersPerShaderStage: 8,
  maxStorageTexturesPerShaderStage: 4,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxBufferSize: 256 * 2 ** 20,
  maxTextureDimension2D: 8192,
};

const FIXTURE_CONFIG = new URL(
  "../../../shared/fixtures/diffusers-ref/unet_small/config.json",
  import.meta.url,
);

Deno.test("default limits: a device that asks for nothing has WebGPU's defaults", async () => {
  const gpu = await requestGpu({ largeBuffers: false, timestamps: false });
  try {
    for (const [name, value] of Object.entries(DEFAULTS)) {
      assertEquals(gpu.limits[name as keyof GPUSupportedLimits], value, name);
    }
    assertEquals([...gpu.device.features], []);
  } finally {
    gpu.device.destroy();
  }
});

Deno.test("default limits: every program builds under every profile", async () => {
  const device = await requestGpu({ largeBuffers: false, timestamps: false });
  const errors: string[] = [];
  device.device.addEventListener("uncapturederror", (e) => {
    errors.push((e as GPUUncapturedErrorEvent).error.message);
  });
  const fixture = parseUNetConfig(JSON.parse(await Deno.readTextFile(FIXTURE_CONFIG)));
  try {
    for (const profile of PROFILES) {
      const gpu = withProfile(device, profile);
      // The shipped model's sampling program at the server's largest merged batch, guided (2 x 128
      // rows); compiling or binding past a limit throws, naming the kernel.
      await buildUNet(gpu, compactConfig, { batch: 256, training: false, withBackward: false });
      await buildUNet(gpu, fixture, { batch: 2, training: false });
      const model = randomSpriteModel(gpu, compactConfig, 1);
      const data = { images: new Uint8Array(4 * 768), labels: new Float32Array(4 * 5), count: 4 };
      await buildTrainingStep(gpu, model, data, { batch: 32, loss: "l1", maskProb: 0.05 });
    }
    await device.device.queue.onSubmittedWorkDone();
    ok(errors.length === 0, errors.join("\n"));
  } finally {
    device.device.destroy();
  }
});

Deno.test("default limits: the same sprites as the process's device", async () => {
  const small = await requestGpu({ largeBuffers: false, timestamps: false });
  const usual = await getGpu();
  try {
    const req = {
      labels: repeatVector(oneHot(5, 3), 4),
      count: 4,
      steps: 3,
      eta: 0,
      seed: 5,
      guidance: 2,
      scheduler: "ddim" as const,
    };
    const sprites = (gpu: typeof usual) =>
      new SpriteSampler(gpu, randomSpriteModel(gpu, tinyConfig, 11)).generate(req);
    assertEquals(await sprites(small), await sprites(usual));
  } finally {
    small.device.destroy();
  }
});
