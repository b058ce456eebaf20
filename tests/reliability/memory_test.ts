// The memory budget: a program's and a training job's estimate (a dry run of their builders) is the
// bytes the real build allocates; an evicted program's buffers are destroyed at once; a burst of
// requests that each need a new program stays within the budget (before: every evicted program kept
// its memory until garbage collection, 10 GB after 16 pairs of requests), and what can never fit is
// refused with 413 before anything is allocated.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { AllocationScope, MemoryBudget, withAllocations } from "../../gpu/runtime/memory.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { REFERENCE_RECIPE } from "../../gpu/train/recipe.ts";
import { estimateTraining, Trainer } from "../../gpu/train/trainer.ts";
import { generateSpriteDataset } from "../../data/generate.ts";
import { DEFAULT_CLASS_NAMES } from "../../gpu/model/sprite_model.ts";
import { startTestServer, tinyModel } from "../routes/helpers.ts";
import { getGpu, tinyConfig } from "../util.ts";
import { postJson, tinyTrainingSet } from "./helpers.ts";

const gpu = await getGpu();

interface Made {
  bytes: number;
  destroyed: boolean;
  /** "buffer": a tensor's storage buffer; "uniform": a dispatch's parameters. */
  kind: "buffer" | "uniform" | "texture";
}

/**
 * Counts what the real device allocates while `fn` runs (staging buffers for readbacks aside), and
 * whether each allocation has been destroyed.
 */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; made: Made[] }> {
  // Own properties shadow the prototype's methods for as long as `fn` runs.
  const device = gpu.device as unknown as Record<string, unknown>;
  const made: Made[] = [];
  const mark = <R extends { destroy(): void }>(r: R, m: Made): R => {
    const destroy = r.destroy.bind(r);
    Object.defineProperty(r, "destroy", {
      value: () => {
        m.destroyed = true;
        destroy();
      },
    });
    made.push(m);
    return r;
  };
  device.createBuffer = (d: GPUBufferDescriptor) => {
    const b = GPUDevice.prototype.createBuffer.call(gpu.device, d);
    if (d.usage & GPUBufferUsage.MAP_READ) return b;
    const kind = d.usage & GPUBufferUsage.STORAGE ? "buffer" : "uniform";
    return mark(b, { bytes: d.size, destroyed: false, kind });
  };
  device.createTexture = (d: GPUTextureDescriptor) => {
    const t = GPUDevice.prototype.createTexture.call(gpu.device, d);
    const [w, h] = d.size as number[];
    const texel = d.format === "rgba16float" ? 8 : 16;
    return mark(t, { bytes: w * h * texel, destroyed: false, kind: "texture" });
  };
  try {
    return { value: await fn(), made };
  } finally {
    delete device.createBuffer;
    delete device.createTexture;
  }
}

const sum = (made: Made[], f: (m: Made) => boolean = () => true) =>
  made.filter(f).reduce((n, m) => n + m.bytes, 0);

const request = (count: number, eta: number) => ({
  labels: new Float32Array(count * 5),
  count,
  steps: 2,
  eta,
  seed: 1,
  guidance: 2,
  scheduler: "ddim" as const,
});

Deno.test("memory: a sampling program's estimate is what its build allocates; eviction destroys it", async () => {
  const model = tinyModel(gpu);
  const budget = new MemoryBudget(2 ** 40);
  const sampler = new SpriteSampler(gpu, model, { maxPrograms: 1, budget });
  const estimate = await sampler.estimate(request(5, 0));
  const first = await counted(() => sampler.generate(request(5, 0)));
  assertEquals(sum(first.made), estimate.deviceBytes, "estimate = bytes allocated");
  assertEquals(budget.usedBytes, estimate.deviceBytes + estimate.hostBytes, "reserved");
  ok(first.made.every((m) => !m.destroyed));
  // A second program evicts the first (maxPrograms 1): its buffers go at once, not at GC.
  await sampler.generate(request(5, 0.5));
  // Every buffer, operand texture and dispatch parameter buffer goes at once, not at GC.
  for (const kind of ["buffer", "texture", "uniform"] as const) {
    const of = first.made.filter((m) => m.kind === kind);
    ok(of.length > 0 && of.every((m) => m.destroyed), `every ${kind} destroyed on eviction`);
  }
  assertEquals(sampler.programCount, 1);
  sampler.close();
  assertEquals(budget.usedBytes, 0, "closing the sampler releases every reservation");
});

Deno.test("memory: a training job's estimate is what Trainer.create allocates", async () => {
  const g = generateSpriteDataset({ count: 12, seed: 3 });
  const dataset = {
    images: g.images,
    labels: Float32Array.from(g.labels),
    count: 12,
    height: 16,
    width: 16,
    classNames: [...DEFAULT_CLASS_NAMES],
  };
  const recipe = { ...REFERENCE_RECIPE, batch: 4 };
  const estimate = await estimateTraining(gpu, tinyConfig, dataset, recipe);
  const scope = new AllocationScope("job");
  const job = await counted(async () => {
    const scoped = withAllocations(gpu, scope);
    const model = randomSpriteModel(scoped, tinyConfig, 1, dataset.classNames);
    return await Trainer.create(scoped, model, dataset, recipe);
  });
  assertEquals(sum(job.made), estimate.deviceBytes);
  ok(estimate.hostBytes >= dataset.images.length);
  scope.destroy();
  ok(job.made.length > 0 && job.made.every((m) => m.destroyed), "everything it made destroyed");
  void job.value;
});

Deno.test({
  name: "memory: a burst of requests that each need a program stays in the budget; too big is 413",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The budget: the model and two programs of this size.
    const probe = new SpriteSampler(gpu, tinyModel(gpu));
    const e = await probe.estimate(request(8, 0));
    const program = e.deviceBytes + e.hostBytes;
    const modelBytes = 2 * 4 * 64 * 1024; // an upper bound for the tiny model's parameters
    const dir = await Deno.makeTempDir({ prefix: "memory_" });
    const budgetBytes = modelBytes * 4 + Math.floor(2.5 * program);
    const server = await startTestServer({
      memoryBudgetBytes: budgetBytes,
      allowTrain: true,
      trainDir: dir,
      trainingData: await tinyTrainingSet(dir),
    });
    try {
      const etas = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
      const answers = await Promise.all(etas.map((eta) =>
        fetch(
          server.url + "/api/generate",
          postJson({ class: 1, count: 8, steps: 2, eta, guidance: 2 }),
        ).then(async (r) => ({ status: r.status, bytes: (await r.arrayBuffer()).byteLength }))
      ));
      assertEquals(answers.map((a) => a.status), etas.map(() => 200));
      const health = await (await fetch(server.url + "/api/health")).json();
      const m = health.memory;
      console.log(
        `budget ${m.budgetBytes}, peak ${m.peakBytes}, used ${m.usedBytes}, programs ${m.programs}`,
      );
      ok(m.peakBytes <= budgetBytes && m.usedBytes <= budgetBytes, JSON.stringify(m));
      ok(m.programs <= 2, `${m.programs} programs live`);
      // One program larger than the whole budget: refused before it is built.
      const big = await fetch(
        server.url + "/api/generate",
        postJson({ class: 1, count: 64, steps: 1, guidance: 2 }),
      );
      const bigBody = await big.json();
      assertEquals(big.status, 413, JSON.stringify(bigBody));
      ok(
        /needs [\d.]+ MiB of memory; the service's budget is/.test(bigBody.detail),
        bigBody.detail,
      );
      // A training job past the budget likewise (before: batch 1,024 passed 8 GB).
      const job = await fetch(server.url + "/api/train", postJson({ batch: 1024, epochs: 1 }));
      const jobBody = await job.json();
      assertEquals(job.status, 413, JSON.stringify(jobBody));
      ok(/a training job of batch 1024 needs/.test(jobBody.detail), jobBody.detail);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
