import { runNow } from "../../gpu/runtime/kernel.ts";
import { timestepEmbedding } from "../../gpu/ops/timestep_embedding.ts";
import { assertClose, getGpu, gpuTensor, makeRng, poisoned, read } from "../util.ts";

const f = Math.fround;

/**
 * diffusers' get_timestep_embedding with torch's float32 steps up to the argument t * freq, then
 * sin and cos in float64 (the exact values the f32 kernel should round to).
 */
function reference(t: ArrayLike<number>, dim: number, flip: boolean, shift: number): Float64Array {
  const half = Math.floor(dim / 2);
  const out = new Float64Array(t.length * dim);
  for (let b = 0; b < t.length; b++) {
    for (let i = 0; i < half; i++) {
      const exponent = f(f(f(-Math.log(10000)) * i) / (half - shift));
      const arg = f(t[b] * f(Math.exp(exponent)));
      const [first, second] = flip
        ? [Math.cos(arg), Math.sin(arg)]
        : [Math.sin(arg), Math.cos(arg)];
      out[b * dim + i] = first;
      out[b * dim + half + i] = second;
    }
  }
  return out;
}

Deno.test("timestep embedding matches torch's float32 recipe for t in [0, 1000)", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const cases = [
    { dim: 16, flip: true, shift: 0 },
    { dim: 13, flip: true, shift: 0 }, // odd: zero-padded last column
    { dim: 32, flip: false, shift: 1 },
  ];
  for (const { dim, flip, shift } of cases) {
    const batch = 37;
    const t = Array.from({ length: batch }, () => Math.floor(rng.next() * 1000));
    t[0] = 0;
    t[1] = 999;
    t[2] = f(rng.next() * 1000); // fractional timesteps (DDIM with odd spacing)
    const tt = gpuTensor(gpu, t, [batch]);
    const out = poisoned(gpu, [batch, dim]);
    await runNow(gpu, [
      await timestepEmbedding(gpu, { timesteps: tt, out, batch, dim, flipSinToCos: flip, shift }),
    ]);
    // Arguments reach 999 rad: the range reduction keeps the error near one f32 ulp of 1.
    assertClose(await read(gpu, out), reference(t, dim, flip, shift), 2e-7, `dim ${dim}`, rng.seed);
  }
});

/** Reads one F32 tensor from a safetensors file (header length, JSON header, raw data). */
function readSafetensor(path: string, name: string): Float32Array {
  const bytes = Deno.readFileSync(path);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const entry = header[name];
  if (!entry || entry.dtype !== "F32") throw new Error(`${path}: no F32 tensor ${name}`);
  const [begin, end] = entry.data_offsets;
  const data = bytes.slice(8 + headerLength + begin, 8 + headerLength + end);
  return new Float32Array(data.buffer);
}

Deno.test("timestep embedding matches diffusers' act.time_proj fixture", async () => {
  const gpu = await getGpu();
  const file =
    new URL("../../../shared/fixtures/diffusers-ref/unet_small_case.safetensors", import.meta.url)
      .pathname;
  const timesteps = readSafetensor(file, "input.timesteps"); // [10, 873]
  const expected = readSafetensor(file, "act.time_proj"); // [1, 16]: batch element 0 only
  const tt = gpuTensor(gpu, timesteps, [2]);
  const out = poisoned(gpu, [2, 16]);
  await runNow(gpu, [await timestepEmbedding(gpu, { timesteps: tt, out, batch: 2, dim: 16 })]);
  const got = await read(gpu, out);
  assertClose(got.subarray(0, 16), expected, 2e-7, "time_proj vs diffusers");
  assertClose(got.subarray(16), reference([timesteps[1]], 16, true, 0), 2e-7, "t = 873");
});
