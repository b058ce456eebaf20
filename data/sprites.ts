// The sprite dataset as the trainer sees it: uint8 HWC RGB images and one class vector per image,
// loaded from the DeepLearning.AI file pair (sprites_*.npy, sprite_labels_nc_*.npy) or any pair in
// the same format, with every way a file can be wrong reported as one InputError.
import { InputError } from "../errors.ts";
import { DEFAULT_CLASS_NAMES } from "../gpu/model/sprite_model.ts";
import type { SpriteDataset } from "../gpu/train/dataset.ts";
import { namesBeside, namesFileFor, readClassNames } from "./class_names.ts";
import { type NpyArray, readNpy } from "./npy.ts";

// The dataset type and its class helpers belong to the engine (the trainer takes them); they are
// re-exported here for the data modules and front ends that load datasets.
export { DEFAULT_CLASS_NAMES };
export { classIndices, classOf, selectSprites, type SpriteDataset } from "../gpu/train/dataset.ts";

/** Checks a sprite array: uint8 [N, H, W, 3] (any H, W; the course set is 16x16). */
export function spritesFromNpy(
  arr: NpyArray,
  what = "sprites",
): { images: Uint8Array; count: number; height: number; width: number } {
  if (arr.dtype !== "u1") {
    throw new InputError(
      `${what}: sprites must be uint8 (|u1), got ${arr.dtype} (shape [${arr.shape}])`,
    );
  }
  const [count, height, width, channels] = arr.shape;
  if (arr.shape.length !== 4 || channels !== 3) {
    const hint = arr.shape.length === 4 && arr.shape[1] === 3 ? " (this looks like NCHW)" : "";
    throw new InputError(
      `${what}: sprites must have shape [N, H, W, 3] (HWC RGB, any H and W, 3 channels; ` +
        `the course set is [89400, 16, 16, 3]), got [${arr.shape}]${hint}`,
    );
  }
  if (count === 0 || height === 0 || width === 0) {
    throw new InputError(`${what}: no sprites (shape [${arr.shape}])`);
  }
  return { images: arr.data as Uint8Array, count, height, width };
}

/**
 * Checks a label array and turns it into class vectors [N, K]: float one-hot or soft rows
 * [N, K] (f8, f4 or integer), or integer class indices [N].
 */
export function labelsFromNpy(
  arr: NpyArray,
  count: number,
  numClasses: number,
  what = "labels",
): Float32Array {
  const rows = arr.shape[0];
  if (arr.shape.length === 0 || arr.shape.length > 2) {
    throw new InputError(
      `${what}: labels must be class vectors [N, ${numClasses}] or class indices [N], ` +
        `got shape [${arr.shape}]`,
    );
  }
  if (rows !== count) {
    throw new InputError(`${what}: ${rows} labels for ${count} sprites (the counts must match)`);
  }
  const isInt = /^[iu][1248]$/.test(arr.dtype);
  const values = arr.data instanceof BigInt64Array || arr.data instanceof BigUint64Array
    ? Float64Array.from(arr.data, (v) => Number(v))
    : arr.data;
  const out = new Float32Array(count * numClasses);

  if (arr.shape.length === 1) {
    if (!isInt) {
      throw new InputError(
        `${what}: 1-D labels must be integer class indices, got ${arr.dtype}; ` +
          `float labels must be class vectors [N, ${numClasses}]`,
      );
    }
    for (let i = 0; i < count; i++) {
      const c = values[i];
      if (!(c >= 0 && c < numClasses)) {
        throw new InputError(`${what}: label ${i} is class ${c}, outside [0, ${numClasses})`);
      }
      out[i * numClasses + c] = 1;
    }
    return out;
  }

  if (arr.shape[1] !== numClasses) {
    throw new InputError(
      `${what}: labels must have ${numClasses} columns (${numClasses} classes), got [${arr.shape}]`,
    );
  }
  if (!isInt && arr.dtype !== "f4" && arr.dtype !== "f8") {
    throw new InputError(`${what}: labels must be float64, float32 or integer, got ${arr.dtype}`);
  }
  for (let i = 0; i < count; i++) {
    let positive = false;
    for (let k = 0; k < numClasses; k++) {
      const v = values[i * numClasses + k];
      if (!Number.isFinite(v)) {
        throw new InputError(`${what}: label ${i} has a non-finite value ${v} (class ${k})`);
      }
      if (v < 0) throw new InputError(`${what}: label ${i} has a negative value ${v} (class ${k})`);
      positive ||= v > 0;
      out[i * numClasses + k] = v;
    }
    if (!positive) throw new InputError(`${what}: label ${i} is all zeros (no class)`);
  }
  return out;
}

/**
 * The sprites and labels of a file pair. The class names are `classNames` if given, else those of
 * the names file `namesPath`, else of the names file beside the labels (data/class_names.ts), else
 * the course set's five; labels of another width need names.
 */
export async function loadSpriteDataset(
  spritesPath: string,
  labelsPath: string,
  classNames?: string[],
  namesPath?: string,
): Promise<SpriteDataset> {
  const sprites = spritesFromNpy(await readNpy(spritesPath), spritesPath);
  const labelArray = await readNpy(labelsPath);
  const names = classNames ??
    (namesPath ? await readClassNames(namesPath) : await namesBeside(labelsPath));
  const width = labelArray.shape.length === 2 ? labelArray.shape[1] : DEFAULT_CLASS_NAMES.length;
  if (!names && width !== DEFAULT_CLASS_NAMES.length) {
    throw new InputError(
      `${labelsPath}: the labels have ${width} columns, so their ${width} classes need names: ` +
        `write them one per line in ${namesFileFor(labelsPath)} (or pass --names FILE)`,
    );
  }
  const resolved = names ?? DEFAULT_CLASS_NAMES;
  const labels = labelsFromNpy(labelArray, sprites.count, resolved.length, labelsPath);
  return { ...sprites, labels, classNames: [...resolved] };
}
