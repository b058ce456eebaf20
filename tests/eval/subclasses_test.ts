// Sub-classes: mid-block features that do not depend on the batch a sprite ran in, cluster
// descriptions and names, and the labels files of width K and C + K.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { midBlockFeatures, noisedSprite } from "../../gpu/eval/features.ts";
import { kmeans } from "../../gpu/eval/kmeans.ts";
import { describeClusters, subclassLabels } from "../../gpu/eval/subclasses.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { DDPMScheduler } from "../../gpu/sample/scheduler.ts";
import { classIndices } from "../../gpu/train/dataset.ts";
import { getGpu, tinyConfig } from "../util.ts";
import { TOY_CLASSES, toySprites } from "./toy_sprites.ts";

Deno.test("mid-block features: [C, H/2^levels, W/2^levels] per sprite, the same whatever the batch", async () => {
  const gpu = await getGpu();
  const model = randomSpriteModel(gpu, tinyConfig, 3, TOY_CLASSES);
  const ds = toySprites(2);
  const a = await midBlockFeatures(gpu, model, ds.images, 7, { timestep: 300, seed: 5, batch: 4 });
  const b = await midBlockFeatures(gpu, model, ds.images, 7, { timestep: 300, seed: 5, batch: 8 });
  // tinyConfig: block_out_channels [8, 16], one downsampling: 16 x 8 x 8.
  assertEquals(a.shape, [16, 8, 8]);
  assertEquals(a.dim, 16 * 8 * 8);
  ok(a.features.every(Number.isFinite) && a.features.some((v) => v !== 0));
  for (let i = 0; i < a.features.length; i++) {
    ok(
      Math.abs(a.features[i] - b.features[i]) <= 1e-5 * (1 + Math.abs(b.features[i])),
      `value ${i}`,
    );
  }
  const other = await midBlockFeatures(gpu, model, ds.images, 1, { timestep: 300, seed: 6 });
  ok(other.features.some((v, i) => v !== a.features[i]), "another seed, another noise");
});

Deno.test("noised sprites: sqrt(a) x0 + sqrt(1 - a) eps, nearly the sprite at t = 0, seeded", () => {
  const ds = toySprites(1);
  const size = 16, n = 3 * size * size;
  const clean = new Float32Array(n), x = new Float32Array(n), y = new Float32Array(n);
  noisedSprite(ds.images, 0, size, 1, 0, clean);
  const a0 = new DDPMScheduler().alphaProdAt(0);
  noisedSprite(ds.images, 0, size, a0, 9, x);
  ok(x.every((v, i) => Math.abs(v - clean[i]) < 0.1), "t = 0 is almost clean");
  noisedSprite(ds.images, 0, size, 0.25, 9, x);
  noisedSprite(ds.images, 0, size, 0.25, 9, y);
  assertEquals(x, y);
  // Half the signal: the noise part has unit variance scaled by sqrt(0.75).
  let m = 0, v = 0;
  for (let i = 0; i < n; i++) m += (x[i] - 0.5 * clean[i]) / n;
  for (let i = 0; i < n; i++) v += (x[i] - 0.5 * clean[i] - m) ** 2 / n;
  ok(Math.abs(v - 0.75) < 0.15 && Math.abs(m) < 0.1, `noise mean ${m}, variance ${v}`);
});

Deno.test("sub-classes: clusters named after their main class, closest first; labels of width K or C + K", () => {
  const ds = toySprites(10);
  const classes = classIndices(ds);
  // Points on a line: red sprites near 0, the rest near 10 or 20 by class; k = 3.
  const x = Float64Array.from(classes, (c, i) => (c === 0 ? 0 : c === 1 ? 10 : 20) + (i % 5) * 0.1);
  const r = kmeans(x, ds.count, 1, { k: 3, seed: 1 });
  const clusters = describeClusters(r, classes, ds.classNames);
  const byName = new Map(clusters.map((c) => [c.name, c]));
  ok(byName.has("red-a") && byName.has("green-a"), clusters.map((c) => c.name).join(", "));
  const mixed = clusters.find((c) => c.size === 20)!;
  assertEquals(mixed.classes, [0, 0, 10, 10]);
  ok(mixed.name === "blue-a", mixed.name); // ties go to the first class
  for (const c of clusters) {
    const d = Array.from(c.members, (i) => r.distances[i]);
    ok(d.every((v, j) => j === 0 || v >= d[j - 1]), "members closest first");
  }

  const onlyClusters = subclassLabels(r.assignment, 3);
  assertEquals(onlyClusters.length, ds.count * 3);
  for (let i = 0; i < ds.count; i++) {
    assertEquals(
      Array.from(onlyClusters.subarray(i * 3, i * 3 + 3)).filter((v) => v === 1).length,
      1,
    );
    ok(onlyClusters[i * 3 + r.assignment[i]] === 1);
  }
  const both = subclassLabels(r.assignment, 3, { values: ds.labels, width: 4 });
  for (let i = 0; i < ds.count; i++) {
    assertEquals(
      Array.from(both.subarray(i * 7, i * 7 + 4)),
      Array.from(ds.labels.subarray(i * 4, i * 4 + 4)),
    );
    ok(both[i * 7 + 4 + r.assignment[i]] === 1);
  }
});
