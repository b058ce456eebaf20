// k-means on separable blobs against a float64 reference: the blobs' own means, memberships and
// inertia, found whatever the seed; restarts keep the best; degenerate cases.
import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { kmeans } from "../../gpu/eval/kmeans.ts";
import { makeRng } from "../util.ts";

/**
 * k blobs of `per` points in `dim` dimensions, centres 20 or more apart, each point's offset from
 * its centre of norm about sqrt(2) whatever the dimension (f32 values): separable by any measure.
 */
function blobs(rng: ReturnType<typeof makeRng>, k: number, per: number, dim: number) {
  const centres = Array.from(
    { length: k },
    (_, j) =>
      Array.from({ length: dim }, (_, a) => (a === j % dim ? 20 * (1 + Math.floor(j / dim)) : 0)),
  );
  const spread = Math.sqrt(2 / dim);
  const x = new Float32Array(k * per * dim);
  const truth = new Uint32Array(k * per);
  // Interleaved, so no cluster is a contiguous range of points.
  for (let i = 0; i < k * per; i++) {
    const j = i % k;
    truth[i] = j;
    for (let a = 0; a < dim; a++) {
      x[i * dim + a] = Math.fround(centres[j][a] + spread * rng.normal());
    }
  }
  return { x, truth };
}

/** The float64 reference: each blob's mean and the sum of squared distances to it. */
function reference(x: Float32Array, truth: Uint32Array, k: number, dim: number) {
  const means = new Float64Array(k * dim), sizes = new Float64Array(k);
  truth.forEach((j, i) => {
    sizes[j]++;
    for (let a = 0; a < dim; a++) means[j * dim + a] += x[i * dim + a];
  });
  for (let j = 0; j < k; j++) for (let a = 0; a < dim; a++) means[j * dim + a] /= sizes[j];
  let inertia = 0;
  truth.forEach((j, i) => {
    for (let a = 0; a < dim; a++) inertia += (x[i * dim + a] - means[j * dim + a]) ** 2;
  });
  return { means, inertia };
}

Deno.test("k-means: separable blobs come out as the blobs, centroids the float64 means", () => {
  const rng = makeRng();
  for (const [k, per, dim] of [[3, 40, 2], [6, 25, 16], [8, 30, 1536]]) {
    const { x, truth } = blobs(rng, k, per, dim);
    const ref = reference(x, truth, k, dim);
    for (const seed of [0, 1, 2]) {
      const r = kmeans(x, k * per, dim, { k, restarts: 4, seed });
      // The same partition up to relabelling: cluster -> blob is one-to-one.
      const map = new Map<number, number>();
      r.assignment.forEach((c, i) => {
        if (!map.has(c)) map.set(c, truth[i]);
        ok(map.get(c) === truth[i], `k=${k} dim=${dim} seed ${seed}: point ${i} (rng ${rng.seed})`);
      });
      ok(new Set(map.values()).size === k, "every blob is a cluster");
      for (const [c, j] of map) {
        for (let a = 0; a < dim; a++) {
          const got = r.centroids[c * dim + a], want = ref.means[j * dim + a];
          ok(Math.abs(got - want) < 1e-9, `centroid ${c}[${a}]: ${got} vs ${want}`);
        }
      }
      ok(Math.abs(r.inertia - ref.inertia) < 1e-9 * ref.inertia, `inertia ${r.inertia}`);
      ok(r.restarts.every((s) => s.converged && s.inertia >= r.inertia - 1e-9));
    }
  }
});

Deno.test("k-means: seeded (same seed, same result); k = 1 is the mean; k = n puts a point each", () => {
  const rng = makeRng();
  const { x } = blobs(rng, 4, 10, 3);
  const a = kmeans(x, 40, 3, { k: 4, seed: 9 }), b = kmeans(x, 40, 3, { k: 4, seed: 9 });
  assertEquals(Array.from(a.assignment), Array.from(b.assignment));
  assertEquals(Array.from(a.centroids), Array.from(b.centroids));
  const one = kmeans(x, 40, 3, { k: 1 });
  for (let d = 0; d < 3; d++) {
    let mean = 0;
    for (let i = 0; i < 40; i++) mean += x[i * 3 + d] / 40;
    ok(Math.abs(one.centroids[d] - mean) < 1e-12);
  }
  const all = kmeans(x.subarray(0, 15), 5, 3, { k: 5, restarts: 2 });
  ok(all.inertia === 0 && new Set(all.assignment).size === 5);
  // Duplicate points: more clusters than distinct points still gives k labels' worth of centres.
  const dup = kmeans(new Float64Array(12).fill(1), 4, 3, { k: 2 });
  ok(dup.inertia === 0);
  throws(() => kmeans(x, 40, 3, { k: 41 }), /k = 41/);
});
