import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  ok,
} from "node:assert/strict";
import { oneHot, repeatVector } from "../../gpu/sample/labels.ts";
import { getGpu } from "../../gpu/runtime/device.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { type GenerationJob, GenerationQueue } from "../../routes/generation_queue.ts";
import { tinyModel } from "./helpers.ts";

function job(cls: number, count: number, seed: number, extra: Partial<GenerationJob> = {}) {
  return {
    labels: repeatVector(oneHot(5, cls), count),
    count,
    seed,
    steps: 3,
    eta: 0.5, // eta > 0 draws step noise too, so both noise kernels are checked
    guidance: 1,
    scheduler: "ddim" as const,
    ...extra,
  };
}

Deno.test("merged requests get the bytes they get alone, and are merged into one pass", async () => {
  const gpu = await getGpu();
  const sampler = new SpriteSampler(gpu, tinyModel(gpu));
  const jobs = [job(0, 3, 11), job(2, 5, 12), job(4, 2, 11), job(1, 1, 99)];
  const alone: Uint8Array[] = [];
  for (const j of jobs) alone.push(await sampler.generate(j));
  assertNotEquals(alone[0], alone[2].slice(0, alone[0].length), "different classes differ");

  const queue = new GenerationQueue(sampler);
  const merged = await Promise.all(jobs.map((j) => queue.generate(j)));
  merged.forEach((m, i) => assertEquals(m.sprites, alone[i], `request ${i}`));
  assertEquals(queue.stats.passes, 1);
  assertEquals(queue.stats.largestMerge, 4);
  // Each learns the pass it shared: one pass of 4 requests and 11 sprites, timed once.
  for (const m of merged) assertEquals({ ...m.pass, ms: 0 }, { ms: 0, requests: 4, sprites: 11 });
  ok(merged.every((m) => m.pass.ms === merged[0].pass.ms && m.waitedMs >= 0));
});

Deno.test("progress: a listener hears its pass begin and every step; the bytes do not change", async () => {
  const gpu = await getGpu();
  const sampler = new SpriteSampler(gpu, tinyModel(gpu));
  const queue = new GenerationQueue(sampler);
  const heard: string[] = [];
  const [a, b] = await Promise.all([
    queue.generate(job(0, 2, 3), undefined, (done, total) => heard.push(`${done}/${total}`)),
    queue.generate(job(1, 2, 4)),
  ]);
  assertEquals(heard, ["0/3", "1/3", "2/3", "3/3"]);
  assertEquals(a.sprites, await sampler.generate(job(0, 2, 3)));
  assertEquals(b.sprites, await sampler.generate(job(1, 2, 4)));
  assertEquals(queue.stats.passes, 1, "one pass for both");
});

Deno.test("latents: requests with their own noise share passes with each other, never with drawn ones", async () => {
  const gpu = await getGpu();
  const sampler = new SpriteSampler(gpu, tinyModel(gpu));
  const queue = new GenerationQueue(sampler);
  const noise = (n: number, k: number) =>
    Float32Array.from({ length: n * 768 }, (_, i) => Math.sin(i * 0.37 + k));
  const jobs = [
    job(0, 2, 1, { latents: noise(2, 1) }),
    job(2, 1, 1),
    job(3, 3, 1, { latents: noise(3, 2) }),
  ];
  const out = await Promise.all(jobs.map((j) => queue.generate(j)));
  assertEquals(queue.stats.passes, 2);
  assertEquals(out.map((o) => o.pass.requests), [2, 1, 2]);
  for (const [i, j] of jobs.entries()) {
    assertEquals(out[i].sprites, await sampler.generate(j), `request ${i}`);
  }
});

Deno.test("requests with different settings run in separate passes, in order", async () => {
  const gpu = await getGpu();
  const sampler = new SpriteSampler(gpu, tinyModel(gpu));
  const queue = new GenerationQueue(sampler, 8);
  const jobs = [job(0, 2, 1), job(0, 2, 1, { steps: 2 }), job(1, 6, 1), job(3, 4, 1)];
  const out = await Promise.all(jobs.map((j) => queue.generate(j)));
  // steps 3 (2 + 6 = 8 fit), steps 2, then the request that no longer fit in the batch.
  assertEquals(queue.stats.passes, 3);
  for (const [i, j] of jobs.entries()) {
    assertEquals(out[i].sprites, await sampler.generate(j), `request ${i}`);
  }
  assertEquals(out[0].sprites.length, 2 * 16 * 16 * 3);
});

Deno.test("guidance 0 gives the unconditional sprites; guidance 3 differs from both", async () => {
  const gpu = await getGpu();
  const sampler = new SpriteSampler(gpu, tinyModel(gpu));
  const queue = new GenerationQueue(sampler);
  const uncond = await sampler.generate({ ...job(0, 3, 5), labels: new Float32Array(15) });
  const [zero, three, plain] = await Promise.all([
    queue.generate(job(3, 3, 5, { guidance: 0 })),
    queue.generate(job(3, 3, 5, { guidance: 3 })),
    queue.generate(job(3, 3, 5)),
  ]);
  assertEquals(zero.sprites, uncond);
  assertNotEquals(three.sprites, uncond);
  assertNotEquals(three.sprites, plain.sprites);
});

/** A sampler stand-in whose passes take `ms` and record their seeds: the schedule alone. */
function fakeSampler(ms: number, log: string[]) {
  return {
    classes: 5,
    fits: () => Promise.resolve(true),
    generate: async (r: { count: number; itemSeeds?: Uint32Array }) => {
      log.push(`pass ${r.itemSeeds![0]}`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return new Uint8Array(r.count * 16 * 16 * 3);
    },
  } as unknown as SpriteSampler;
}

Deno.test("schedule: generation first, a training step after every 4 passes while requests wait", async () => {
  const log: string[] = [];
  const queue = new GenerationQueue(fakeSampler(5, log), 128, 0, 4);
  // Ten requests with distinct settings (one pass each), and a training loop of 3 steps.
  const requests = Array.from(
    { length: 10 },
    (_, i) => queue.generate(job(0, 1, i, { steps: i + 1 })),
  );
  const training = (async () => {
    for (let step = 0; step < 3; step++) {
      await queue.trainingTurn();
      log.push("step");
    }
    queue.trainingPaused();
  })();
  await Promise.all([...requests, training]);
  assertEquals(
    log.join(", "),
    [
      ...["pass 0", "pass 1", "pass 2", "pass 3", "step"],
      ...["pass 4", "pass 5", "pass 6", "pass 7", "step"],
      ...["pass 8", "pass 9", "step"],
    ].join(", "),
  );
  assertEquals(queue.stats.trainingTurns, 2);
});

Deno.test("schedule: a request whose client has gone is dropped before its pass", async () => {
  const log: string[] = [];
  const queue = new GenerationQueue(fakeSampler(20, log), 128, 0);
  const first = queue.generate(job(0, 1, 1));
  const gone = new AbortController();
  const dropped = queue.generate(job(0, 1, 2, { steps: 4 }), gone.signal).catch((e) => e.name);
  const kept = queue.generate(job(0, 1, 3, { steps: 5 }));
  setTimeout(() => gone.abort(), 5);
  await Promise.all([first, kept]);
  assertEquals(await dropped, "GenerationCancelledError");
  assertEquals(log, ["pass 1", "pass 3"]);
  assertEquals(queue.stats.cancelled, 1);
});

Deno.test("keep: a kept request is answered again without a pass, with its bytes; a swap drops it", async () => {
  const gpu = await getGpu();
  const sampler = new SpriteSampler(gpu, tinyModel(gpu));
  const queue = new GenerationQueue(sampler, 128, 0);
  const seed = 1 + Math.floor(Math.random() * 1e6);
  const [a, b] = [job(0, 3, seed), job(3, 2, seed + 1)];
  const made = await Promise.all([
    queue.generate(a, undefined, undefined, true),
    queue.generate(b),
  ]);
  assertEquals(queue.stats.passes, 1);
  const alone = await sampler.generate(a);
  assertEquals(made[0].sprites, alone);
  made[0].sprites.fill(0); // the caller's copy: what was kept must not change with it

  const heard: string[] = [];
  const again = await queue.generate({ ...a }, undefined, (d, t) => heard.push(`${d}/${t}`));
  assertEquals(again.sprites, alone);
  assertEquals([again.prepared, again.waitedMs, again.pass], [true, 0, made[0].pass]);
  assertEquals(heard, [], "no pass, no progress");
  assertEquals([queue.stats.passes, queue.stats.prepared], [1, 1]);

  // Not kept: b, a with another seed, guidance, count or class mix; each runs a pass.
  const others = [b, job(0, 3, seed + 7), job(0, 3, seed, { guidance: 2 }), job(0, 2, seed)];
  const mixed = { ...a, labels: a.labels.map((v, i) => (i % 5 === 1 ? 0.5 : v)) };
  for (const j of [...others, mixed]) {
    const m = await queue.generate(j);
    ok(!m.prepared, JSON.stringify({ seed: j.seed, count: j.count, guidance: j.guidance }));
    assertEquals(m.sprites, await sampler.generate(j));
  }
  assertEquals(queue.stats.passes, 6);

  // Another model's sampler: the kept sprites were the old model's.
  const other = new SpriteSampler(gpu, tinyModel(gpu, 8));
  queue.sampler = other;
  const swapped = await queue.generate(a);
  ok(!swapped.prepared);
  assertEquals(swapped.sprites, await other.generate(a));
  assertNotEquals(swapped.sprites, alone);
});

Deno.test("keep: requests with their own starting noise are never kept", async () => {
  const log: string[] = [];
  const queue = new GenerationQueue(fakeSampler(1, log), 128, 0);
  const latents = new Float32Array(3 * 16 * 16).fill(0.5);
  await queue.generate(job(0, 1, 5, { latents }), undefined, undefined, true);
  const again = await queue.generate(job(0, 1, 5, { latents }));
  ok(!again.prepared);
  assertEquals(log, ["pass 5", "pass 5"]);
});
