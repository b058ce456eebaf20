// Pixel-space measures on uint8 sprites ([count, H, W, 3], flat): nearest neighbours (memorization),
// near-copy thresholds calibrated on held-out real sprites, and mean pairwise distance (diversity).
// A distance is the RMS difference per channel value on the [0, 1] scale: 0 for identical sprites,
// 1 between black and white. Sums of squared byte differences are exact integers in float64, so an
// exact copy is at distance exactly 0.
import { shuffled } from "./split.ts";

/** RMS distance between sprite i of `a` and sprite j of `b`, each `px` bytes. */
export function pixelDistance(a: Uint8Array, i: number, b: Uint8Array, j: number, px: number) {
  let s = 0;
  const ai = i * px, bj = j * px;
  for (let k = 0; k < px; k++) {
    const d = a[ai + k] - b[bj + k];
    s += d * d;
  }
  return Math.sqrt(s / px) / 255;
}

export interface Neighbours {
  /** Per query: the index (into the reference list) of its nearest reference sprite. */
  index: Uint32Array;
  distance: Float64Array;
}

/**
 * For each of `queryCount` sprites of `queries`, the nearest of the reference sprites `reference`
 * (all of them, or those at `referenceIndices`), skipping reference sprite `exclude(q)` if given (a
 * held-out sprite against the rest of its own set). Ties go to the lower index.
 */
export function nearestNeighbours(
  queries: Uint8Array,
  queryCount: number,
  reference: Uint8Array,
  px: number,
  o: { referenceIndices?: ArrayLike<number>; exclude?: (q: number) => number } = {},
): Neighbours {
  const refs = o.referenceIndices ??
    Uint32Array.from({ length: reference.length / px }, (_, i) => i);
  const index = new Uint32Array(queryCount);
  const distance = new Float64Array(queryCount);
  for (let q = 0; q < queryCount; q++) {
    const skip = o.exclude ? o.exclude(q) : -1;
    let best = Infinity;
    let bestAt = -1;
    const qi = q * px;
    for (let r = 0; r < refs.length; r++) {
      const j = refs[r];
      if (j === skip) continue;
      // Stops a candidate as soon as it is no closer than the best so far.
      let s = 0;
      const rj = j * px;
      for (let k = 0; k < px && s < best; k++) {
        const d = queries[qi + k] - reference[rj + k];
        s += d * d;
      }
      if (s < best) [best, bestAt] = [s, j];
    }
    if (bestAt < 0) throw new Error("nearestNeighbours: no reference sprite to compare with");
    index[q] = bestAt;
    distance[q] = Math.sqrt(best / px) / 255;
  }
  return { index, distance };
}

/** The q-quantile of `values` (linear interpolation between order statistics, numpy's default). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (at - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * The near-copy threshold of a class: the `q`-quantile of its held-out real sprites' distances to
 * their nearest training sprite (a sprite closer than that is closer than all but a share q of new
 * real sprites get), but never below `floor` (differences that small are invisible, and a data set
 * with exact duplicates puts the quantile at 0).
 */
export function nearCopyThreshold(heldOutDistances: ArrayLike<number>, q: number, floor: number) {
  return Math.max(quantile(heldOutDistances, q), floor);
}

/** The share of `distances` at or below `threshold` (0 for none). */
export function shareAtOrBelow(distances: ArrayLike<number>, threshold: number): number {
  if (!distances.length) return 0;
  let n = 0;
  for (let i = 0; i < distances.length; i++) if (distances[i] <= threshold) n++;
  return n / distances.length;
}

/**
 * The mean distance over all pairs of the sprites at `indices` (at most `cap` of them, a seeded
 * sample, since the mean over a random subset estimates the same number); NaN for fewer than two.
 */
export function meanPairwiseDistance(
  images: Uint8Array,
  px: number,
  indices: ArrayLike<number>,
  cap = Infinity,
  seed = 0,
): number {
  const chosen = indices.length > cap ? shuffled(indices, seed).subarray(0, cap) : indices;
  const n = chosen.length;
  if (n < 2) return NaN;
  let sum = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) sum += pixelDistance(images, chosen[a], images, chosen[b], px);
  }
  return sum / (n * (n - 1) / 2);
}
