// k-means in float64: k-means++ seeding (Arthur & Vassilvitskii 2007), Lloyd iterations until no
// point changes cluster, several seeded restarts, the lowest inertia kept. For the sub-classes of
// `deno task subclasses`: a few thousand points of a thousand or so dimensions.
import { splitmix32 } from "../train/balanced_sampler.ts";

export interface KMeansOptions {
  k: number;
  /** Independent seedings; the result with the lowest inertia is kept. Default 8. */
  restarts?: number;
  /** Lloyd iterations per restart at most. Default 300. */
  maxIterations?: number;
  seed?: number;
}

export interface KMeansResult {
  k: number;
  dim: number;
  /** [k, dim]. */
  centroids: Float64Array;
  /** Cluster of each point. */
  assignment: Uint32Array;
  /** Squared distance of each point to its centroid. */
  distances: Float64Array;
  /** Sum of `distances`. */
  inertia: number;
  /** Per restart, in order: its inertia and iterations. */
  restarts: { inertia: number; iterations: number; converged: boolean }[];
  /** Which restart was kept. */
  best: number;
}

function squaredDistance(x: ArrayLike<number>, i: number, c: Float64Array, j: number, dim: number) {
  let s = 0;
  const xi = i * dim, cj = j * dim;
  for (let a = 0; a < dim; a++) {
    const d = x[xi + a] - c[cj + a];
    s += d * d;
  }
  return s;
}

/** k-means++: the first centre uniformly, each next one with probability proportional to D^2. */
function seedCentroids(
  x: ArrayLike<number>,
  count: number,
  dim: number,
  k: number,
  random: () => number,
): Float64Array {
  const c = new Float64Array(k * dim);
  const copy = (i: number, j: number) => {
    for (let a = 0; a < dim; a++) c[j * dim + a] = x[i * dim + a];
  };
  copy(Math.floor(random() * count), 0);
  const d2 = new Float64Array(count).fill(Infinity);
  for (let j = 1; j < k; j++) {
    let total = 0;
    for (let i = 0; i < count; i++) {
      d2[i] = Math.min(d2[i], squaredDistance(x, i, c, j - 1, dim));
      total += d2[i];
    }
    let pick = count - 1;
    if (total > 0) {
      let r = random() * total;
      for (let i = 0; i < count; i++) {
        r -= d2[i];
        if (r < 0) {
          pick = i;
          break;
        }
      }
    } else pick = Math.floor(random() * count); // every point is already a centre
    copy(pick, j);
  }
  return c;
}

function lloyd(
  x: ArrayLike<number>,
  count: number,
  dim: number,
  k: number,
  centroids: Float64Array,
  maxIterations: number,
) {
  const assignment = new Uint32Array(count).fill(k); // k = unassigned, so iteration 1 changes all
  const distances = new Float64Array(count);
  const sums = new Float64Array(k * dim);
  const sizes = new Uint32Array(k);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    let changed = 0;
    for (let i = 0; i < count; i++) {
      let best = Infinity, at = 0;
      for (let j = 0; j < k; j++) {
        const d = squaredDistance(x, i, centroids, j, dim);
        if (d < best) [best, at] = [d, j];
      }
      distances[i] = best;
      if (assignment[i] !== at) [assignment[i], changed] = [at, changed + 1];
    }
    if (changed === 0) {
      converged = true;
      break;
    }
    sums.fill(0);
    sizes.fill(0);
    for (let i = 0; i < count; i++) {
      const j = assignment[i];
      sizes[j]++;
      for (let a = 0; a < dim; a++) sums[j * dim + a] += x[i * dim + a];
    }
    for (let j = 0; j < k; j++) {
      if (sizes[j] === 0) {
        // An empty cluster takes the point farthest from its centre (which then moves on).
        let far = 0;
        for (let i = 1; i < count; i++) if (distances[i] > distances[far]) far = i;
        for (let a = 0; a < dim; a++) centroids[j * dim + a] = x[far * dim + a];
        distances[far] = 0;
        continue;
      }
      for (let a = 0; a < dim; a++) centroids[j * dim + a] = sums[j * dim + a] / sizes[j];
    }
  }
  // Distances to the final centres (after a last update when the iterations ran out).
  let inertia = 0;
  for (let i = 0; i < count; i++) {
    inertia += distances[i] = squaredDistance(x, i, centroids, assignment[i], dim);
  }
  return { assignment, distances, inertia, iterations, converged };
}

/** Clusters `count` points of `dim` values ([count, dim], row-major) into k clusters. */
export function kmeans(
  x: ArrayLike<number>,
  count: number,
  dim: number,
  o: KMeansOptions,
): KMeansResult {
  const { k, restarts = 8, maxIterations = 300, seed = 0 } = o;
  if (!(Number.isInteger(k) && k >= 1 && k <= count)) {
    throw new Error(`kmeans: k = ${k} for ${count} points`);
  }
  if (x.length < count * dim) throw new Error(`kmeans: ${x.length} values for ${count}x${dim}`);
  let best: KMeansResult | undefined;
  const history: KMeansResult["restarts"] = [];
  for (let r = 0; r < Math.max(1, restarts); r++) {
    const random = splitmix32((seed * 0x9e3779b1 + r * 0x85ebca6b) >>> 0);
    const centroids = seedCentroids(x, count, dim, k, random);
    const run = lloyd(x, count, dim, k, centroids, maxIterations);
    history.push({ inertia: run.inertia, iterations: run.iterations, converged: run.converged });
    if (!best || run.inertia < best.inertia) {
      best = { k, dim, centroids, ...run, restarts: history, best: r };
    }
  }
  return { ...best!, restarts: history };
}
