import {
  type NamedTensor,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
} from "../../gpu/formats/safetensors.ts";
import { makeRng, randn } from "../util.ts";

const FIXTURES = new URL("../../../shared/fixtures/diffusers-ref/", import.meta.url);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/** Runs `fn`, expecting a SafetensorsError whose message matches every pattern. */
function assertFails(fn: () => unknown, patterns: RegExp[], what: string): void {
  try {
    fn();
  } catch (e) {
    check(e instanceof SafetensorsError, `${what}: threw ${e}, not a SafetensorsError`);
    for (const p of patterns) {
      check(p.test((e as Error).message), `${what}: "${(e as Error).message}" lacks ${p}`);
    }
    return;
  }
  throw new Error(`${what}: did not throw`);
}

/** A file with a hand-written header (object or raw text) and `dataBytes` of data. */
function rawFile(header: unknown, data: Uint8Array | number): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const bytes = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + bytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes, 8 + json.length);
  return out;
}

Deno.test("round trip of random tensors, odd shapes, a scalar, an empty tensor and metadata", () => {
  const rng = makeRng();
  const shapes = [[7], [3, 5], [2, 3, 1, 13], [], [0, 4], [37]];
  const tensors: NamedTensor[] = shapes.map((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return [`block.${i}.weight`, shape, Float32Array.from(randn(rng, n))];
  });
  tensors[1][2][0] = -0; // signed zero, NaN and infinities survive byte for byte
  tensors[1][2][1] = NaN;
  tensors[1][2][2] = Infinity;
  const metadata = { format: "pt", note: "épreuve" };
  const bytes = writeSafetensors(tensors, metadata);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  check((8 + headerLength) % 8 === 0, `header end ${8 + headerLength} is not 8-aligned`);

  const back = readSafetensors(bytes);
  check(JSON.stringify(back.metadata) === JSON.stringify(metadata), "metadata differs");
  check(JSON.stringify([...back.keys()]) === JSON.stringify(tensors.map((t) => t[0])), "order");
  for (const [name, shape, data] of tensors) {
    const t = back.get(name)!;
    check(t.dtype === "F32" && JSON.stringify(t.shape) === JSON.stringify(shape), `${name} header`);
    const a = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const b = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < a.length; i++) {
      check(a[i] === b[i], `${name}[${i}]: ${t.data[i]} != ${data[i]} (seed ${rng.seed})`);
    }
  }
  // No metadata: no __metadata__ entry, and an empty file list is a valid file.
  check(Object.keys(readSafetensors(writeSafetensors([])).metadata).length === 0, "empty file");
});

Deno.test("reads the diffusers fixtures", () => {
  const unet = readSafetensors(
    Deno.readFileSync(new URL("unet_small/diffusion_pytorch_model.safetensors", FIXTURES)),
  );
  check(unet.size === 250, `unet has ${unet.size} tensors`);
  let params = 0;
  for (const t of unet.values()) params += t.data.length;
  check(params === 315587, `unet has ${params} parameters`);
  check(unet.metadata.format === "pt", "unet metadata");
  check(unet.get("conv_in.weight")?.shape.join() === "16,3,3,3", "conv_in.weight shape");

  const emb = readSafetensors(Deno.readFileSync(new URL("emb_net_case.safetensors", FIXTURES)));
  check(emb.get("0.weight")?.shape.join() === "32,5", "emb 0.weight");
  const obj = emb.get("objective")!;
  check(obj.shape.length === 0 && obj.data.length === 1, "scalar objective");
  check(obj.data[0] === Math.fround(6.023444652557373), `objective ${obj.data[0]}`);

  const unetCase = readSafetensors(
    Deno.readFileSync(new URL("unet_small_case.safetensors", FIXTURES)),
  );
  check(unetCase.get("loss")!.data[0] === Math.fround(0.8994555473327637), "loss");
  check(JSON.stringify([...unetCase.get("input.timesteps")!.data]) === "[10,873]", "timesteps");
});

Deno.test("F16, BF16 and F64 are converted to float32", () => {
  const data = new Uint8Array(8 + 4 + 16);
  const v = new DataView(data.buffer);
  [0x3c00, 0xc000, 0x0001, 0x7bff].forEach((h, i) => v.setUint16(i * 2, h, true)); // 1, -2, 2^-24, 65504
  [0x3fc0, 0xc120].forEach((h, i) => v.setUint16(8 + i * 2, h, true)); // 1.5, -10
  v.setFloat64(12, 0.1, true);
  v.setFloat64(20, -3, true);
  const file = rawFile({
    h: { dtype: "F16", shape: [4], data_offsets: [0, 8] },
    b: { dtype: "BF16", shape: [2, 1], data_offsets: [8, 12] },
    d: { dtype: "F64", shape: [2], data_offsets: [12, 28] },
  }, data);
  const t = readSafetensors(file);
  check(JSON.stringify([...t.get("h")!.data]) === JSON.stringify([1, -2, 2 ** -24, 65504]), "F16");
  check(JSON.stringify([...t.get("b")!.data]) === "[1.5,-10]", "BF16");
  check(t.get("d")!.data[0] === Math.fround(0.1) && t.get("d")!.data[1] === -3, "F64");
  check(t.get("h")!.dtype === "F16", "dtype kept");
});

Deno.test("each malformed file fails with an error that names the tensor", () => {
  const good = { w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } };
  check(readSafetensors(rawFile(good, 16)).get("w")!.data.length === 4, "the control file reads");

  assertFails(() => readSafetensors(new Uint8Array(5)), [/truncated/], "under 8 bytes");
  const long = rawFile(good, 16);
  new DataView(long.buffer).setBigUint64(0, 1000n, true);
  assertFails(() => readSafetensors(long), [/header length 1000 runs past/], "header too long");
  assertFails(() => readSafetensors(rawFile("{not json", 0)), [/not valid JSON/], "bad JSON");
  assertFails(() => readSafetensors(rawFile("[1, 2]", 0)), [/not a JSON object/], "array header");
  assertFails(
    () => readSafetensors(rawFile(good, 12)),
    [/\(w\)/, /outside/, /truncated/],
    "truncated data",
  );
  assertFails(
    () =>
      readSafetensors(rawFile({
        a: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
        b: { dtype: "F32", shape: [2], data_offsets: [8, 16] },
      }, 16)),
    [/\(b\)/, /overlaps tensor a/],
    "overlap",
  );
  assertFails(
    () =>
      readSafetensors(rawFile({ ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, 16)),
    [/\(ids\)/, /unsupported dtype I64/],
    "dtype",
  );
  assertFails(
    () =>
      readSafetensors(rawFile({ w: { dtype: "F32", shape: [3, 2], data_offsets: [0, 16] } }, 16)),
    [/\(w\)/, /needs 24 bytes, data_offsets give 16/],
    "shape/size mismatch",
  );
  assertFails(
    () => readSafetensors(rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4)),
    [/\(w\)/, /bad shape/],
    "negative dimension",
  );
  assertFails(
    () => readSafetensors(rawFile({ w: { dtype: "F32", shape: [1], data_offsets: [8, 4] } }, 8)),
    [/\(w\)/, /outside/],
    "reversed offsets",
  );

  assertFails(
    () => writeSafetensors([["w", [2, 3], new Float32Array(5)]]),
    [/\(w\)/, /6 elements, data has 5/],
    "write: shape mismatch",
  );
  assertFails(
    () => writeSafetensors([["w", [1], new Float32Array(1)], ["w", [1], new Float32Array(1)]]),
    [/\(w\)/, /duplicate/],
    "write: duplicate name",
  );
  assertFails(
    () => writeSafetensors([["__metadata__", [1], new Float32Array(1)]]),
    [/reserved/],
    "write: reserved name",
  );
});
