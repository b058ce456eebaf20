// The f16 operand store: every value written through toOperand() into an rgba16float texture reads
// back as Math.f16round of it (round to nearest even, subnormals, inf past 65504), not as
// llvmpipe's own conversion (toward zero, saturating); an f32 context stores values unchanged.
import assert from "node:assert/strict";
import { type Precision, withPrecision } from "../../gpu/runtime/device.ts";
import { createDispatch, runNow } from "../../gpu/runtime/kernel.ts";
import { storageTexture } from "../../gpu/ops/matmul/texture.ts";
import { getGpu, gpuTensor, makeRng, poisoned, read } from "../util.ts";

async function roundTrip(precision: Precision, values: number[]): Promise<Float32Array> {
  const gpu = withPrecision(await getGpu(), precision);
  const texels = Math.ceil(values.length / 4);
  const x = gpuTensor(gpu, [...values, 0, 0, 0].slice(0, 4 * texels), [4 * texels]);
  const y = poisoned(gpu, [4 * texels]);
  const t = storageTexture(gpu, [texels, 1], "roundTrip");
  const params = { n: texels };
  await runNow(gpu, [
    await createDispatch(
      gpu,
      {
        name: "storeOperands",
        params: { n: "u32" },
        bindings: { x: "read array<vec4<f32>>", t: "texture write" },
        code: `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { textureStore(t, vec2u(g.x, 0u), toOperand(x[g.x])); } }`,
      },
      { x, t },
      [Math.ceil(texels / 64)],
      params,
    ),
    await createDispatch(
      gpu,
      {
        name: "loadOperands",
        params: { n: "u32" },
        bindings: { t: "texture read", y: "write array<vec4<f32>>" },
        code: `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { y[g.x] = textureLoad(t, vec2u(g.x, 0u)); } }`,
      },
      { t, y },
      [Math.ceil(texels / 64)],
      params,
    ),
  ]);
  return (await read(gpu, y)).subarray(0, values.length);
}

Deno.test("f16 operands round to nearest even, keep subnormals and overflow to inf", async () => {
  const rng = makeRng();
  const edges = [
    1.0006, // above the midpoint between 1 and 1 + 2^-10: up (truncation gives 1)
    1.00048828125, // the exact midpoint, ties to even: 1
    1.00146484375, // the next midpoint: up to the even 1.001953125
    -1.0006,
    65504,
    65519, // below the rounding boundary to 2^16: 65504
    65520, // at it: inf (a saturating store gives 65504)
    -70000,
    3e-6, // subnormal f16
    -7.3e-7,
    2.5e-8, // below half the smallest subnormal: 0
    0.1,
    1234.567,
    0,
  ];
  const random = Array.from({ length: 4000 }, () => {
    const magnitude = 2 ** (rng.next() * 40 - 26); // subnormals through overflow
    return (rng.next() < 0.5 ? -1 : 1) * magnitude;
  });
  const values = [...edges, ...random].map(Math.fround);
  const got = await roundTrip("f16", values);
  values.forEach((v, i) => {
    assert.ok(Object.is(got[i], Math.f16round(v)), `${v}: got ${got[i]}, want ${Math.f16round(v)}`);
  });
  assert.equal(got[6], Infinity);
  assert.equal(got[0], 1.0009765625);
  // f32 operands pass through untouched.
  const exact = await roundTrip("f32", values);
  values.forEach((v, i) => assert.equal(exact[i], v));
});
