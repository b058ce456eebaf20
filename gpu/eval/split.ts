// Seeded, per-class splits of a dataset's sprites: the classifier's held-out split and the two
// halves of the real data that the FID's floor compares. Everything is a function of the seed.
import { splitmix32 } from "../train/balanced_sampler.ts";

/** Fisher-Yates with splitmix32: the same seed gives the same order. */
export function shuffled(values: ArrayLike<number>, seed: number): Uint32Array {
  const out = Uint32Array.from(values as ArrayLike<number>);
  const random = splitmix32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The indices of each class, ascending: [classes][...]. */
export function indicesByClass(classes: ArrayLike<number>, numClasses: number): Uint32Array[] {
  const lists: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < classes.length; i++) lists[classes[i]].push(i);
  return lists.map((l) => Uint32Array.from(l));
}

export interface Split {
  /** Ascending indices. */
  train: Uint32Array;
  heldOut: Uint32Array;
}

/**
 * A `share` of every class held out (rounded, at least one sprite of any class with two or more),
 * chosen by the seed; the rest is the training split.
 */
export function stratifiedSplit(
  classes: ArrayLike<number>,
  numClasses: number,
  share: number,
  seed: number,
): Split {
  if (!(share > 0 && share < 1)) throw new Error(`stratifiedSplit: share ${share} not in (0, 1)`);
  const train: number[] = [];
  const heldOut: number[] = [];
  indicesByClass(classes, numClasses).forEach((members, c) => {
    const order = shuffled(members, (seed + 0x9e37 * (c + 1)) >>> 0);
    const n = members.length < 2 ? 0 : Math.max(1, Math.round(share * members.length));
    heldOut.push(...order.subarray(0, n));
    train.push(...order.subarray(n));
  });
  const sort = (a: number[]) => Uint32Array.from(a).sort();
  return { train: sort(train), heldOut: sort(heldOut) };
}

/** Two halves of `members` (seeded; the first gets the odd one). */
export function halves(members: ArrayLike<number>, seed: number): [Uint32Array, Uint32Array] {
  const order = shuffled(members, seed);
  const mid = Math.ceil(order.length / 2);
  return [order.slice(0, mid), order.slice(mid)];
}
