import { encodeNpy, parseNpy, readNpy, writeNpy } from "../../data/npy.ts";
import { assert, assertEquals, assertInputError, bytesOf, numpyStyleNpy } from "./helpers.ts";
import { makeRng } from "../util.ts";

const SAMPLE = "/work/shared/data/dlai-sprites-sample/";

Deno.test("npy: uint8, float32 and float64 arrays survive a write and read", async () => {
  const rng = makeRng();
  const n = 3 + Math.floor(rng.next() * 5);
  const u8 = Uint8Array.from({ length: n * 7 * 5 * 3 }, () => Math.floor(rng.next() * 256));
  const f4 = Float32Array.from({ length: n * 5 }, () => rng.normal());
  const f8 = Float64Array.from({ length: n * 5 }, () => rng.normal());
  const cases: [Uint8Array | Float32Array | Float64Array, number[], string][] = [
    [u8, [n, 7, 5, 3], "u1"],
    [f4, [n, 5], "f4"],
    [f8, [n, 5], "f8"],
    [f8.subarray(0, n), [n], "f8"],
  ];
  const dir = await Deno.makeTempDir();
  try {
    for (const [data, shape, dtype] of cases) {
      const path = `${dir}/a.npy`;
      await writeNpy(path, data, shape);
      const back = await readNpy(path);
      assertEquals([back.dtype, back.shape], [dtype, shape], `seed ${rng.seed}`);
      assertEquals(Array.from(back.data as Float64Array), Array.from(data), `seed ${rng.seed}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npy: reads numpy's own layout for every integer and float dtype", () => {
  const values = [0, 1, 4, 2, 3, 1, 0];
  const arrays: [string, ArrayBufferView][] = [
    ["|u1", Uint8Array.from(values)],
    ["|i1", Int8Array.from(values)],
    ["<u2", Uint16Array.from(values)],
    ["<i2", Int16Array.from(values)],
    ["<u4", Uint32Array.from(values)],
    ["<i4", Int32Array.from(values)],
    ["<i8", BigInt64Array.from(values, BigInt)],
    ["<u8", BigUint64Array.from(values, BigInt)],
    ["<f4", Float32Array.from(values)],
    ["<f8", Float64Array.from(values)],
  ];
  for (const [descr, data] of arrays) {
    const arr = parseNpy(numpyStyleNpy(descr, [values.length], bytesOf(data)));
    assertEquals(arr.dtype, descr.slice(1));
    assertEquals(arr.shape, [values.length]);
    assertEquals(Array.from(arr.data as Float64Array, Number), values, descr);
  }
});

Deno.test("npy: reads the real course files (uint8 sprites, float64 one-hot, uint8 classes)", async () => {
  const sprites = await readNpy(SAMPLE + "sprites_sample_90_16x16.npy");
  assertEquals([sprites.dtype, sprites.shape], ["u1", [90, 16, 16, 3]]);
  const labels = await readNpy(SAMPLE + "sprite_labels_sample_90.npy");
  assertEquals([labels.dtype, labels.shape], ["f8", [90, 5]]);
  const classes = await readNpy(SAMPLE + "labels_argmax_89400.npy");
  assertEquals([classes.dtype, classes.shape], ["u1", [89400]]);
  const counts = [0, 0, 0, 0, 0];
  for (const c of classes.data as Uint8Array) counts[c]++;
  assertEquals(counts, [8000, 32400, 6000, 35000, 8000]);
});

Deno.test("npy: each malformed file gets its own clear error", () => {
  const good = encodeNpy(new Float64Array(10).fill(1), [2, 5]);
  const fail = (bytes: Uint8Array, pattern: RegExp) =>
    assertInputError(() => parseNpy(bytes, "x.npy"), pattern);
  fail(new TextEncoder().encode("PK\x03\x04 a zip, not an npy file"), /not an \.npy file/);
  fail(new Uint8Array(0), /not an \.npy file/);
  fail(good.subarray(0, 30), /truncated \.npy header/);
  fail(
    good.subarray(0, good.length - 3),
    /truncated: shape \[2,5\] of f8 needs 80 data bytes, the file has 77/,
  );
  fail(good.subarray(0, good.length - 8), /truncated/);
  const long = new Uint8Array(good.length + 8);
  long.set(good);
  fail(long, /8 bytes past the end/);
  fail(numpyStyleNpy(">f8", [2], new Uint8Array(16)), /big-endian/);
  fail(numpyStyleNpy("<f8", [2, 3], new Uint8Array(48), true), /Fortran-order/);
  fail(numpyStyleNpy("<c16", [1], new Uint8Array(16)), /unsupported dtype <c16/);
  fail(numpyStyleNpy("<U3", [1], new Uint8Array(12)), /unsupported dtype <U3/);
  // A 1-D array is the same in either order, so its fortran flag is harmless.
  assertEquals(parseNpy(numpyStyleNpy("<f8", [2], new Uint8Array(16), true)).shape, [2]);
});

Deno.test("npy: encodeNpy refuses a shape that does not match the data", () => {
  let message = "";
  try {
    encodeNpy(new Uint8Array(10), [3, 3]);
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message.includes("holds 9 values"), `encodeNpy error: "${message}"`);
});
