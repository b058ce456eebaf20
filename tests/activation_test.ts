import { siluBackward, siluForward } from "../gpu/activation.ts";
import { runNow } from "../gpu/kernel.ts";
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
} from "./util.ts";

const silu = (v: number) => v / (1 + Math.exp(-v));
const siluGrad = (v: number) => {
  const s = 1 / (1 + Math.exp(-v));
  return s * (1 + v * (1 - s));
};

Deno.test("silu forward and backward match float64 and finite differences", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 1000 + Math.floor(rng.next() * 37); // not a multiple of the workgroup
  const x = randn(rng, n, 3);
  const r = randn(rng, n);
  const xt = gpuTensor(gpu, x, [n]);
  const rt = gpuTensor(gpu, r, [n]);
  const y = poisoned(gpu, [n]);
  const dx = poisoned(gpu, [n]);
  await runNow(gpu, [await siluForward(gpu, xt, y), await siluBackward(gpu, xt, rt, dx)]);

  assertClose(await read(gpu, y), x.map(silu), 1e-6, "silu forward", rng.seed);
  const analytic = x.map((v, i) => r[i] * siluGrad(v));
  assertGradientMatchesFD((v) => dot(v.map(silu), r), x, analytic, rng, "silu float64 gradient");
  assertClose(await read(gpu, dx), analytic, 1e-6, "silu backward", rng.seed);

  // accumulate: dx += g on top of what is there.
  await runNow(gpu, [await siluBackward(gpu, xt, rt, dx, true)]);
  assertClose(await read(gpu, dx), analytic.map((g) => 2 * g), 1e-6, "silu backward +=", rng.seed);
});
