import {
  BalancedSampler,
  classBalancedWeights,
  samplesPerEpoch,
} from "../../gpu/train/balanced_sampler.ts";
import { assert, assertEquals } from "../data/helpers.ts";
import { makeRng } from "../util.ts";

/** Classes in the course set's proportions (8000 / 32400 / 6000 / 35000 / 8000), shuffled. */
function courseLikeClasses(rng: ReturnType<typeof makeRng>, n: number): Uint8Array {
  const shares = [8000, 32400, 6000, 35000, 8000].map((c) => c / 89400);
  const classes = new Uint8Array(n);
  let p = 0;
  shares.forEach((s, c) => {
    const m = c === 4 ? n - p : Math.round(s * n);
    classes.fill(c, p, p + m);
    p += m;
  });
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [classes[i], classes[j]] = [classes[j], classes[i]];
  }
  return classes;
}

function chiSquare(observed: number[], expected: number[]): number {
  return observed.reduce((s, o, i) => s + (o - expected[i]) ** 2 / expected[i], 0);
}

Deno.test("sampler: weights are 1 - class share; epochs are whole batches", () => {
  const classes = [0, 1, 1, 1, 2, 2];
  assertEquals(
    Array.from(classBalancedWeights(classes, 3)),
    [1, 3, 3, 3, 2, 2].map((m) => 1 - m / 6),
  );
  assertEquals([samplesPerEpoch(100, 32), samplesPerEpoch(96, 32), samplesPerEpoch(1, 7)], [
    128,
    96,
    7,
  ]);
  const s = new BalancedSampler(classes, { batchSize: 4, seed: 1 });
  assertEquals(s.epoch(0).length, 8);
});

Deno.test("sampler: drawn class frequencies follow n_c (1 - n_c / N) (chi-square)", () => {
  const rng = makeRng();
  const n = 300 + Math.floor(rng.next() * 400);
  const batch = 37;
  const classes = courseLikeClasses(rng, n);
  const sampler = new BalancedSampler(classes, { batchSize: batch, seed: rng.seed, numClasses: 5 });
  const perClass = [0, 0, 0, 0, 0];
  const perIndex = new Array(n).fill(0);
  let draws = 0;
  for (let e = 0; draws < 30000; e++) {
    const idx = sampler.epoch(e);
    assertEquals(idx.length, Math.ceil(n / batch) * batch);
    for (const i of idx) {
      assert(i < n, `index ${i} out of range (seed ${rng.seed})`);
      perClass[classes[i]]++;
      perIndex[i]++;
    }
    draws += idx.length;
  }
  const counts = [0, 1, 2, 3, 4].map((c) => classes.filter((x) => x === c).length);
  const weight = counts.map((m) => m * (1 - m / n));
  const total = weight.reduce((a, b) => a + b, 0);
  const expected = weight.map((w) => (draws * w) / total);
  // 33.4: the chi-square(4 dof) quantile at 1 - 1e-6, so a correct sampler fails once in a million.
  const stat = chiSquare(perClass, expected);
  assert(
    stat < 33.4,
    `class chi-square ${stat.toFixed(1)} (seed ${rng.seed}): ${perClass} vs ${
      expected.map(Math.round)
    }`,
  );
  // The test has power: plain uniform sampling (frequency proportional to n_c) is rejected.
  const uniform = counts.map((m) => (draws * m) / n);
  assert(chiSquare(perClass, uniform) > 33.4, `uniform not rejected (seed ${rng.seed})`);
  // Within a class every sprite is equally likely: chi-square over all indices, normal bound.
  const perSample = Array.from(classes, (c) => (draws * (1 - counts[c] / n)) / total);
  const dof = n - 1;
  const indexStat = chiSquare(perIndex, perSample);
  assert(
    indexStat < dof + 5 * Math.sqrt(2 * dof),
    `index chi-square ${indexStat.toFixed(0)}, dof ${dof} (seed ${rng.seed})`,
  );
});

Deno.test("sampler: the same seed and epoch repeat; other epochs and seeds differ", () => {
  const rng = makeRng();
  const classes = courseLikeClasses(rng, 101);
  const a = new BalancedSampler(classes, { batchSize: 16, seed: rng.seed });
  const b = new BalancedSampler(classes, { batchSize: 16, seed: rng.seed });
  const c = new BalancedSampler(classes, { batchSize: 16, seed: rng.seed + 1 });
  assertEquals(Array.from(a.epoch(3)), Array.from(b.epoch(3)), `seed ${rng.seed}`);
  assert(
    Array.from(a.epoch(3)).join() !== Array.from(a.epoch(4)).join(),
    `epochs 3 and 4 equal (seed ${rng.seed})`,
  );
  assert(
    Array.from(a.epoch(0)).join() !== Array.from(c.epoch(0)).join(),
    `seeds equal (seed ${rng.seed})`,
  );
});

Deno.test("sampler: a one-class dataset is drawn uniformly instead of not at all", () => {
  const s = new BalancedSampler(new Uint8Array(10).fill(2), { batchSize: 4, seed: 5 });
  const seen = new Set<number>();
  for (let e = 0; e < 50; e++) for (const i of s.epoch(e)) seen.add(i);
  assertEquals(seen.size, 10);
});

Deno.test("sampler: uniform draws every sprite alike, so classes come at their own frequency", () => {
  const rng = makeRng();
  const n = 500;
  const classes = courseLikeClasses(rng, n);
  const s = new BalancedSampler(classes, { batchSize: 50, seed: rng.seed, uniform: true });
  const perClass = [0, 0, 0, 0, 0];
  let draws = 0;
  for (let e = 0; draws < 30000; e++) {
    for (const i of s.epoch(e)) perClass[classes[i]]++;
    draws += n;
  }
  const expected = [0, 1, 2, 3, 4].map((c) => (draws * classes.filter((x) => x === c).length) / n);
  const stat = chiSquare(perClass, expected);
  assert(stat < 33.4, `class chi-square ${stat.toFixed(1)} (seed ${rng.seed})`);
});
