// The sampler's bytes are its float output converted on the host, at the model's own sprite size:
// a model trained at another sample_size than 16 must not come back scrambled.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { UNetConfig } from "../../gpu/model/config.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { oneHot, repeatVector } from "../../gpu/sample/labels.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { getGpu, tinyConfig } from "../util.ts";

/** [count, 3, H, W] in [-1, 1] -> uint8 [count, H, W, 3], written out independently of toBytes. */
function hostBytes(x: Float32Array, count: number, size: number): Uint8Array {
  const out = new Uint8Array(count * size * size * 3);
  for (let b = 0; b < count; b++) {
    for (let y = 0; y < size; y++) {
      for (let xx = 0; xx < size; xx++) {
        for (let c = 0; c < 3; c++) {
          const v = x[((b * 3 + c) * size + y) * size + xx] / 2 + 0.5;
          out[((b * size + y) * size + xx) * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
        }
      }
    }
  }
  return out;
}

Deno.test("sampler: bytes are the float output in HWC order at the model's sample_size", async () => {
  const gpu = await getGpu();
  for (const size of [8, 16]) {
    const config: UNetConfig = { ...tinyConfig, sample_size: size };
    const sampler = new SpriteSampler(gpu, randomSpriteModel(gpu, config, 5));
    const count = 3;
    const req = {
      labels: repeatVector(oneHot(5, 2), count),
      count,
      steps: 2,
      eta: 0,
      seed: 4,
      guidance: 1,
      scheduler: "ddim" as const,
    };
    const floats = await sampler.generateFloats(req);
    assertEquals(floats.length, count * 3 * size * size, `sample_size ${size}: float output`);
    const bytes = await sampler.generate(req);
    assertEquals(bytes, hostBytes(floats, count, size), `sample_size ${size}: bytes`);
  }
});
