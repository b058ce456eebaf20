// The safetensors format (what diffusers and PyTorch checkpoints use): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}
// padded with spaces to a multiple of 8, then the raw little-endian tensor bytes.
//
// Hand-written because no well-kept pure-JS package on npm reads and writes it (the one named
// "safetensors" is a single 0.0.1 release). Everything is read into float32: F16, BF16 and F64 are
// converted; writing is F32 only, which is all this project stores.
import { EngineInputError } from "../runtime/errors.ts";

/** One tensor as read: `dtype` is the file's, `data` is always converted to float32. */
export interface SafeTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

/** Tensors by name in file order, plus the file's `__metadata__` (string values only, per the format). */
export class SafetensorsMap extends Map<string, SafeTensor> {
  metadata: Record<string, string> = {};
}

/** What `writeSafetensors` takes: [name, shape, row-major data]. */
export type NamedTensor = [name: string, shape: number[], data: Float32Array];

/** A malformed file: bad input, shown to the person as it is. */
export class SafetensorsError extends EngineInputError {}

const bytesPerElement: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

// The reference implementation refuses headers over 100 MB; a larger length means a corrupt file.
const MAX_HEADER_BYTES = 100_000_000;

function fail(what: string, message: string): never {
  throw new SafetensorsError(`safetensors${what ? ` (${what})` : ""}: ${message}`);
}

function isShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0);
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decode(dtype: string, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  if (dtype === "F32") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (dtype === "F64") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
  } else if (dtype === "F16") {
    for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
  } else {
    // BF16 is the top half of an f32.
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = view.getUint16(i * 2, true) << 16;
  }
  return out;
}

/**
 * Parses a whole safetensors file. Throws `SafetensorsError` naming the tensor at fault for a
 * truncated file, a header past the end, bad JSON, an unsupported dtype, offsets out of range or
 * overlapping, and a byte range that does not match the shape.
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsMap {
  if (bytes.byteLength < 8) {
    fail("", `file is truncated: ${bytes.byteLength} bytes, less than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) {
    fail(
      "",
      `header length ${headerLength} runs past the end of the ${bytes.byteLength}-byte file`,
    );
  }
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) fail("", `header length ${n} is over the ${MAX_HEADER_BYTES} limit`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail("", `header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("", "header is not a JSON object");
  }

  const data = bytes.subarray(8 + n);
  const out = new SafetensorsMap();
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        fail(name, "__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") fail(name, `metadata value ${k} is not a string`);
        out.metadata[k] = v;
      }
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
    if (typeof dtype !== "string") fail(name, "entry has no dtype");
    if (!(dtype in bytesPerElement)) {
      fail(name, `unsupported dtype ${dtype} (F32, F16, BF16 and F64 are read)`);
    }
    if (!isShape(shape)) fail(name, `bad shape ${JSON.stringify(shape)}`);
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(name, `bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > data.byteLength) {
      fail(
        name,
        `data_offsets [${begin}, ${end}] are outside the ${data.byteLength}-byte data section` +
          " (truncated file?)",
      );
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * bytesPerElement[dtype]) {
      fail(
        name,
        `shape [${shape}] of ${dtype} needs ${count * bytesPerElement[dtype]} bytes, ` +
          `data_offsets give ${end - begin}`,
      );
    }
    ranges.push({ name, begin, end });
    out.set(name, {
      dtype,
      shape: [...shape],
      data: decode(dtype, data.subarray(begin, end), count),
    });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].begin < ranges[i - 1].end) {
      fail(ranges[i].name, `data overlaps tensor ${ranges[i - 1].name}`);
    }
  }
  return out;
}

/**
 * Serialises float32 tensors, in the order given, with optional string metadata. Throws
 * `SafetensorsError` naming the tensor for a duplicate or reserved name, a bad shape, or a shape
 * whose element count differs from the data's length.
 */
export function writeSafetensors(
  tensors: readonly NamedTensor[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") fail("__metadata__", `metadata value ${k} is not a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, shape, data] of tensors) {
    if (!name || name === "__metadata__") fail(name, "reserved or empty tensor name");
    if (name in header) fail(name, "duplicate tensor name");
    if (!isShape(shape)) fail(name, `bad shape ${JSON.stringify(shape)}`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (!(data instanceof Float32Array)) fail(name, "data is not a Float32Array");
    if (count !== data.length) {
      fail(name, `shape [${shape}] has ${count} elements, data has ${data.length}`);
    }
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.byteLength) / 8) * 8 - 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  const dataView = new DataView(out.buffer, 8 + json.byteLength);
  let at = 0;
  for (const [, , data] of tensors) {
    // DataView keeps the bytes little-endian whatever the host is.
    for (let i = 0; i < data.length; i++, at += 4) dataView.setFloat32(at, data[i], true);
  }
  return out;
}
