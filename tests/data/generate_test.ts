import { findBadSprites } from "../../data/clean.ts";
import {
  BUNDLED_COUNT,
  BUNDLED_LABELS_PATH,
  BUNDLED_SEED,
  BUNDLED_SPRITES_PATH,
  classCountsFor,
  COURSE_CLASS_COUNTS,
  DEFAULT_BAD_SHARE,
  generateSpriteDataset,
  writeBundledDataset,
} from "../../data/generate.ts";
import { readNpy } from "../../data/npy.ts";
import { classIndices, loadSpriteDataset } from "../../data/sprites.ts";
import { assert, assertEquals } from "./helpers.ts";
import { makeRng } from "../util.ts";

Deno.test("generate: the same seed gives the same bytes, another seed other sprites", () => {
  const seed = makeRng().seed;
  const count = 150 + (seed % 50);
  const a = generateSpriteDataset({ count, seed });
  const b = generateSpriteDataset({ count, seed });
  const c = generateSpriteDataset({ count, seed: seed + 1 });
  assertEquals(Array.from(a.images), Array.from(b.images), `seed ${seed}`);
  assertEquals(Array.from(a.labels), Array.from(b.labels), `seed ${seed}`);
  assert(
    Array.from(a.images).join() !== Array.from(c.images).join(),
    `seeds ${seed}, ${seed + 1} equal`,
  );
});

Deno.test("generate: class counts in the course's proportions, one-hot labels", () => {
  assertEquals(classCountsFor(89400), COURSE_CLASS_COUNTS);
  assertEquals(classCountsFor(4470), [400, 1620, 300, 1750, 400]);
  const seed = makeRng().seed;
  const count = 200 + (seed % 97);
  const g = generateSpriteDataset({ count, seed });
  const counts = classCountsFor(count);
  assertEquals(counts.reduce((a, b) => a + b, 0), count);
  for (let c = 0; c < 5; c++) {
    assertEquals(g.classes.filter((x) => x === c).length, counts[c], `class ${c} (seed ${seed})`);
  }
  for (let i = 0; i < count; i++) {
    const row = Array.from(g.labels.subarray(i * 5, i * 5 + 5));
    assertEquals(row, [0, 1, 2, 3, 4].map((c) => (c === g.classes[i] ? 1 : 0)), `label ${i}`);
  }
});

Deno.test("generate: the cleaning rule removes exactly the sprites drawn bad", () => {
  const seed = makeRng().seed;
  const count = 600;
  const g = generateSpriteDataset({ count, seed });
  const ds = {
    images: g.images,
    labels: Float32Array.from(g.labels),
    count,
    height: 16,
    width: 16,
    classNames: ["a", "b", "c", "d", "e"],
  };
  const flagged = Array.from(findBadSprites(ds));
  const drawnBad = [...Array(count).keys()].filter((i) => g.bad[i]);
  assertEquals(flagged, drawnBad, `seed ${seed}`);
  const counts = classCountsFor(count);
  for (let c = 0; c < 5; c++) {
    const bad = drawnBad.filter((i) => g.classes[i] === c).length;
    assertEquals(
      bad,
      Math.round(counts[c] * DEFAULT_BAD_SHARE[c]),
      `bad in class ${c} (seed ${seed})`,
    );
  }
  // Good sprites are drawings, not blanks: a fair number of coloured pixels each.
  for (const i of [...Array(count).keys()].filter((i) => !g.bad[i])) {
    let colored = 0;
    for (let p = 0; p < 256; p++) {
      if (g.images.subarray(i * 768 + p * 3, i * 768 + p * 3 + 3).some((v) => v !== 255)) colored++;
    }
    assert(
      colored >= 20 && colored <= 230,
      `sprite ${i} has ${colored} coloured pixels (seed ${seed})`,
    );
  }
});

Deno.test("generate: writeBundledDataset files load back in the course's formats", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const seed = makeRng().seed;
    const { spritesPath, labelsPath } = await writeBundledDataset(dir, { count: 77, seed });
    assertEquals([spritesPath, labelsPath], [
      `${dir}/sprites_77_16x16.npy`,
      `${dir}/sprite_labels_nc_77_16x16.npy`,
    ]);
    const labels = await readNpy(labelsPath);
    assertEquals([labels.dtype, labels.shape], ["f8", [77, 5]]);
    const ds = await loadSpriteDataset(spritesPath, labelsPath);
    const g = generateSpriteDataset({ count: 77, seed });
    assertEquals(Array.from(ds.images), Array.from(g.images), `seed ${seed}`);
    assertEquals(Array.from(classIndices(ds)), Array.from(g.classes));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generate: the bundled files are what the generator makes (regenerate after a change)", async () => {
  const ds = await loadSpriteDataset(BUNDLED_SPRITES_PATH, BUNDLED_LABELS_PATH);
  const g = generateSpriteDataset({ count: BUNDLED_COUNT, seed: BUNDLED_SEED });
  assert(
    ds.images.every((v, i) => v === g.images[i]) && ds.count === BUNDLED_COUNT,
    "data/bundled/ is stale: run `deno run -A data/generate.ts`",
  );
  assertEquals(Array.from(classIndices(ds)), Array.from(g.classes));
});
