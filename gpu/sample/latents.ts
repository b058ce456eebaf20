// The starting noise a caller may give instead of the sampler's own first draw, as diffusers'
// pipelines take `latents=`: x_T for every sprite, [count, channels, height, width] float32 in
// NCHW order (torch's layout), so a sprite made elsewhere from the same noise and the same weights
// can be made here exactly. Read by the sampling-request parser (request.ts) from what a front end
// has: a JSON body's nested list or base64 string, or the CLI's .npy file as a typed array.
import { RequestError } from "../runtime/errors.ts";

/**
 * The largest |value|: noise is N(0, 1) (DDIM's and DDPM's init_noise_sigma is 1), and far past it
 * the UNet's activations leave float32's range.
 */
export const MAX_LATENT = 1000;

/** [channels, height, width] of one sprite's noise: the model's in_channels and sample_size. */
export type NoiseShape = readonly [number, number, number];

/**
 * Decodes `value` into flat float32 [count, ...shape]: a base64 string of little-endian float32
 * bytes, a list of [channels][height][width] lists, or a typed array of whole sprites (its shape
 * checked by the caller, who knows it). `name` is the field as the person wrote it.
 */
export function parseLatents(value: unknown, shape: NoiseShape, name = "latents"): Float32Array {
  const per = shape[0] * shape[1] * shape[2];
  const dims = `[count, ${shape.join(", ")}]`;
  let data: Float32Array;
  if (typeof value === "string") data = fromBase64(value, name);
  else if (value instanceof Float32Array || value instanceof Float64Array) {
    data = Float32Array.from(value);
  } else if (Array.isArray(value)) data = fromNested(value, shape, name);
  else {
    throw new RequestError(
      `${name} must be the starting noise ${dims}: nested lists of numbers, or base64 of ` +
        `little-endian float32, got ${value === null ? "null" : typeof value}`,
    );
  }
  if (data.length === 0 || data.length % per !== 0) {
    throw new RequestError(
      `${name} holds ${data.length} value${data.length === 1 ? "" : "s"}; the noise is ${dims}, ` +
        `${per} values a sprite`,
    );
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v) || Math.abs(v) > MAX_LATENT) {
      throw new RequestError(
        `${name}: value ${i} is ${v}; noise values must be finite, within ±${MAX_LATENT}`,
      );
    }
  }
  return data;
}

/** Sprites the noise is for. */
export function latentCount(latents: Float32Array, shape: NoiseShape): number {
  return latents.length / (shape[0] * shape[1] * shape[2]);
}

function fromBase64(text: string, name: string): Float32Array {
  const clean = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    throw new RequestError(`${name} is a string but not base64`);
  }
  const binary = atob(clean);
  if (binary.length % 4 !== 0) {
    throw new RequestError(
      `${name} decodes to ${binary.length} bytes, not whole float32 values (4 bytes each)`,
    );
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** [count][C][H][W] lists, every length checked, into flat NCHW. */
function fromNested(list: unknown[], shape: NoiseShape, name: string): Float32Array {
  const per = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(list.length * per);
  let at = 0;
  const walk = (v: unknown, depth: number, path: string) => {
    if (depth === 3) {
      if (typeof v !== "number") {
        throw new RequestError(`${path} must be a number, got ${JSON.stringify(v) ?? typeof v}`);
      }
      out[at++] = v;
      return;
    }
    const want = shape[depth];
    if (!Array.isArray(v) || v.length !== want) {
      throw new RequestError(
        `${path} must be a list of ${want} (a sprite's noise is [${shape.join(", ")}]), got ${
          Array.isArray(v) ? `${v.length}` : typeof v
        }`,
      );
    }
    v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
  };
  list.forEach((sprite, i) => walk(sprite, 0, `${name}[${i}]`));
  return out;
}

/** Base64 of little-endian float32: what a client sends as `latents` (and the tests). */
export function latentsToBase64(values: ArrayLike<number>): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
