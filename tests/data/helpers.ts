// Small assertions for the data-layer tests (host-side values, no tolerances needed).
import { InputError } from "../../errors.ts";

export function assertEquals(actual: unknown, expected: unknown, what = "value"): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a.slice(0, 400)}, want ${e.slice(0, 400)}`);
}

export function assert(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

/** `fn` must throw an InputError whose message matches `pattern`. */
export function assertInputError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    return checkInputError(e, pattern);
  }
  throw new Error(`no error thrown, want one matching ${pattern}`);
}

export async function assertRejectsInputError(fn: () => Promise<unknown>, pattern: RegExp) {
  try {
    await fn();
  } catch (e) {
    return checkInputError(e, pattern);
  }
  throw new Error(`no error thrown, want one matching ${pattern}`);
}

function checkInputError(e: unknown, pattern: RegExp): void {
  if (!(e instanceof InputError)) throw new Error(`want an InputError, got ${e}`);
  if (!pattern.test(e.message)) throw new Error(`"${e.message}" does not match ${pattern}`);
}

/**
 * An .npy file written the way numpy writes one (spaced dict, trailing comma, header padded to
 * 64 bytes), independent of the writer under test, so the reader is checked on numpy's layout.
 */
export function numpyStyleNpy(descr: string, shape: number[], data: Uint8Array, fortran = false) {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, ` +
    `'shape': ${shapeText}, }`;
  const pad = 64 - ((10 + dict.length + 1) % 64);
  dict += " ".repeat(pad % 64) + "\n";
  const out = new Uint8Array(10 + dict.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, dict.length, true);
  out.set(new TextEncoder().encode(dict), 10);
  out.set(data, 10 + dict.length);
  return out;
}

export const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
