// The class-embedding net against PyTorch (shared/fixtures/diffusers-ref/emb_net_case.safetensors):
// forward activations, output, and the gradients of sum(output * R), so dOutput = R.
import { buildClassEmbedding, defaultClassEmbedding } from "../../gpu/model/class_embedding.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { createSeed } from "../../gpu/runtime/random.ts";
import { readSafetensors } from "../../gpu/formats/safetensors.ts";
import { readback, upload } from "../../gpu/runtime/tensor.ts";
import { loadParams } from "../../gpu/model/params.ts";
import { assertClose, getGpu, makeRng, poisoned, randn, relativeError } from "../util.ts";

const FIXTURE = new URL(
  "../../../shared/fixtures/diffusers-ref/emb_net_case.safetensors",
  import.meta.url,
);

Deno.test("class embedding net matches PyTorch: forward, objective and every gradient", async () => {
  const gpu = await getGpu();
  const c = readSafetensors(Deno.readFileSync(FIXTURE));
  const get = (name: string) => {
    const t = c.get(name);
    if (!t) throw new Error(`fixture has no ${name}`);
    return t.data;
  };
  const B = 4;
  const net = await buildClassEmbedding(gpu, defaultClassEmbedding, {
    batch: B,
    training: false,
    withInputGrad: true,
    // Poisoned so an element the net fails to write fails the test.
    output: poisoned(gpu, [B, 1, 64]),
  });
  const names = ["0.weight", "0.bias", "3.weight", "3.bias"];
  loadParams(gpu, net.params, new Map(names.map((n) => [n, c.get(n)!])));
  upload(gpu, net.input, get("input"));
  upload(gpu, net.dOutput, get("R"));
  await runNow(gpu, [...net.forward, ...net.backward]);

  const output = await readback(gpu, net.output);
  let objective = 0;
  const r = get("R");
  for (let i = 0; i < output.length; i++) objective += output[i] * r[i];
  const grads = await readback(gpu, net.params.grads);
  const checks: [string, ArrayLike<number>, Float32Array][] = [
    ["act.0", await readback(gpu, net.hidden), get("act.0")],
    ["act.2", await readback(gpu, net.activated), get("act.2")],
    ["output", output, get("output")],
    ["objective", [objective], get("objective")],
    ["grad.input", await readback(gpu, net.dInput!), get("grad.input")],
  ];
  for (const e of net.params.layout.entries) {
    checks.push([
      `grad.${e.name}`,
      grads.subarray(e.offset, e.offset + e.size),
      get(`grad.${e.name}`),
    ]);
  }
  const failures: string[] = [];
  const report: string[] = [];
  for (const [name, actual, expected] of checks) {
    const error = relativeError(actual, expected);
    report.push(`${name} ${error.toExponential(2)}`);
    if (!(error <= 1e-5)) failures.push(`${name}: relative error ${error.toExponential(3)}`);
  }
  console.log("class embedding rel. errors: " + report.join(", "));
  if (failures.length) throw new Error(failures.join("\n"));
});

// erf to ~1e-15 (series near 0, continued fraction in the tail), for the float64 GELU.
function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 60; n++) {
      term *= -a * a / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (a + f);
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  return Math.sign(x) * (1 - erfc);
}
const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
const geluGrad = (v: number) =>
  0.5 * (1 + erf(v / Math.SQRT2)) + v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);

Deno.test("class embedding net in training mode: dropout mask is used by forward and backward", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const o = defaultClassEmbedding;
  const B = 13;
  const net = await buildClassEmbedding(gpu, o, {
    batch: B,
    training: true,
    seed: createSeed(gpu, (rng.next() * 2 ** 32) >>> 0),
    withInputGrad: true,
  });
  const specs = net.params.layout.entries;
  const host = new Map(
    specs.map((e) => [e.name, { data: Float32Array.from(randn(rng, e.size, 0.5)) }]),
  );
  loadParams(gpu, net.params, host);
  const x = randn(rng, B * o.inFeatures);
  const r = randn(rng, B * o.outFeatures);
  upload(gpu, net.input, Float32Array.from(x));
  upload(gpu, net.dOutput, Float32Array.from(r));
  await runNow(gpu, [...net.forward, ...net.backward]);

  // The mask, recovered from the forward: dropped = hidden * mask / (1 - p).
  const hidden = await readback(gpu, net.hidden);
  const dropped = await readback(gpu, net.dropped);
  const keep = 1 / (1 - o.dropout);
  let zeros = 0;
  const mask = Array.from(dropped, (v, i) => {
    if (v === 0) return zeros++, 0;
    if (Math.abs(v - hidden[i] * keep) > 1e-6 * Math.abs(v)) {
      throw new Error(`dropout[${i}] not scaled`);
    }
    return 1;
  });
  if (zeros === 0 || zeros > hidden.length / 3) {
    throw new Error(`${zeros} of ${hidden.length} dropped`);
  }

  // float64 reference of the forward and backward given that mask.
  const w0 = host.get("0.weight")!.data, w3 = host.get("3.weight")!.data;
  const H = o.hidden, I = o.inFeatures, O = o.outFeatures;
  const out = new Float64Array(B * O);
  const dW0 = new Float64Array(H * I), db0 = new Float64Array(H);
  const dW3 = new Float64Array(O * H), db3 = new Float64Array(O);
  const dx = new Float64Array(B * I);
  for (let b = 0; b < B; b++) {
    const d = Array.from({ length: H }, (_, j) => dropped[b * H + j]);
    const a = d.map(gelu);
    for (let k = 0; k < O; k++) {
      let s = host.get("3.bias")!.data[k];
      for (let j = 0; j < H; j++) s += a[j] * w3[k * H + j];
      out[b * O + k] = s;
      db3[k] += r[b * O + k];
      for (let j = 0; j < H; j++) dW3[k * H + j] += r[b * O + k] * a[j];
    }
    for (let j = 0; j < H; j++) {
      let dA = 0;
      for (let k = 0; k < O; k++) dA += r[b * O + k] * w3[k * H + j];
      const dH = dA * geluGrad(d[j]) * mask[b * H + j] * keep;
      db0[j] += dH;
      for (let i = 0; i < I; i++) {
        dW0[j * I + i] += dH * x[b * I + i];
        dx[b * I + i] += dH * w0[j * I + i];
      }
    }
  }
  const grads = await readback(gpu, net.params.grads);
  const grad = (name: string) => {
    const e = net.params.layout.byName.get(name)!;
    return grads.subarray(e.offset, e.offset + e.size);
  };
  assertClose(await readback(gpu, net.output), out, 1e-5, "output", rng.seed);
  assertClose(grad("0.weight"), dW0, 1e-5, "grad 0.weight", rng.seed);
  assertClose(grad("0.bias"), db0, 1e-5, "grad 0.bias", rng.seed);
  assertClose(grad("3.weight"), dW3, 1e-5, "grad 3.weight", rng.seed);
  assertClose(grad("3.bias"), db3, 1e-5, "grad 3.bias", rng.seed);
  assertClose(await readback(gpu, net.dInput!), dx, 1e-5, "grad input", rng.seed);
});
