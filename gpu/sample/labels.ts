// Class vectors from what a person types: a class name or index, or explicit weights. Read through
// the sampling-request parser (request.ts), so the CLI and HTTP accept and refuse the same things.
import { RequestError } from "../runtime/errors.ts";

/** "human", "Human" or "0" -> the class index; anything else is a RequestError listing the names. */
export function classIndex(classNames: readonly string[], spec: string | number): number {
  const text = String(spec).trim();
  const byName = classNames.findIndex((n) => n.toLowerCase() === text.toLowerCase());
  if (byName >= 0) return byName;
  const n = Number(text);
  if (text !== "" && Number.isInteger(n) && n >= 0 && n < classNames.length) return n;
  throw new RequestError(
    `unknown class "${text}": use one of ${
      classNames.map((c, i) => `${i} ${c}`).join(", ")
    } (name or index)`,
  );
}

export function oneHot(classes: number, index: number): Float32Array {
  const v = new Float32Array(classes);
  v[index] = 1;
  return v;
}

/**
 * The largest class weight: 1 is a whole class, and far past it the embedding net's output, and
 * then the UNet's, leaves float32's range (1e39 is not even a float32).
 */
export const MAX_LABEL_WEIGHT = 1000;

/**
 * "0.5,0,0,0.5,0" -> weights; each finite, in [0, MAX_LABEL_WEIGHT], exactly one per class. `name`
 * is the field as the person wrote it (`--labels`, `labels`).
 */
export function parseWeights(
  text: string | readonly unknown[],
  classes: number,
  name = "labels",
): Float32Array {
  const parts = typeof text === "string" ? text.split(",") : [...text];
  if (parts.length !== classes) {
    throw new RequestError(`${name} need ${classes} weights (one per class), got ${parts.length}`);
  }
  return Float32Array.from(parts, (p) => {
    const v = typeof p === "number"
      ? p
      : typeof p === "string" && p.trim() !== ""
      ? Number(p)
      : NaN;
    if (!Number.isFinite(v) || v < 0) {
      throw new RequestError(`label weights must be finite numbers >= 0, got "${String(p)}"`);
    }
    if (v > MAX_LABEL_WEIGHT) {
      throw new RequestError(
        `label weights must be at most ${MAX_LABEL_WEIGHT} (1 is a whole class), got ${v}`,
      );
    }
    return v;
  });
}

/** `count` copies of one vector, flat [count, classes]. */
export function repeatVector(v: Float32Array, count: number): Float32Array {
  const out = new Float32Array(v.length * count);
  for (let i = 0; i < count; i++) out.set(v, i * v.length);
  return out;
}
