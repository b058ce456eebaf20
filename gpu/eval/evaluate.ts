// Measured quality of a class-conditional sprite generator, judged by the sprite classifier
// (judge.ts) against the real sprites it was trained on:
//   consistency   the share of N sprites per class (fixed seeds) that the judge reads as the class
//                 asked for, at each guidance; for 50/50 mixtures of two classes, the share read
//                 as one of the two
//   FID           Fréchet distance of the judge's features, generated vs half A of the real
//                 sprites, per class and overall (classes weighted equally), beside the floor:
//                 as many real sprites of half B as were generated, against half A
//   memorization  each generated sprite's nearest training sprite (pixels); the share of near-
//                 copies, the threshold per class calibrated on the held-out real sprites against
//                 the rest of the training set (whose own share is printed beside it)
//   diversity     mean pairwise pixel distance within each class, generated vs real
//   backgrounds   the share of sprites that pass the data set's cleaning rule
// FID, memorization, diversity and backgrounds are measured at the main guidance.
import type { SpriteDataset } from "../train/dataset.ts";
import { classIndices } from "../train/dataset.ts";
import type { SampleRequest } from "../sample/sampler.ts";
import { RECOMMENDED_GUIDANCE } from "../sample/request.ts";
import { featureFid } from "./fid.ts";
import { type JudgeAccuracy, JudgeRunner } from "./judge.ts";
import {
  meanPairwiseDistance,
  nearCopyThreshold,
  nearestNeighbours,
  shareAtOrBelow,
} from "./pixels.ts";
import { halves, indicesByClass } from "./split.ts";
import type { Judge } from "./judge.ts";
import type { Gpu } from "../runtime/device.ts";

/** What is measured: anything that turns class vectors into uint8 HWC sprites. */
export interface SpriteGenerator {
  /** `count` sprites for `labels` [count, classes]; sprite i's noise is (seed, i). */
  generate(
    labels: Float32Array,
    count: number,
    guidance: number,
    seed: number,
  ): Promise<Uint8Array>;
}

/** A SpriteSampler (or anything with its generate) as a generator: DDIM, eta 0, `steps` steps. */
export function samplerGenerator(
  sampler: { generate(req: SampleRequest): Promise<Uint8Array> },
  steps: number,
): SpriteGenerator {
  return {
    generate: (labels, count, guidance, seed) =>
      sampler.generate({ labels, count, steps, eta: 0, seed, guidance, scheduler: "ddim" }),
  };
}

export interface EvalSettings {
  /** Sprites generated per class (N), and per mixed pair. */
  perClass: number;
  perPair: number;
  /** Consistency is measured at each of these guidance scales. */
  guidances: number[];
  /** FID, memorization, diversity and backgrounds are measured at this one. */
  mainGuidance: number;
  /** DDIM steps (recorded; the generator takes them). */
  steps: number;
  seed: number;
  /** Near-copy threshold: this quantile of the held-out real distances, at least `copyFloor`. */
  copyQuantile: number;
  copyFloor: number;
  /** Real sprites per class in the diversity's mean (a seeded sample above this). */
  diversityCap: number;
  /** Seeds the real halves of the FID and the diversity sample. */
  realSeed: number;
}

export const DEFAULT_EVAL_SETTINGS: EvalSettings = {
  perClass: 64,
  perPair: 16,
  guidances: [1, 2],
  mainGuidance: RECOMMENDED_GUIDANCE, // the page's, so the figures are of the sprites people see
  steps: 10,
  seed: 1,
  copyQuantile: 0.05,
  copyFloor: 0.02,
  diversityCap: 512,
  realSeed: 7,
};

export interface EvalInputs {
  generator: SpriteGenerator;
  judge: Judge;
  /** The real sprites the model trained on (cleaned); the judge's split indexes them. */
  dataset: SpriteDataset;
  heldOut: Uint32Array;
  settings: EvalSettings;
  /** The data set's cleaning rule: true for a sprite whose background passes. */
  passesCleaning?: (images: Uint8Array, i: number) => boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
  /**
   * Awaited after each stage's progress report: a service's worker handles its messages there
   * (the stages between are long stretches of CPU work).
   */
  between?: () => Promise<void>;
}

export interface ClassConsistency {
  guidance: number;
  /** Per class: the share read as that class, and how the judge read them (counts per class). */
  perClass: { share: number; readAs: number[] }[];
  mean: number;
}

export interface MixtureConsistency {
  guidance: number;
  pairs: { a: number; b: number; either: number; shareA: number; shareB: number }[];
  mean: number;
}

export interface NearestPair {
  /** Index into the main guidance's generated sprites (class-major: class c, sprite i). */
  sample: number;
  requested: number;
  /** Index into the data set. */
  training: number;
  distance: number;
}

export interface EvalReport {
  settings: EvalSettings;
  classNames: string[];
  judge: { heldOut: JudgeAccuracy; fingerprint: string };
  consistency: ClassConsistency[];
  mixtures: MixtureConsistency[];
  fid: {
    perClass: { generated: number; floor: number; real: number }[];
    overall: { generated: number; floor: number };
  };
  memorization: {
    perClass: { threshold: number; generated: number; heldOutReal: number; median: number }[];
    overall: { generated: number; heldOutReal: number };
  };
  diversity: { perClass: { generated: number; real: number; ratio: number }[] };
  backgrounds?: {
    /** Shares passing the cleaning rule, and the mean corner gap of the generated sprites. */
    perClass: { generated: number; real: number; cornerGap: number }[];
    overall: number;
    cornerGap: number;
  };
  seconds: number;
}

export interface EvalResult {
  report: EvalReport;
  /** The main guidance's sprites, class-major ([K * N, H, W, 3]), for montages. */
  samples: Uint8Array;
  /** Every generated sprite with its nearest training sprite, closest first. */
  nearest: NearestPair[];
}

function oneHotRows(classes: number, count: number, weights: [number, number][]): Float32Array {
  const out = new Float32Array(classes * count);
  for (let i = 0; i < count; i++) for (const [c, w] of weights) out[i * classes + c] = w;
  return out;
}

export async function evaluate(gpu: Gpu, inputs: EvalInputs): Promise<EvalResult> {
  const started = performance.now();
  const { generator, judge, dataset: ds, settings: s } = inputs;
  const K = ds.classNames.length;
  const N = s.perClass;
  const px = ds.height * ds.width * 3;
  if (judge.options.classes !== K) {
    throw new Error(`evaluate: a ${judge.options.classes}-class judge for ${K} classes`);
  }
  const progress = async (stage: string, done: number, total: number) => {
    inputs.onProgress?.(stage, done, total);
    await inputs.between?.();
  };
  const guidances = [...new Set([...s.guidances, s.mainGuidance])];
  const pairs: [number, number][] = [];
  for (let a = 0; a < K; a++) for (let b = a + 1; b < K; b++) pairs.push([a, b]);
  const jobs = guidances.length * K + (s.perPair > 0 ? s.guidances.length * pairs.length : 0);
  let done = 0;
  const runner = await JudgeRunner.create(gpu, judge);

  // Generation: N per class at every guidance, then the mixtures.
  const perGuidance = new Map<number, Uint8Array>();
  for (const g of guidances) {
    const all = new Uint8Array(K * N * px);
    for (let c = 0; c < K; c++) {
      await progress(`generating class ${ds.classNames[c]} at guidance ${g}`, done++, jobs);
      all.set(await generator.generate(oneHotRows(K, N, [[c, 1]]), N, g, s.seed), c * N * px);
    }
    perGuidance.set(g, all);
  }
  const consistency: ClassConsistency[] = [];
  for (const g of s.guidances) {
    const { predicted } = await runner.run(perGuidance.get(g)!);
    const perClass = ds.classNames.map((_, c) => {
      const readAs = new Array(K).fill(0);
      for (let i = 0; i < N; i++) readAs[predicted[c * N + i]]++;
      return { share: readAs[c] / N, readAs };
    });
    consistency.push({ guidance: g, perClass, mean: mean(perClass.map((p) => p.share)) });
  }
  const mixtures: MixtureConsistency[] = [];
  if (s.perPair > 0) {
    for (const g of s.guidances) {
      const rows = [];
      for (const [a, b] of pairs) {
        await progress(
          `generating ${ds.classNames[a]} + ${ds.classNames[b]} at guidance ${g}`,
          done++,
          jobs,
        );
        const labels = oneHotRows(K, s.perPair, [[a, 0.5], [b, 0.5]]);
        const { predicted } = await runner.run(
          await generator.generate(labels, s.perPair, g, s.seed),
        );
        const count = (c: number) => predicted.filter((p) => p === c).length / s.perPair;
        rows.push({ a, b, either: count(a) + count(b), shareA: count(a), shareB: count(b) });
      }
      mixtures.push({ guidance: g, pairs: rows, mean: mean(rows.map((r) => r.either)) });
    }
  }

  // FID on the judge's features.
  await progress("features and FID", done, jobs);
  const samples = perGuidance.get(s.mainGuidance)!;
  const F = runner.featureWidth;
  const gen = await runner.run(samples);
  const real = await runner.run(ds.images.subarray(0, ds.count * px));
  const classes = classIndices(ds);
  const members = indicesByClass(classes, K);
  const rows = (features: Float32Array, ids: ArrayLike<number>) => {
    const out = new Float32Array(ids.length * F);
    for (let i = 0; i < ids.length; i++) {
      out.set(features.subarray(ids[i] * F, (ids[i] + 1) * F), i * F);
    }
    return out;
  };
  const split = members.map((m, c) => halves(m, (s.realSeed + 31 * c) >>> 0));
  const fidPerClass = ds.classNames.map((_, c) => {
    const [A, B] = split[c];
    const genIds = Uint32Array.from({ length: N }, (_, i) => c * N + i);
    const floorIds = B.subarray(0, Math.min(N, B.length));
    const realA = { features: rows(real.features, A), count: A.length };
    const fid = (set: { features: Float32Array; count: number }) =>
      set.count >= 2 && realA.count >= 2 ? featureFid(set, realA, F) : NaN;
    return {
      generated: fid({ features: rows(gen.features, genIds), count: N }),
      floor: fid({ features: rows(real.features, floorIds), count: floorIds.length }),
      real: A.length,
    };
  });
  // Overall: every class weighs the same on both sides, as the generated set is class-balanced.
  const allA = split.flatMap(([A]) => Array.from(A));
  const floorAll = split.flatMap(([, B]) => Array.from(B.subarray(0, Math.min(N, B.length))));
  const balanced = (ids: number[]) => {
    const counts = new Array(K).fill(0);
    for (const i of ids) counts[classes[i]]++;
    return ids.map((i) => 1 / counts[classes[i]]);
  };
  const realAll = {
    features: rows(real.features, allA),
    count: allA.length,
    weights: balanced(allA),
  };
  const fidOverall = {
    generated: featureFid({ features: gen.features, count: K * N }, realAll, F),
    floor: featureFid(
      {
        features: rows(real.features, floorAll),
        count: floorAll.length,
        weights: balanced(floorAll),
      },
      realAll,
      F,
    ),
  };

  // Memorization: nearest training sprite of every generated one, and of every held-out one
  // against the rest of the set (a real sprite the set does not hold).
  await progress("nearest training sprites", done, jobs);
  const genNN = nearestNeighbours(samples, K * N, ds.images, px);
  const held = inputs.heldOut;
  const heldImages = new Uint8Array(held.length * px);
  held.forEach((i, n) => heldImages.set(ds.images.subarray(i * px, (i + 1) * px), n * px));
  const heldNN = nearestNeighbours(heldImages, held.length, ds.images, px, {
    exclude: (q) => held[q],
  });
  const memoPerClass = ds.classNames.map((_, c) => {
    const realD = held.reduce(
      (acc: number[], i, n) => (classes[i] === c && acc.push(heldNN.distance[n]), acc),
      [],
    );
    const genD = genNN.distance.subarray(c * N, (c + 1) * N);
    const threshold = realD.length
      ? nearCopyThreshold(realD, s.copyQuantile, s.copyFloor)
      : s.copyFloor;
    return {
      threshold,
      generated: shareAtOrBelow(genD, threshold),
      heldOutReal: shareAtOrBelow(realD, threshold),
      median: median(genD),
    };
  });
  let heldCopies = 0;
  held.forEach((i, n) => {
    if (heldNN.distance[n] <= memoPerClass[classes[i]].threshold) heldCopies++;
  });
  const nearest: NearestPair[] = Array.from(genNN.index, (training, sample) => ({
    sample,
    requested: Math.floor(sample / N),
    training,
    distance: genNN.distance[sample],
  })).sort((a, b) => a.distance - b.distance || a.sample - b.sample);

  // Diversity.
  await progress("diversity", done, jobs);
  const diversity = ds.classNames.map((_, c) => {
    const genIds = Uint32Array.from({ length: N }, (_, i) => c * N + i);
    const generated = meanPairwiseDistance(samples, px, genIds);
    const realD = meanPairwiseDistance(ds.images, px, members[c], s.diversityCap, s.realSeed + c);
    return { generated, real: realD, ratio: generated / realD };
  });

  let backgrounds: EvalReport["backgrounds"];
  if (inputs.passesCleaning) {
    const pass = inputs.passesCleaning;
    const perClass = ds.classNames.map((_, c) => {
      let g = 0, gap = 0;
      for (let i = 0; i < N; i++) {
        if (pass(samples, c * N + i)) g++;
        gap += cornerGap(samples, c * N + i, ds.height, ds.width);
      }
      let r = 0;
      for (const i of members[c]) if (pass(ds.images, i)) r++;
      return {
        generated: g / N,
        real: members[c].length ? r / members[c].length : NaN,
        cornerGap: gap / N,
      };
    });
    backgrounds = {
      perClass,
      overall: mean(perClass.map((p) => p.generated)),
      cornerGap: mean(perClass.map((p) => p.cornerGap)),
    };
  }
  await progress("done", jobs, jobs);

  const report: EvalReport = {
    settings: s,
    classNames: [...ds.classNames],
    judge: { heldOut: judge.heldOut, fingerprint: judge.data.fingerprint },
    consistency,
    mixtures,
    fid: { perClass: fidPerClass, overall: fidOverall },
    memorization: {
      perClass: memoPerClass,
      overall: {
        generated: mean(memoPerClass.map((m) => m.generated)),
        heldOutReal: held.length ? heldCopies / held.length : NaN,
      },
    },
    diversity: { perClass: diversity },
    backgrounds,
    seconds: (performance.now() - started) / 1000,
  };
  return { report, samples, nearest };
}

/**
 * How far a sprite's corners are from pure white: the largest 255 - channel over the four corner
 * pixels, on [0, 1] (0: the corners pass the cleaning rule's corner test). A measure that moves
 * while the pass share is still 0.
 */
export function cornerGap(images: Uint8Array, i: number, height: number, width: number): number {
  const base = i * height * width * 3;
  let gap = 0;
  for (const p of [0, width - 1, (height - 1) * width, height * width - 1]) {
    for (let c = 0; c < 3; c++) gap = Math.max(gap, 255 - images[base + p * 3 + c]);
  }
  return gap / 255;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  if (!sorted.length) return NaN;
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}
