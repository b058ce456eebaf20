// The Fréchet distance on cases with known answers: identical sets give 0, Gaussians with
// diagonal, rotated and general 2x2 covariances give their closed forms.
import { ok } from "node:assert/strict";
import {
  featureFid,
  fitGaussian,
  frechetDistance,
  type Gaussian,
  sqrtPsd,
  symmetricEigen,
} from "../../gpu/eval/fid.ts";
import { makeRng } from "../util.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

const gaussian = (mean: number[], cov: number[]): Gaussian => ({
  dim: mean.length,
  mean: Float64Array.from(mean),
  cov: Float64Array.from(cov),
  count: 100,
});

Deno.test("FID: identical feature sets give 0, in 64 dimensions with fewer samples than that", () => {
  const rng = makeRng();
  for (const [count, dim] of [[500, 8], [40, 64], [64, 64]]) {
    const x = Float32Array.from({ length: count * dim }, () => rng.normal() * 3 + 1);
    const fid = featureFid({ features: x, count }, { features: x, count }, dim);
    // The traces are ~9 dim; what is left is rounding.
    ok(fid >= 0 && fid < 1e-8 * 9 * dim, `${count}x${dim}: FID ${fid} (seed ${rng.seed})`);
  }
});

Deno.test("FID: closed forms (1-D, diagonal, rotated, and a general 2x2 pair)", () => {
  // 1-D: (m1 - m2)^2 + (s1 - s2)^2.
  close(frechetDistance(gaussian([1], [4]), gaussian([3], [9])), 4 + 1, 1e-12, "1-D");
  // Diagonal: |dm|^2 + sum (sqrt a - sqrt b)^2.
  const a = [1, 4, 9, 0.25], b = [4, 4, 1, 1];
  const diag = (v: number[]) => v.flatMap((x, i) => v.map((_, j) => (i === j ? x : 0)));
  const expected = 1 + a.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(b[i])) ** 2, 0);
  close(
    frechetDistance(gaussian([1, 0, 0, 0], diag(a)), gaussian([0, 0, 0, 0], diag(b))),
    expected,
    1e-12,
    "diagonal",
  );
  // The same pair in a rotated basis (commuting covariances): the same distance.
  const t = 0.7, c = Math.cos(t), s = Math.sin(t);
  const rotate = (d: number[]) => {
    const r = [c, -s, s, c];
    const m = [0, 0, 0, 0];
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        for (let k = 0; k < 2; k++) m[i * 2 + j] += r[i * 2 + k] * d[k] * r[j * 2 + k];
      }
    }
    return m;
  };
  close(
    frechetDistance(gaussian([0, 0], rotate([2, 5])), gaussian([0, 0], rotate([7, 1]))),
    (Math.sqrt(2) - Math.sqrt(7)) ** 2 + (Math.sqrt(5) - 1) ** 2,
    1e-12,
    "rotated",
  );
  // Non-commuting 2x2: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) for M = S1^1/2 S2 S1^1/2, whose trace
  // and determinant are those of S1 S2.
  const s1 = [2, 0.5, 0.5, 1], s2 = [1, -0.3, -0.3, 3];
  const p = [s1[0] * s2[0] + s1[1] * s2[2], 0, 0, s1[2] * s2[1] + s1[3] * s2[3]];
  const trP = p[0] + p[3];
  const det = (m: number[]) => m[0] * m[3] - m[1] * m[2];
  const trSqrt = Math.sqrt(trP + 2 * Math.sqrt(det(s1) * det(s2)));
  const want = 1 + 4 + (s1[0] + s1[3]) + (s2[0] + s2[3]) - 2 * trSqrt;
  close(frechetDistance(gaussian([1, 2], s1), gaussian([0, 0], s2)), want, 1e-12, "general 2x2");
});

Deno.test("FID: fitGaussian is numpy's mean and np.cov; equal weights change nothing", () => {
  const x = Float64Array.of(1, 2, 3, 6, 5, 10);
  const g = fitGaussian(x, 3, 2);
  close(g.mean[0], 3, 1e-15, "mean 0");
  close(g.mean[1], 6, 1e-15, "mean 1");
  // np.cov([[1, 3, 5], [2, 6, 10]]) = [[4, 8], [8, 16]]
  [4, 8, 8, 16].forEach((v, i) => close(g.cov[i], v, 1e-14, `cov ${i}`));
  const w = fitGaussian(x, 3, 2, [2, 2, 2]);
  g.cov.forEach((v, i) => close(w.cov[i], v, 1e-14, `weighted cov ${i}`));
  // Weights that favour one class: the mean moves to it.
  const tilted = fitGaussian(x, 3, 2, [1, 1, 2]);
  close(tilted.mean[0], (1 + 3 + 2 * 5) / 4, 1e-15, "weighted mean");
});

Deno.test("FID: eigendecomposition and square root reconstruct their matrix", () => {
  const rng = makeRng();
  const n = 12;
  const b = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) a[i * n + j] += b[i * n + k] * b[j * n + k];
    }
  }
  const { values, vectors: v } = symmetricEigen(a, n);
  const root = sqrtPsd(a, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let re = 0, sq = 0;
      for (let k = 0; k < n; k++) {
        re += v[i * n + k] * values[k] * v[j * n + k];
        sq += root[i * n + k] * root[k * n + j];
      }
      close(re, a[i * n + j], 1e-10, `V L V^T [${i},${j}] (seed ${rng.seed})`);
      close(sq, a[i * n + j], 1e-10, `sqrt^2 [${i},${j}] (seed ${rng.seed})`);
    }
  }
});
