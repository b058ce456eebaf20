import { runNow } from "../../gpu/runtime/kernel.ts";
import { layerNormBackward, layerNormForward } from "../../gpu/ops/layer_norm.ts";
import {
  assertClose,
  assertGradientMatchesFD,
  dot,
  getGpu,
  gpuTensor,
  makeRng,
  poisoned,
  randn,
  read,
  type Rng,
} from "../util.ts";

/** Float64 LayerNorm over the last dimension of x [rows, features]. */
function reference(x: Float64Array, gamma: Float64Array, beta: Float64Array, features: number) {
  const rows = x.length / features;
  const y = new Float64Array(x.length);
  const xhat = new Float64Array(x.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * features, (r + 1) * features);
    const mu = row.reduce((a, b) => a + b, 0) / features;
    const variance = row.reduce((a, b) => a + (b - mu) ** 2, 0) / features;
    mean[r] = mu;
    rstd[r] = 1 / Math.sqrt(variance + 1e-5);
    for (let f = 0; f < features; f++) {
      const k = r * features + f;
      xhat[k] = (x[k] - mu) * rstd[r];
      y[k] = xhat[k] * gamma[f] + beta[f];
    }
  }
  return { y, xhat, mean, rstd };
}

/** Float64 analytic gradients of sum(y * dy). */
function referenceGradients(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  dy: Float64Array,
  features: number,
) {
  const { xhat, rstd } = reference(x, gamma, beta, features);
  const dx = new Float64Array(x.length);
  const dGamma = new Float64Array(features);
  const dBeta = new Float64Array(features);
  for (let r = 0; r < rstd.length; r++) {
    let m1 = 0;
    let m2 = 0;
    for (let f = 0; f < features; f++) {
      const k = r * features + f;
      dGamma[f] += dy[k] * xhat[k];
      dBeta[f] += dy[k];
      m1 += (dy[k] * gamma[f]) / features;
      m2 += (dy[k] * gamma[f] * xhat[k]) / features;
    }
    for (let f = 0; f < features; f++) {
      const k = r * features + f;
      dx[k] = rstd[r] * (dy[k] * gamma[f] - m1 - xhat[k] * m2);
    }
  }
  return { dx, dGamma, dBeta };
}

async function checkLayerNorm(rng: Rng, rows: number, features: number) {
  const gpu = await getGpu();
  const x = randn(rng, rows * features, 3).map((v, i) => Math.fround(v + (i % 5)));
  const gamma = randn(rng, features).map((v) => Math.fround(1 + 0.5 * v));
  const beta = randn(rng, features, 0.5);
  const dy = randn(rng, rows * features);
  const t = {
    x: gpuTensor(gpu, x, [rows, features]),
    gamma: gpuTensor(gpu, gamma, [features]),
    beta: gpuTensor(gpu, beta, [features]),
    dy: gpuTensor(gpu, dy, [rows, features]),
    y: poisoned(gpu, [rows, features]),
    mean: poisoned(gpu, [rows]),
    rstd: poisoned(gpu, [rows]),
    dx: poisoned(gpu, [rows, features]),
    dGamma: poisoned(gpu, [features]),
    dBeta: poisoned(gpu, [features]),
  };
  await runNow(gpu, [
    ...await layerNormForward(gpu, { ...t, rows, features, eps: 1e-5 }),
    ...await layerNormBackward(gpu, { ...t, rows, features }),
  ]);
  const what = `layernorm ${rows}x${features}`;
  const ref = reference(x, gamma, beta, features);
  assertClose(await read(gpu, t.y), ref.y, 1e-5, `${what} y`, rng.seed);
  // Rounding of the summed values (up to ~10) shows relative to means of ~2.
  assertClose(await read(gpu, t.mean), ref.mean, 1e-5, `${what} mean`, rng.seed);
  assertClose(await read(gpu, t.rstd), ref.rstd, 1e-5, `${what} rstd`, rng.seed);

  const grads = referenceGradients(x, gamma, beta, dy, features);
  const objective = (xv: Float64Array, g: Float64Array, b: Float64Array) =>
    dot(reference(xv, g, b, features).y, dy);
  assertGradientMatchesFD((v) => objective(v, gamma, beta), x, grads.dx, rng, `${what} f64 dx`);
  assertGradientMatchesFD((v) => objective(x, v, beta), gamma, grads.dGamma, rng, `${what} f64 dG`);
  assertGradientMatchesFD((v) => objective(x, gamma, v), beta, grads.dBeta, rng, `${what} f64 dB`);
  // Sums of products over up to a few hundred terms: allow a little more than one rounding.
  assertClose(await read(gpu, t.dx), grads.dx, 2e-5, `${what} dx`, rng.seed);
  assertClose(await read(gpu, t.dGamma), grads.dGamma, 2e-5, `${what} dGamma`, rng.seed);
  assertClose(await read(gpu, t.dBeta), grads.dBeta, 2e-5, `${what} dBeta`, rng.seed);

  await runNow(gpu, await layerNormBackward(gpu, { ...t, rows, features, accumulateDx: true }));
  assertClose(await read(gpu, t.dx), grads.dx.map((g) => 2 * g), 2e-5, `${what} dx +=`, rng.seed);
  assertClose(await read(gpu, t.dBeta), grads.dBeta, 2e-5, `${what} dBeta again`, rng.seed);
}

Deno.test("layer norm forward and backward match float64 and finite differences", async () => {
  const rng = makeRng();
  await checkLayerNorm(rng, 13, 37);
  // More features than a reduction workgroup has invocations.
  await checkLayerNorm(rng, 5, 301);
  // Features a multiple of 4: llvmpipe's mirror kernels (a texel is four features).
  await checkLayerNorm(rng, 9, 96);
  await checkLayerNorm(rng, 6, 8);
});
