// The packs' operand store (gpu/ops/matmul/texture.ts's OperandTexture): a kernel writes texels
// into the staging buffer with store_t(), one copy moves them into the texture; every value reads
// back as Math.f16round of it in an f16 context (round to nearest even, subnormals, inf past 65504,
// NaN) and unchanged in an f32 one, as textureStore(toOperand()) stores it (tests/runtime).
import assert from "node:assert/strict";
import { type Precision, withPrecision } from "../../../gpu/runtime/device.ts";
import { createDispatch, runNow } from "../../../gpu/runtime/kernel.ts";
import { operandTexture } from "../../../gpu/ops/matmul/texture.ts";
import { getGpu, gpuTensor, makeRng, poisoned, read } from "../../util.ts";

async function roundTrip(precision: Precision, values: number[]): Promise<Float32Array> {
  const gpu = withPrecision(await getGpu(), precision);
  // A texture of several rows whose row pitch differs from its width (37 texels a row).
  const width = 37;
  const texels = Math.ceil(values.length / 4);
  const height = Math.ceil(texels / width);
  const padded = [...values, ...new Array(4 * width * height - values.length).fill(0)];
  const x = gpuTensor(gpu, padded, [padded.length]);
  const y = poisoned(gpu, [padded.length]);
  const t = operandTexture(gpu, [width, height], "roundTrip");
  assert.ok(t.pitch >= width && (t.pitch * (precision === "f16" ? 8 : 16)) % 256 === 0);
  const params = { width, height, tPitch: t.pitch };
  const grid: [number, number] = [Math.ceil(width / 8), height];
  await runNow(gpu, [
    await createDispatch(
      gpu,
      {
        name: "storeOperands",
        params: { width: "u32", height: "u32", tPitch: "u32" },
        bindings: { x: "read array<vec4<f32>>", t: "operand write" },
        code: `@compute @workgroup_size(8) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.width) { store_t(g.xy, x[g.y * p.width + g.x]); } }`,
      },
      { x, t: t.staging },
      grid,
      params,
    ),
    t.upload,
    await createDispatch(
      gpu,
      {
        name: "loadOperands",
        params: { width: "u32", height: "u32" },
        bindings: { t: "texture read", y: "write array<vec4<f32>>" },
        code: `@compute @workgroup_size(8) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.width) { y[g.y * p.width + g.x] = textureLoad(t, g.xy); } }`,
      },
      { t: t.view, y },
      grid,
      { width, height },
    ),
  ]);
  return (await read(gpu, y)).subarray(0, values.length);
}

Deno.test("operand store: f16 rounds to nearest even, keeps subnormals, overflows to inf", async () => {
  const rng = makeRng();
  const edges = [
    1.0006, // above the midpoint between 1 and 1 + 2^-10: up
    1.00048828125, // the exact midpoint, ties to even: 1
    1.00146484375, // the next midpoint: up to the even 1.001953125
    -1.0006,
    65504,
    65519, // below the rounding boundary to 2^16: 65504
    65520, // at it: inf
    -70000,
    3e-6, // subnormal f16
    -7.3e-7,
    6.097555160522461e-5, // the largest subnormal
    6.103515625e-5, // the smallest normal
    2.5e-8, // below half the smallest subnormal: 0
    -0,
    Infinity,
    -Infinity,
    0.1,
    1234.567,
    0,
  ];
  const random = Array.from({ length: 4000 }, () => {
    const magnitude = 2 ** (rng.next() * 40 - 26); // subnormals through overflow
    return (rng.next() < 0.5 ? -1 : 1) * magnitude;
  });
  const values = [...edges, ...random].map(Math.fround);
  const got = await roundTrip("f16", [...values, NaN]);
  values.forEach((v, i) => {
    assert.ok(Object.is(got[i], Math.f16round(v)), `${v}: got ${got[i]}, want ${Math.f16round(v)}`);
  });
  assert.ok(Number.isNaN(got[values.length]));
  // f32 operands pass through untouched.
  const exact = await roundTrip("f32", values);
  values.forEach((v, i) => assert.ok(Object.is(exact[i], v), `${v}: got ${exact[i]}`));
});
