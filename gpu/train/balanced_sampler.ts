// Class-balanced sampling as in the reference (torch's WeightedRandomSampler with replacement):
// sample i has weight 1 - share(class of i), so a rare class is drawn more often per sprite than a
// common one; an epoch is the dataset size rounded up to whole batches. Seeded, so a run repeats.

/** splitmix32: a small seedable PRNG; `next()` is uniform in [0, 1) with 32 random bits. */
export function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/** Weight of each sample: 1 - n_c / N for its class c. [N] */
export function classBalancedWeights(classes: ArrayLike<number>, numClasses: number): Float64Array {
  const n = classes.length;
  const counts = new Float64Array(numClasses);
  for (let i = 0; i < n; i++) counts[classes[i]]++;
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) weights[i] = 1 - counts[classes[i]] / n;
  return weights;
}

export function samplesPerEpoch(datasetSize: number, batchSize: number): number {
  return Math.ceil(datasetSize / batchSize) * batchSize;
}

export interface BalancedSamplerOptions {
  batchSize: number;
  seed: number;
  numClasses?: number;
  /** Every sprite weighs the same (no class balancing: the tutorial's first recipe). */
  uniform?: boolean;
}

export class BalancedSampler {
  readonly samplesPerEpoch: number;
  readonly seed: number;
  /** Running sum of the weights: sample i covers [cumulative[i-1], cumulative[i]). [N] */
  private readonly cumulative: Float64Array;

  constructor(classes: ArrayLike<number>, opts: BalancedSamplerOptions) {
    if (classes.length === 0) throw new Error("BalancedSampler: empty dataset");
    if (!(opts.batchSize >= 1)) throw new Error(`BalancedSampler: batch size ${opts.batchSize}`);
    let numClasses = opts.numClasses ?? 0;
    for (let i = 0; i < classes.length; i++) numClasses = Math.max(numClasses, classes[i] + 1);
    const weights = classBalancedWeights(classes, numClasses);
    // A one-class dataset has all weights 0 (torch would refuse it); draw it uniformly instead.
    if (opts.uniform || weights.every((w) => w === 0)) weights.fill(1);
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) this.cumulative[i] = sum += weights[i];
    this.samplesPerEpoch = samplesPerEpoch(classes.length, opts.batchSize);
    this.seed = opts.seed >>> 0;
  }

  /** The indices of one epoch, drawn with replacement; the same (seed, epoch) gives the same. */
  epoch(epoch: number): Uint32Array {
    // Mix the epoch into the seed so epochs are independent streams, not shifted copies.
    const rand = splitmix32(splitmix32(this.seed ^ Math.imul(epoch + 1, 0x27d4eb2f))() * 2 ** 32);
    const total = this.cumulative[this.cumulative.length - 1];
    const out = new Uint32Array(this.samplesPerEpoch);
    for (let k = 0; k < out.length; k++) {
      // 53 bits of uniform, so large datasets resolve every weight.
      const u = (rand() + rand() / 4294967296) * total;
      let lo = 0;
      let hi = this.cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.cumulative[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      out[k] = lo;
    }
    return out;
  }
}
