// Progress reports: one per denoising step, after the step has run, and the same bytes as the
// single-submit run (the same dispatches in the same order, split into one command buffer a step).
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { oneHot, repeatVector } from "../../gpu/sample/labels.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { getGpu, tinyConfig } from "../util.ts";

Deno.test("sampler: onProgress sees every step once, in order, and changes no byte", async () => {
  const gpu = await getGpu();
  const sampler = new SpriteSampler(gpu, randomSpriteModel(gpu, tinyConfig, 3));
  for (const guidance of [1, 2]) {
    const req = {
      labels: repeatVector(oneHot(5, 1), 3),
      count: 3,
      steps: 4,
      eta: 0.5,
      seed: 9,
      guidance,
      scheduler: "ddim" as const,
    };
    const plain = await sampler.generate(req);
    const seen: [number, number][] = [];
    const reported = await sampler.generate(req, (done, total) => seen.push([done, total]));
    assertEquals(seen, [[1, 4], [2, 4], [3, 4], [4, 4]], `guidance ${guidance}`);
    assertEquals(reported, plain, `guidance ${guidance}: bytes`);
  }
});
