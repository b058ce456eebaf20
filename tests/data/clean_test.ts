import { cleanDataset, datasetReport, findBadSprites, isBadSprite } from "../../data/clean.ts";
import { DEFAULT_CLASS_NAMES, loadSpriteDataset, type SpriteDataset } from "../../data/sprites.ts";
import { assert, assertEquals } from "./helpers.ts";
import { makeRng } from "../util.ts";

const SAMPLE = "/work/shared/data/dlai-sprites-sample/";

Deno.test("clean: on the real sample it flags 6 of rows 0-29, all of 30-59, none of 60-89", async () => {
  const ds = await loadSpriteDataset(
    SAMPLE + "sprites_sample_90_16x16.npy",
    SAMPLE + "sprite_labels_sample_90.npy",
  );
  const bad = Array.from(findBadSprites(ds));
  assertEquals(bad.filter((i) => i < 30).length, 6, "rows 0-29");
  for (let i = 30; i < 60; i++) assert(bad.includes(i), `row ${i} must be flagged`);
  assertEquals(bad.filter((i) => i >= 60), [], "rows 60-89");
});

/** One white h x w sprite with `colored` random non-white pixels, none of them a corner. */
function sprite(
  rng: ReturnType<typeof makeRng>,
  h: number,
  w: number,
  colored: number,
): Uint8Array {
  const img = new Uint8Array(h * w * 3).fill(255);
  const corners = [0, w - 1, (h - 1) * w, h * w - 1];
  const inner = [...Array(h * w).keys()].filter((p) => !corners.includes(p));
  for (let k = 0; k < colored; k++) {
    const p = inner.splice(Math.floor(rng.next() * inner.length), 1)[0];
    img[p * 3 + Math.floor(rng.next() * 3)] = Math.floor(rng.next() * 255); // one channel below 255
  }
  return img;
}

Deno.test("clean: the white-pixel threshold and the corner rule, each on its own", () => {
  const rng = makeRng();
  const [h, w] = [7 + Math.floor(rng.next() * 5), 9];
  const n = h * w;
  const at = (img: Uint8Array, opts = {}) =>
    isBadSprite(img, 0, h, w, { minWhitePixels: 26, requireWhiteCorners: true, ...opts });
  assertEquals(at(sprite(rng, h, w, n - 26)), false, `exactly 26 white (seed ${rng.seed})`);
  assertEquals(at(sprite(rng, h, w, n - 25)), true, `25 white (seed ${rng.seed})`);
  assertEquals(at(sprite(rng, h, w, n - 25), { minWhitePixels: 25 }), false, "threshold 25");
  for (const corner of [0, w - 1, (h - 1) * w, n - 1]) {
    const img = sprite(rng, h, w, 3);
    img[corner * 3 + 2] = 254; // almost white is not white
    assertEquals(at(img), true, `corner ${corner}`);
    assertEquals(at(img, { requireWhiteCorners: false }), false, `corner ${corner}, rule off`);
  }
  // The sprite index selects its own pixels in a stack.
  const stack = new Uint8Array(3 * n * 3);
  stack.set(sprite(rng, h, w, 0), 0);
  stack.set(sprite(rng, h, w, n - 10), n * 3);
  stack.set(sprite(rng, h, w, 5), 2 * n * 3);
  assertEquals([0, 1, 2].map((i) => isBadSprite(stack, i, h, w)), [false, true, false]);
});

Deno.test("clean: report counts and the cleaned dataset agree with the flags", () => {
  const rng = makeRng();
  const count = 40 + Math.floor(rng.next() * 23);
  const k = DEFAULT_CLASS_NAMES.length;
  const images = new Uint8Array(count * 768);
  const labels = new Float32Array(count * k);
  const cls: number[] = [];
  const bad: number[] = [];
  for (let i = 0; i < count; i++) {
    const isBad = rng.next() < 0.4;
    images.set(sprite(rng, 16, 16, isBad ? 240 : 100), i * 768);
    cls.push(Math.floor(rng.next() * k));
    labels[i * k + cls[i]] = 1;
    if (isBad) bad.push(i);
  }
  const ds: SpriteDataset = {
    images,
    labels,
    count,
    height: 16,
    width: 16,
    classNames: DEFAULT_CLASS_NAMES,
  };
  const report = datasetReport(ds);
  assertEquals(Array.from(report.removedIndices), bad, `removed (seed ${rng.seed})`);
  assertEquals([report.total, report.removed, report.kept], [
    count,
    bad.length,
    count - bad.length,
  ]);
  for (let c = 0; c < k; c++) {
    const before = cls.filter((x) => x === c).length;
    const removed = bad.filter((i) => cls[i] === c).length;
    assertEquals(report.classes[c], {
      index: c,
      name: DEFAULT_CLASS_NAMES[c],
      before,
      removed,
      after: before - removed,
    });
  }
  assertEquals(report.rule, { minWhitePixels: 26, requireWhiteCorners: true });
  assertEquals(datasetReport(ds, { minWhitePixels: 10 }).removed, 0, "threshold 10 keeps all");

  const { dataset, removed } = cleanDataset(ds);
  assertEquals(Array.from(removed), bad);
  const kept = [...Array(count).keys()].filter((i) => !bad.includes(i));
  assertEquals(dataset.count, kept.length);
  kept.forEach((i, j) => {
    assertEquals(
      Array.from(dataset.images.subarray(j * 768, (j + 1) * 768)),
      Array.from(images.subarray(i * 768, (i + 1) * 768)),
      `kept ${i}`,
    );
    assertEquals(
      Array.from(dataset.labels.subarray(j * k, (j + 1) * k)),
      Array.from(labels.subarray(i * k, (i + 1) * k)),
    );
  });
});
