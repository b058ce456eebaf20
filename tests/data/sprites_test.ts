import { parseNpy } from "../../data/npy.ts";
import {
  classIndices,
  classOf,
  DEFAULT_CLASS_NAMES,
  labelsFromNpy,
  loadSpriteDataset,
  selectSprites,
  spritesFromNpy,
} from "../../data/sprites.ts";
import {
  assertEquals,
  assertInputError,
  assertRejectsInputError,
  bytesOf,
  numpyStyleNpy,
} from "./helpers.ts";
import { makeRng } from "../util.ts";

const SAMPLE = "/work/shared/data/dlai-sprites-sample/";

const npy = (descr: string, shape: number[], data: ArrayBufferView) =>
  parseNpy(numpyStyleNpy(descr, shape, bytesOf(data)));

Deno.test("sprites: loads the real sample with the default class names", async () => {
  const ds = await loadSpriteDataset(
    SAMPLE + "sprites_sample_90_16x16.npy",
    SAMPLE + "sprite_labels_sample_90.npy",
  );
  assertEquals([ds.count, ds.height, ds.width, ds.images.length], [90, 16, 16, 90 * 768]);
  assertEquals(ds.classNames, ["human", "non-human", "food", "spell", "side-facing"]);
  assertEquals(ds.labels.length, 90 * 5);
  assertEquals(Array.from(classIndices(ds)), new Array(90).fill(1), "all non-human");
});

Deno.test("sprites: images must be uint8 [N, H, W, 3], any H and W", () => {
  const rng = makeRng();
  const [n, h, w] = [2 + Math.floor(rng.next() * 4), 5, 13];
  const data = Uint8Array.from({ length: n * h * w * 3 }, () => Math.floor(rng.next() * 256));
  const ok = spritesFromNpy(npy("|u1", [n, h, w, 3], data));
  assertEquals([ok.count, ok.height, ok.width], [n, h, w], `seed ${rng.seed}`);
  assertEquals(Array.from(ok.images), Array.from(data));

  assertInputError(
    () => spritesFromNpy(npy("<f4", [1, 4, 4, 3], new Float32Array(48))),
    /must be uint8/,
  );
  assertInputError(
    () => spritesFromNpy(npy("|u1", [2, 16, 16], new Uint8Array(512))),
    /\[N, H, W, 3\].*3 channels.*got \[2,16,16\]/,
  );
  assertInputError(
    () => spritesFromNpy(npy("|u1", [2, 16, 16, 4], new Uint8Array(2048))),
    /\[N, H, W, 3\]/,
  );
  assertInputError(() => spritesFromNpy(npy("|u1", [2, 3, 4, 4], new Uint8Array(96))), /NCHW/);
  assertInputError(
    () => spritesFromNpy(npy("|u1", [0, 16, 16, 3], new Uint8Array(0))),
    /no sprites/,
  );
});

Deno.test("labels: one-hot float64/float32, soft rows, and integer class indices", () => {
  const oneHot = [0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0];
  for (
    const [descr, data] of [["<f8", Float64Array.from(oneHot)], [
      "<f4",
      Float32Array.from(oneHot),
    ]] as const
  ) {
    assertEquals(Array.from(labelsFromNpy(npy(descr, [3, 5], data), 3, 5)), oneHot, descr);
  }
  const indices = [1, 4, 0];
  const asIndices: [string, ArrayBufferView][] = [
    ["|u1", Uint8Array.from(indices)],
    ["<i4", Int32Array.from(indices)],
    ["<i8", BigInt64Array.from(indices, BigInt)],
    ["<u2", Uint16Array.from(indices)],
  ];
  for (const [descr, data] of asIndices) {
    assertEquals(Array.from(labelsFromNpy(npy(descr, [3], data), 3, 5)), oneHot, descr);
  }
  // Soft rows stay as they are for training; the class is the argmax (first on a tie).
  const soft = Float64Array.from([0.5, 0.5, 0, 0, 0, 0, 0.2, 0, 0.7, 0.1]);
  const labels = labelsFromNpy(npy("<f8", [2, 5], soft), 2, 5);
  assertEquals(Array.from(labels), Array.from(Float32Array.from(soft)));
  const ds = {
    images: new Uint8Array(2 * 3),
    labels,
    count: 2,
    height: 1,
    width: 1,
    classNames: DEFAULT_CLASS_NAMES,
  };
  assertEquals([classOf(ds, 0), classOf(ds, 1)], [0, 3]);
});

Deno.test("labels: each wrong label file gets its own clear error", () => {
  const f8 = (rows: number[][]) =>
    npy("<f8", [rows.length, rows[0].length], Float64Array.from(rows.flat()));
  const row = [0, 0, 1, 0, 0];
  assertInputError(() => labelsFromNpy(f8([row, row]), 3, 5), /2 labels for 3 sprites/);
  assertInputError(
    () => labelsFromNpy(f8([row, [0, NaN, 1, 0, 0]]), 2, 5),
    /label 1 has a non-finite value NaN/,
  );
  assertInputError(
    () => labelsFromNpy(f8([[Infinity, 0, 0, 0, 0]]), 1, 5),
    /non-finite value Infinity/,
  );
  assertInputError(() => labelsFromNpy(f8([[0, -1, 1, 0, 0]]), 1, 5), /negative/);
  assertInputError(() => labelsFromNpy(f8([[0, 0, 0, 0, 0]]), 1, 5), /all zeros/);
  assertInputError(() => labelsFromNpy(f8([[0, 1, 0, 0]]), 1, 5), /5 columns/);
  assertInputError(
    () => labelsFromNpy(npy("|u1", [2], Uint8Array.from([1, 5])), 2, 5),
    /label 1 is class 5/,
  );
  assertInputError(
    () => labelsFromNpy(npy("<i8", [1], BigInt64Array.from([-1n])), 1, 5),
    /class -1/,
  );
  assertInputError(
    () => labelsFromNpy(npy("<f8", [2], Float64Array.from([1, 2])), 2, 5),
    /must be integer class indices/,
  );
  assertInputError(
    () => labelsFromNpy(npy("<f8", [1, 5, 1], new Float64Array(5)), 1, 5),
    /got shape \[1,5,1\]/,
  );
});

Deno.test("sprites: loading reports a missing file, a bad file and a count mismatch", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sprites = SAMPLE + "sprites_sample_90_16x16.npy";
    await assertRejectsInputError(
      () => loadSpriteDataset(sprites, `${dir}/none.npy`),
      /cannot read .*none\.npy/,
    );
    await Deno.writeTextFile(`${dir}/text.npy`, "hello");
    await assertRejectsInputError(
      () => loadSpriteDataset(sprites, `${dir}/text.npy`),
      /text\.npy: not an \.npy file/,
    );
    await assertRejectsInputError(
      () => loadSpriteDataset(sprites, SAMPLE + "labels_argmax_89400.npy"),
      /89400 labels for 90 sprites/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sprites: selectSprites copies the chosen images and labels in order", async () => {
  const ds = await loadSpriteDataset(
    SAMPLE + "sprites_sample_90_16x16.npy",
    SAMPLE + "sprite_labels_sample_90.npy",
  );
  const pick = [89, 0, 45];
  const sub = selectSprites(ds, pick);
  assertEquals(sub.count, 3);
  pick.forEach((i, j) => {
    assertEquals(
      Array.from(sub.images.subarray(j * 768, (j + 1) * 768)),
      Array.from(ds.images.subarray(i * 768, (i + 1) * 768)),
      `sprite ${i}`,
    );
  });
});
