// .npy files: read through npyjs, checked here so that a wrong file fails with one message that
// says what is wrong (npyjs trusts the header and would hand back a short or misread array).
// Writing goes through npyjs's `dump`, which writes a version 1.0 header numpy reads as it is.
import { dump, parse } from "npyjs";
import { InputError } from "../errors.ts";
import {
  FileReadError,
  MAX_DATA_FILE_BYTES,
  readPrefix,
  readRegularFile,
  regularFileSize,
} from "./files.ts";

export type NpyTypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

export interface NpyArray {
  /** numpy's type code without the byte-order mark: "u1", "f8", "i8", ... */
  dtype: string;
  shape: number[];
  data: NpyTypedArray;
}

const ITEM_BYTES: Record<string, number> = {
  u1: 1,
  i1: 1,
  u2: 2,
  i2: 2,
  u4: 4,
  i4: 4,
  u8: 8,
  i8: 8,
  f4: 4,
  f8: 8,
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** What an .npy header says: dtype, shape, where the data starts and how long it is. */
export interface NpyLayout {
  dtype: string;
  shape: number[];
  dataOffset: number;
  itemBytes: number;
  dataBytes: number;
}

/**
 * Reads and checks an .npy header from the file's first bytes (`bytes` may be only a prefix that
 * holds the header): numeric little-endian dtype, C order.
 */
export function npyLayout(bytes: Uint8Array, what = "npy file"): NpyLayout {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new InputError(`${what}: not an .npy file (it does not start with "\\x93NUMPY")`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const preamble = major <= 1 ? 10 : 12;
  if (bytes.length < preamble) throw new InputError(`${what}: truncated .npy header`);
  const headerLength = major <= 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = preamble + headerLength;
  if (bytes.length < dataOffset) throw new InputError(`${what}: truncated .npy header`);
  const header = new TextDecoder("latin1").decode(bytes.subarray(preamble, dataOffset));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  if (descr === undefined || !/'shape'\s*:\s*\(/.test(header)) {
    throw new InputError(`${what}: malformed .npy header ${JSON.stringify(header.trim())}`);
  }

  // npyjs drops the byte-order mark and reads everything as little-endian.
  if (descr.startsWith(">") && !descr.endsWith("1")) {
    throw new InputError(`${what}: big-endian dtype ${descr} is not supported (save it as '<')`);
  }
  const dtype = descr.replace(/^[<>|=]/, "");
  const itemBytes = ITEM_BYTES[dtype];
  if (itemBytes === undefined) {
    throw new InputError(
      `${what}: unsupported dtype ${descr} (want a numeric dtype such as |u1 or <f8)`,
    );
  }

  // Header only: npyjs then gives dtype and shape without touching a possibly short body.
  const headerOnly = parseWithNpyjs(bytes.slice(0, dataOffset), what);
  const shape = headerOnly.shape;
  if (headerOnly.fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw new InputError(`${what}: Fortran-order arrays are not supported (save it in C order)`);
  }
  // numpy pads headers to 16 or 64 bytes, so this only fails for hand-made files.
  if (dataOffset % itemBytes !== 0) {
    throw new InputError(`${what}: data starts at byte ${dataOffset}, unaligned for ${dtype}`);
  }
  const dataBytes = shape.reduce((a, b) => a * b, 1) * itemBytes;
  return { dtype, shape, dataOffset, itemBytes, dataBytes };
}

/** The data length the header promises against the one the file has. */
function checkDataLength(layout: NpyLayout, actualBytes: number, what: string): void {
  const { shape, dtype, dataBytes } = layout;
  if (actualBytes < dataBytes) {
    throw new InputError(
      `${what}: truncated: shape [${shape}] of ${dtype} needs ${dataBytes} data bytes, ` +
        `the file has ${actualBytes}`,
    );
  }
  if (actualBytes > dataBytes) {
    throw new InputError(
      `${what}: ${actualBytes - dataBytes} bytes past the end of the [${shape}] ${dtype} array`,
    );
  }
}

/** Parses and checks an .npy file: numeric little-endian dtype, C order, exact data length. */
export function parseNpy(bytes: Uint8Array, what = "npy file"): NpyArray {
  const layout = npyLayout(bytes, what);
  checkDataLength(layout, bytes.length - layout.dataOffset, what);
  const whole = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length;
  const full = parseWithNpyjs(whole ? bytes : bytes.slice(), what);
  return { dtype: layout.dtype, shape: layout.shape, data: full.data as NpyTypedArray };
}

function parseWithNpyjs(bytes: Uint8Array, what: string) {
  try {
    return parse(bytes.buffer as ArrayBuffer);
  } catch (e) {
    throw new InputError(`${what}: cannot parse .npy file: ${(e as Error).message}`);
  }
}

/** The most an .npy header may take (numpy writes a few hundred bytes). */
const MAX_HEADER_BYTES = 1 << 20;

/**
 * Reads an .npy file: a regular file only, and its size is checked against its header before the
 * data is read (a wrong or endless file is refused after a few bytes, not gigabytes).
 */
export async function readNpy(path: string): Promise<NpyArray> {
  try {
    const size = await regularFileSize(path, MAX_DATA_FILE_BYTES);
    const preamble = await readPrefix(path, 12);
    const headerEnd = preamble.length >= 10 && MAGIC.every((b, i) => preamble[i] === b)
      ? (preamble[6] <= 1 ? 10 + (preamble[8] | preamble[9] << 8) : 12 +
        new DataView(preamble.buffer, preamble.byteOffset).getUint32(8, true))
      : 10;
    if (headerEnd > MAX_HEADER_BYTES) {
      throw new InputError(`${path}: the .npy header claims ${headerEnd} bytes; not an .npy file`);
    }
    const layout = npyLayout(await readPrefix(path, headerEnd), path);
    checkDataLength(layout, size - layout.dataOffset, path);
    return parseNpy(await readRegularFile(path, MAX_DATA_FILE_BYTES), path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    if (e instanceof FileReadError) throw new InputError(e.message);
    throw new InputError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** An .npy file of a uint8, float32 or float64 array in C order. */
export function encodeNpy(
  data: Uint8Array | Float32Array | Float64Array,
  shape: number[],
): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new Error(`encodeNpy: shape [${shape}] holds ${size} values, got ${data.length}`);
  }
  return new Uint8Array(dump(data, shape));
}

export async function writeNpy(
  path: string,
  data: Uint8Array | Float32Array | Float64Array,
  shape: number[],
): Promise<void> {
  await Deno.writeFile(path, encodeNpy(data, shape));
}
