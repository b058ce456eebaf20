// Pixel distances, nearest neighbours and the near-copy threshold on constructed cases: a copying
// "generator" is 100 % near-copies, noise is none, and brute force agrees with the search.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  meanPairwiseDistance,
  nearCopyThreshold,
  nearestNeighbours,
  pixelDistance,
  quantile,
  shareAtOrBelow,
} from "../../gpu/eval/pixels.ts";
import { makeRng } from "../util.ts";

const PX = 16 * 16 * 3;

function randomSprites(rng: ReturnType<typeof makeRng>, n: number): Uint8Array {
  return Uint8Array.from({ length: n * PX }, () => Math.floor(rng.next() * 256));
}

Deno.test("pixels: distance is the RMS difference on [0, 1]: black to white is 1, a copy 0", () => {
  const black = new Uint8Array(PX), white = new Uint8Array(PX).fill(255);
  ok(pixelDistance(black, 0, white, 0, PX) === 1);
  ok(pixelDistance(white, 0, white, 0, PX) === 0);
  const one = new Uint8Array(PX);
  one[5] = 255; // one channel value of one pixel: sqrt(1 / 768)
  ok(Math.abs(pixelDistance(one, 0, black, 0, PX) - Math.sqrt(1 / PX)) < 1e-15);
});

Deno.test("pixels: nearest neighbours agree with brute force; exclude skips a sprite's own copy", () => {
  const rng = makeRng();
  const ref = randomSprites(rng, 60);
  const queries = randomSprites(rng, 9);
  const nn = nearestNeighbours(queries, 9, ref, PX);
  for (let q = 0; q < 9; q++) {
    let best = Infinity, at = -1;
    for (let r = 0; r < 60; r++) {
      const d = pixelDistance(queries, q, ref, r, PX);
      if (d < best) [best, at] = [d, r];
    }
    assertEquals([nn.index[q], nn.distance[q]], [at, best], `query ${q} (seed ${rng.seed})`);
  }
  // Sprites of the reference set against the set itself: each finds itself unless excluded.
  const self = nearestNeighbours(ref.subarray(0, 5 * PX), 5, ref, PX);
  assertEquals(Array.from(self.index), [0, 1, 2, 3, 4]);
  ok(self.distance.every((d) => d === 0));
  const loo = nearestNeighbours(ref.subarray(0, 5 * PX), 5, ref, PX, { exclude: (q) => q });
  ok(Array.from(loo.index).every((j, q) => j !== q) && loo.distance.every((d) => d > 0));
  // A subset of the reference, by index.
  const sub = nearestNeighbours(queries, 9, ref, PX, { referenceIndices: [7, 11] });
  ok(Array.from(sub.index).every((j) => j === 7 || j === 11));
});

Deno.test("pixels: a generator that copies training sprites scores 100 % near-copies", () => {
  const rng = makeRng();
  const training = randomSprites(rng, 50);
  // "Generated": exact copies of training sprites; "held out": fresh sprites of the same kind.
  const picks = Array.from({ length: 20 }, () => Math.floor(rng.next() * 50));
  const copies = new Uint8Array(20 * PX);
  picks.forEach((p, i) => copies.set(training.subarray(p * PX, (p + 1) * PX), i * PX));
  const heldOut = randomSprites(rng, 30);
  const realD = nearestNeighbours(heldOut, 30, training, PX).distance;
  const threshold = nearCopyThreshold(realD, 0.05, 0.02);
  const genNN = nearestNeighbours(copies, 20, training, PX);
  ok(shareAtOrBelow(genNN.distance, threshold) === 1, `threshold ${threshold}`);
  assertEquals(Array.from(genNN.index), picks);
  // Noise is no copy of anything: fresh random sprites sit at the held-out distances' typical value.
  const noise = randomSprites(rng, 20);
  ok(shareAtOrBelow(nearestNeighbours(noise, 20, training, PX).distance, 0.02) === 0);
  // The held-out sprites' own share is the quantile asked for (30 values: 0.05 puts 2 at or below).
  const share = shareAtOrBelow(realD, quantile(realD, 0.05));
  ok(share > 0 && share <= 0.1, `held-out share ${share}`);
});

Deno.test("pixels: quantile is numpy's linear one; the threshold never drops below its floor", () => {
  ok(quantile([3, 1, 2, 4], 0.5) === 2.5);
  ok(quantile([10, 0], 0.25) === 2.5);
  ok(quantile([5], 0.9) === 5);
  // A data set full of exact duplicates puts the quantile at 0: the floor takes over.
  ok(nearCopyThreshold([0, 0, 0, 0.3], 0.05, 0.02) === 0.02);
  ok(nearCopyThreshold([0.1, 0.2, 0.3], 0, 0.02) === 0.1);
});

Deno.test("pixels: mean pairwise distance: 0 for copies, exact on a constructed set, capped", () => {
  const black = new Uint8Array(PX), white = new Uint8Array(PX).fill(255);
  const set = new Uint8Array(3 * PX);
  set.set(black, 0);
  set.set(black, PX);
  set.set(white, 2 * PX);
  // Pairs: (b, b) 0, (b, w) 1, (b, w) 1 -> 2/3.
  ok(Math.abs(meanPairwiseDistance(set, PX, [0, 1, 2]) - 2 / 3) < 1e-15);
  ok(meanPairwiseDistance(set, PX, [0, 1]) === 0);
  ok(Number.isNaN(meanPairwiseDistance(set, PX, [2])));
  const capped = meanPairwiseDistance(set, PX, [0, 1, 2], 2, 3);
  ok(capped === 0 || capped === 1, `a sample of 2 gives one pair: ${capped}`);
});
