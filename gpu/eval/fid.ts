// The Fréchet distance between two Gaussians fitted to feature sets (FID, on the sprite classifier's
// features instead of Inception's), in float64:
//   d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1^1/2 S2 S1^1/2)
// The matrix square roots come from symmetric eigendecompositions (cyclic Jacobi), which stay exact
// for the rank-deficient covariances of a few dozen samples in 64 dimensions.

export interface Gaussian {
  dim: number;
  mean: Float64Array;
  /** [dim, dim], row-major. */
  cov: Float64Array;
  /** Samples it was fitted to. */
  count: number;
}

/**
 * Mean and covariance of `count` rows of `dim` features. With `weights` (one per row, >= 0), the
 * weighted mean and the unbiased weighted covariance (divided by 1 - sum w^2 of the normalised
 * weights); without, numpy's np.cov (divided by n - 1).
 */
export function fitGaussian(
  features: ArrayLike<number>,
  count: number,
  dim: number,
  weights?: ArrayLike<number>,
): Gaussian {
  if (count < 2) throw new Error(`fitGaussian: ${count} sample(s); a covariance needs two`);
  const w = new Float64Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) total += w[i] = weights ? weights[i] : 1;
  let sumSq = 0;
  for (let i = 0; i < count; i++) sumSq += (w[i] /= total) ** 2;
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let a = 0; a < dim; a++) mean[a] += w[i] * features[i * dim + a];
  }
  const cov = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let a = 0; a < dim; a++) centred[a] = features[i * dim + a] - mean[a];
    for (let a = 0; a < dim; a++) {
      const wa = w[i] * centred[a];
      for (let b = a; b < dim; b++) cov[a * dim + b] += wa * centred[b];
    }
  }
  const norm = 1 / (1 - sumSq);
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) cov[b * dim + a] = cov[a * dim + b] *= norm;
  }
  return { dim, mean, cov, count };
}

/** Eigenvalues and eigenvectors (columns of `vectors`, row-major [n, n]) of a symmetric matrix. */
export function symmetricEigen(matrix: ArrayLike<number>, n: number) {
  const a = Float64Array.from(matrix as ArrayLike<number>);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(a[i]));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) off = Math.max(off, Math.abs(a[p * n + q]));
    }
    if (off <= 1e-15 * scale || scale === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) <= 1e-300) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan's symmetric Schur decomposition).
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** The PSD square root V diag(sqrt(max(l, 0))) V^T of a symmetric matrix. */
export function sqrtPsd(matrix: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors: v } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k], 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = v[i * n + k] * r;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * v[j * n + k];
    }
  }
  return out;
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

/** The squared Fréchet distance between two Gaussians (0 for identical ones, never negative). */
export function frechetDistance(g1: Gaussian, g2: Gaussian): number {
  const n = g1.dim;
  if (g2.dim !== n) throw new Error(`frechetDistance: dimensions ${n} and ${g2.dim}`);
  let d = 0;
  for (let a = 0; a < n; a++) d += (g1.mean[a] - g2.mean[a]) ** 2;
  let traces = 0;
  for (let a = 0; a < n; a++) traces += g1.cov[a * n + a] + g2.cov[a * n + a];
  const s1 = sqrtPsd(g1.cov, n);
  // S1^1/2 S2 S1^1/2 is symmetric PSD, with the eigenvalues of S1 S2: tr sqrt = sum sqrt(l).
  const m = multiply(multiply(s1, g2.cov, n), s1, n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) m[i * n + j] = m[j * n + i] = (m[i * n + j] + m[j * n + i]) / 2;
  }
  const { values } = symmetricEigen(m, n);
  let cross = 0;
  for (const l of values) cross += Math.sqrt(Math.max(l, 0));
  return Math.max(0, d + traces - 2 * cross);
}

/** FID of two feature sets ([count, dim] each), optionally weighted per row. */
export function featureFid(
  a: { features: ArrayLike<number>; count: number; weights?: ArrayLike<number> },
  b: { features: ArrayLike<number>; count: number; weights?: ArrayLike<number> },
  dim: number,
): number {
  return frechetDistance(
    fitGaussian(a.features, a.count, dim, a.weights),
    fitGaussian(b.features, b.count, dim, b.weights),
  );
}
