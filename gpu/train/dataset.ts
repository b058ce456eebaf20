// A sprite dataset as the trainer takes it: uint8 HWC RGB images and one class vector per image,
// already in memory (data/sprites.ts reads them from files), and the class of each sprite.
export interface SpriteDataset {
  /** [count, height, width, 3] uint8, RGB, row-major. */
  images: Uint8Array;
  /** [count, classNames.length] class vectors (one-hot, or soft rows as the file gives them). */
  labels: Float32Array;
  count: number;
  height: number;
  width: number;
  classNames: string[];
}

/** The class of sprite i: the argmax of its vector (first on ties), so soft rows have one class. */
export function classOf(ds: SpriteDataset, i: number): number {
  const k = ds.classNames.length;
  let best = 0;
  for (let c = 1; c < k; c++) if (ds.labels[i * k + c] > ds.labels[i * k + best]) best = c;
  return best;
}

/** The class index of every sprite: [count]. */
export function classIndices(ds: SpriteDataset): Uint8Array {
  const out = new Uint8Array(ds.count);
  for (let i = 0; i < ds.count; i++) out[i] = classOf(ds, i);
  return out;
}

/** A new dataset of the sprites at `indices`, in that order. */
export function selectSprites(ds: SpriteDataset, indices: ArrayLike<number>): SpriteDataset {
  const px = ds.height * ds.width * 3;
  const k = ds.classNames.length;
  const images = new Uint8Array(indices.length * px);
  const labels = new Float32Array(indices.length * k);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    images.set(ds.images.subarray(i * px, (i + 1) * px), j * px);
    labels.set(ds.labels.subarray(i * k, (i + 1) * k), j * k);
  }
  return { ...ds, images, labels, count: indices.length };
}
