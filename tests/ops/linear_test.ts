import { PROFILES, withProfile } from "../../gpu/runtime/device.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { linearBackward, linearForward } from "../../gpu/ops/linear.ts";
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
} from "../util.ts";

/** float64 y = x W^T + b; x [rows, inF], w [outF, inF]. */
function linear(x: Float64Array, w: Float64Array, b: Float64Array, rows: number, inF: number) {
  const outF = b.length;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b[o];
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

for (const profile of PROFILES) {
  const name = `${profile.operands.f32.matmul.technique}, ${profile.name} profile`;
  Deno.test(`linear (${name}) forward and backward match float64 and finite differences`, async () => {
    const gpu = withProfile(await getGpu(), profile);
    const rng = makeRng();
    const rows = 11, inF = 13, outF = 7;
    const shape = { rows, inFeatures: inF, outFeatures: outF };
    const x = randn(rng, rows * inF);
    const w = randn(rng, outF * inF, 0.5);
    const b = randn(rng, outF);
    const r = randn(rng, rows * outF); // objective sum(y * r), so dy = r
    const xt = gpuTensor(gpu, x, [rows, inF]);
    const wt = gpuTensor(gpu, w, [outF, inF]);
    const bt = gpuTensor(gpu, b, [outF]);
    const dy = gpuTensor(gpu, r, [rows, outF]);
    const y = poisoned(gpu, [rows, outF]);
    const dx = poisoned(gpu, [rows, inF]);
    const dW = poisoned(gpu, [outF, inF]);
    const dB = poisoned(gpu, [outF]);
    await runNow(gpu, [
      ...await linearForward(gpu, { ...shape, x: xt, weight: wt, bias: bt, y }),
      ...await linearBackward(gpu, {
        ...shape,
        x: xt,
        weight: wt,
        dy,
        dx,
        dWeight: dW,
        dBias: dB,
      }),
    ]);
    assertClose(await read(gpu, y), linear(x, w, b, rows, inF), 1e-5, "linear forward", rng.seed);

    const gx = new Float64Array(rows * inF), gw = new Float64Array(outF * inF);
    const gb = new Float64Array(outF);
    for (let row = 0; row < rows; row++) {
      for (let o = 0; o < outF; o++) {
        const g = r[row * outF + o];
        gb[o] += g;
        for (let i = 0; i < inF; i++) {
          gx[row * inF + i] += g * w[o * inF + i];
          gw[o * inF + i] += g * x[row * inF + i];
        }
      }
    }
    const f = (xv: Float64Array, wv: Float64Array, bv: Float64Array) =>
      dot(linear(xv, wv, bv, rows, inF), r);
    assertGradientMatchesFD((v) => f(v, w, b), x, gx, rng, "float64 dx");
    assertGradientMatchesFD((v) => f(x, v, b), w, gw, rng, "float64 dW");
    assertGradientMatchesFD((v) => f(x, w, v), b, gb, rng, "float64 db");
    assertClose(await read(gpu, dx), gx, 1e-5, "linear dx", rng.seed);
    assertClose(await read(gpu, dW), gw, 1e-5, "linear dW", rng.seed);
    assertClose(await read(gpu, dB), gb, 1e-5, "linear db", rng.seed);

    // dx accumulates; parameter gradients overwrite.
    await runNow(
      gpu,
      await linearBackward(gpu, {
        ...shape,
        x: xt,
        weight: wt,
        dy,
        dx,
        dWeight: dW,
        dBias: dB,
        accumulateDx: true,
      }),
    );
    assertClose(await read(gpu, dx), gx.map((v) => 2 * v), 1e-5, "linear dx +=", rng.seed);
    assertClose(await read(gpu, dW), gw, 1e-5, "linear dW overwrite", rng.seed);
    assertClose(await read(gpu, dB), gb, 1e-5, "linear db overwrite", rng.seed);
  });
}
