import { PROFILES, withProfile } from "../../gpu/runtime/device.ts";
import type { BackendProfile } from "../../gpu/runtime/profile.ts";
import { groupNormBackward, groupNormForward } from "../../gpu/ops/group_norm.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
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

interface Shape {
  batch: number;
  channels: number;
  spatial: number;
  groups: number;
  eps: number;
  silu: boolean;
}

const silu = (v: number) => v / (1 + Math.exp(-v));
const siluGrad = (v: number) => {
  const s = 1 / (1 + Math.exp(-v));
  return s * (1 + v * (1 - s));
};

/** Float64 GroupNorm: y, and z = the affine output before the optional SiLU. */
function reference(x: Float64Array, gamma: Float64Array, beta: Float64Array, sh: Shape) {
  const { batch, channels, spatial, groups, eps } = sh;
  const n = (channels / groups) * spatial;
  const y = new Float64Array(x.length);
  const z = new Float64Array(x.length);
  const xhat = new Float64Array(x.length);
  const mean = new Float64Array(batch * groups);
  const rstd = new Float64Array(batch * groups);
  for (let bg = 0; bg < batch * groups; bg++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[bg * n + i];
    const mu = s / n;
    let q = 0;
    for (let i = 0; i < n; i++) q += (x[bg * n + i] - mu) ** 2;
    const r = 1 / Math.sqrt(q / n + eps);
    mean[bg] = mu;
    rstd[bg] = r;
    for (let i = 0; i < n; i++) {
      const k = bg * n + i;
      const c = (bg % groups) * (channels / groups) + Math.floor(i / spatial);
      xhat[k] = (x[k] - mu) * r;
      z[k] = xhat[k] * gamma[c] + beta[c];
      y[k] = sh.silu ? silu(z[k]) : z[k];
    }
  }
  return { y, z, xhat, mean, rstd };
}

/** Float64 analytic gradients of sum(y * r). */
function referenceGradients(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  r: Float64Array,
  sh: Shape,
) {
  const { channels, spatial, groups } = sh;
  const { z, xhat, rstd } = reference(x, gamma, beta, sh);
  const n = (channels / groups) * spatial;
  const dz = r.map((v, k) => (sh.silu ? v * siluGrad(z[k]) : v));
  const dx = new Float64Array(x.length);
  const dGamma = new Float64Array(channels);
  const dBeta = new Float64Array(channels);
  for (let k = 0; k < x.length; k++) {
    const c = Math.floor(k / spatial) % channels;
    dGamma[c] += dz[k] * xhat[k];
    dBeta[c] += dz[k];
  }
  for (let bg = 0; bg < rstd.length; bg++) {
    let m1 = 0;
    let m2 = 0;
    const channelOf = (i: number) => (bg % groups) * (channels / groups) + Math.floor(i / spatial);
    for (let i = 0; i < n; i++) {
      const g = dz[bg * n + i] * gamma[channelOf(i)];
      m1 += g / n;
      m2 += (g * xhat[bg * n + i]) / n;
    }
    for (let i = 0; i < n; i++) {
      const k = bg * n + i;
      dx[k] = rstd[bg] * (dz[k] * gamma[channelOf(i)] - m1 - xhat[k] * m2);
    }
  }
  return { dx, dGamma, dBeta };
}

/**
 * Every profile, so both reducers: one invocation per group (llvmpipe) and one workgroup per group
 * (discrete GPUs); llvmpipe's with its mirror kernels (where the shape allows them) and with the
 * buffer kernels they replaced.
 */
async function checkGroupNorm(rng: Rng, sh: Shape, offset = 0) {
  for (const profile of PROFILES) {
    await checkReducer(rng, sh, offset, profile, true);
    if (profile.groupNorm.reducer === "invocation") {
      await checkReducer(rng, sh, offset, profile, false);
    }
  }
}

async function checkReducer(
  rng: Rng,
  sh: Shape,
  offset: number,
  profile: BackendProfile,
  mirrors: boolean,
) {
  const gpu = withProfile(await getGpu(), profile);
  const { batch, channels, spatial, groups } = sh;
  const size = batch * channels * spatial;
  const x = randn(rng, size, 2).map((v) => Math.fround(v + offset));
  const gamma = randn(rng, channels).map((v) => Math.fround(1 + 0.5 * v));
  const beta = randn(rng, channels, 0.5);
  const r = randn(rng, size);
  const shape = [batch, channels, spatial];
  const t = {
    x: gpuTensor(gpu, x, shape),
    gamma: gpuTensor(gpu, gamma, [channels]),
    beta: gpuTensor(gpu, beta, [channels]),
    dy: gpuTensor(gpu, r, shape),
    y: poisoned(gpu, shape),
    mean: poisoned(gpu, [batch * groups]),
    rstd: poisoned(gpu, [batch * groups]),
    dx: poisoned(gpu, shape),
    dGamma: poisoned(gpu, [channels]),
    dBeta: poisoned(gpu, [channels]),
  };
  const dims = { batch, channels, spatial, groups, silu: sh.silu, mirrors };
  await runNow(gpu, [
    ...await groupNormForward(gpu, { ...t, ...dims, eps: sh.eps }),
    ...await groupNormBackward(gpu, { ...t, ...dims }),
  ]);
  const reducer = `${profile.groupNorm.reducer} reducer, ${profile.name} profile${
    mirrors ? "" : ", buffer kernels"
  }`;
  const what = `groupnorm [${reducer}] ${JSON.stringify(sh)} offset ${offset}`;
  const ref = reference(x, gamma, beta, sh);
  assertClose(await read(gpu, t.y), ref.y, 1e-5, `${what} y`, rng.seed);
  // The mean of zero-centred data is ~10x smaller than the values summed, and its f32 rounding
  // scales with them: its error is relative to the values (relative to the mean it failed 1 seed
  // in a few hundred, e.g. 1991521637: 1.1e-5).
  const mean = await read(gpu, t.mean);
  const valueScale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const meanError = mean.reduce((m, v, i) => Math.max(m, Math.abs(v - ref.mean[i])), 0) /
    valueScale;
  if (!(meanError <= 1e-5)) {
    throw new Error(
      `${what} mean: error ${meanError} of the values' scale ${valueScale} > 1e-5 (seed ${rng.seed}; ` +
        `got ${[...mean]}, want ${[...ref.mean]})`,
    );
  }
  assertClose(await read(gpu, t.rstd), ref.rstd, 1e-5, `${what} rstd`, rng.seed);

  const grads = referenceGradients(x, gamma, beta, r, sh);
  const objective = (xv: Float64Array, g: Float64Array, b: Float64Array) =>
    dot(reference(xv, g, b, sh).y, r);
  // Finite differences need a smooth neighbourhood: skip the offset case, whose f64 forward is
  // dominated by cancellation at eps = 1e-5 steps.
  if (offset === 0) {
    assertGradientMatchesFD((v) => objective(v, gamma, beta), x, grads.dx, rng, `${what} f64 dx`);
    assertGradientMatchesFD(
      (v) => objective(x, v, beta),
      gamma,
      grads.dGamma,
      rng,
      `${what} f64 dG`,
    );
    assertGradientMatchesFD(
      (v) => objective(x, gamma, v),
      beta,
      grads.dBeta,
      rng,
      `${what} f64 dB`,
    );
  }
  // Sums of products over up to a few hundred terms: allow a little more than one rounding. With an
  // offset, the f32 mean itself is off by up to ulp(300)/2, shifting every xhat by ~1e-5 (torch
  // stores an f32 mean too), and dGamma sums that shift coherently.
  const tol = offset === 0 ? 2e-5 : 1e-4;
  assertClose(await read(gpu, t.dx), grads.dx, tol, `${what} dx`, rng.seed);
  assertClose(await read(gpu, t.dGamma), grads.dGamma, tol, `${what} dGamma`, rng.seed);
  assertClose(await read(gpu, t.dBeta), grads.dBeta, tol, `${what} dBeta`, rng.seed);

  // accumulate: dx += g; parameter gradients are overwritten, not summed.
  await runNow(gpu, await groupNormBackward(gpu, { ...t, ...dims, accumulateDx: true }));
  assertClose(await read(gpu, t.dx), grads.dx.map((g) => 2 * g), tol, `${what} dx +=`, rng.seed);
  assertClose(await read(gpu, t.dGamma), grads.dGamma, tol, `${what} dGamma again`, rng.seed);
}

Deno.test("group norm forward and backward match float64 and finite differences", async () => {
  const rng = makeRng();
  // 5x7 spatial, 3 channels per group, batch 3: no size is a multiple of the workgroup.
  await checkGroupNorm(rng, {
    batch: 3,
    channels: 12,
    spatial: 35,
    groups: 4,
    eps: 1e-5,
    silu: false,
  });
  // Spatial sizes that are multiples of 4 take the vec4 kernels (the UNet's 16x16, 8x8, 4x4).
  await checkGroupNorm(rng, {
    batch: 2,
    channels: 12,
    spatial: 16,
    groups: 3,
    eps: 1e-5,
    silu: false,
  });
  await checkGroupNorm(rng, {
    batch: 3,
    channels: 8,
    spatial: 64,
    groups: 2,
    eps: 1e-5,
    silu: false,
  });
  // Groups larger than a workgroup (8 channels x 13 = 104 values) and a different eps.
  await checkGroupNorm(rng, {
    batch: 2,
    channels: 16,
    spatial: 13,
    groups: 2,
    eps: 1e-6,
    silu: false,
  });
});

Deno.test("group norm with fused SiLU matches float64 and finite differences", async () => {
  const rng = makeRng();
  await checkGroupNorm(rng, {
    batch: 3,
    channels: 12,
    spatial: 35,
    groups: 4,
    eps: 1e-5,
    silu: true,
  });
  await checkGroupNorm(rng, {
    batch: 1,
    channels: 7,
    spatial: 9,
    groups: 7,
    eps: 1e-5,
    silu: true,
  });
  await checkGroupNorm(rng, {
    batch: 2,
    channels: 12,
    spatial: 16,
    groups: 4,
    eps: 1e-5,
    silu: true,
  });
});

Deno.test("group norm stays accurate when the mean dwarfs the spread", async () => {
  // Data around 300 with std 2: a one-pass E[x^2] - E[x]^2 in f32 would lose most digits here
  // (the kernels sum offsets from the group's first value instead).
  const rng = makeRng();
  await checkGroupNorm(rng, {
    batch: 2,
    channels: 8,
    spatial: 25,
    groups: 4,
    eps: 1e-5,
    silu: false,
  }, 300);
  await checkGroupNorm(rng, {
    batch: 2,
    channels: 8,
    spatial: 36,
    groups: 4,
    eps: 1e-5,
    silu: true,
  }, 300);
});
