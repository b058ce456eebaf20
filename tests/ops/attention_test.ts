import {
  attentionBackward,
  attentionForward,
  type AttentionShape,
} from "../../gpu/ops/attention.ts";
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

// Index of element c of head h of token t of batch item b in a [B, N, heads*d] tensor.
function at(s: AttentionShape, b: number, t: number, n: number, h: number, c: number): number {
  return (b * n + t) * s.heads * s.headDim + h * s.headDim + c;
}

// float64 reference forward: probs [B, heads, Nq, Nk], out [B, Nq, heads*d].
function attentionRef(s: AttentionShape, q: Float64Array, k: Float64Array, v: Float64Array) {
  const { batch, heads, queries: nq, keys: nk, headDim: d } = s;
  const probs = new Float64Array(batch * heads * nq * nk);
  const out = new Float64Array(batch * nq * heads * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < nq; i++) {
        const row = ((b * heads + h) * nq + i) * nk;
        let m = -Infinity;
        for (let j = 0; j < nk; j++) {
          let score = 0;
          for (let c = 0; c < d; c++) score += q[at(s, b, i, nq, h, c)] * k[at(s, b, j, nk, h, c)];
          probs[row + j] = score * s.scale;
          m = Math.max(m, probs[row + j]);
        }
        let total = 0;
        for (let j = 0; j < nk; j++) total += probs[row + j] = Math.exp(probs[row + j] - m);
        for (let j = 0; j < nk; j++) probs[row + j] /= total;
        for (let c = 0; c < d; c++) {
          let o = 0;
          for (let j = 0; j < nk; j++) o += probs[row + j] * v[at(s, b, j, nk, h, c)];
          out[at(s, b, i, nq, h, c)] = o;
        }
      }
    }
  }
  return { out, probs };
}

// float64 analytic backward: dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)),
// dQ = dS K scale, dK = dS^T Q scale.
function attentionGradRef(
  s: AttentionShape,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  probs: Float64Array,
  dOut: Float64Array,
) {
  const { batch, heads, queries: nq, keys: nk, headDim: d } = s;
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const dp = new Float64Array(nk);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < nq; i++) {
        const row = ((b * heads + h) * nq + i) * nk;
        let rowdot = 0;
        for (let j = 0; j < nk; j++) {
          dp[j] = 0;
          for (let c = 0; c < d; c++) {
            const o = dOut[at(s, b, i, nq, h, c)];
            dp[j] += o * v[at(s, b, j, nk, h, c)];
            dv[at(s, b, j, nk, h, c)] += probs[row + j] * o;
          }
          rowdot += dp[j] * probs[row + j];
        }
        for (let j = 0; j < nk; j++) {
          const ds = probs[row + j] * (dp[j] - rowdot) * s.scale;
          for (let c = 0; c < d; c++) {
            dq[at(s, b, i, nq, h, c)] += ds * k[at(s, b, j, nk, h, c)];
            dk[at(s, b, j, nk, h, c)] += ds * q[at(s, b, i, nq, h, c)];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

function shapeOf(batch: number, heads: number, queries: number, keys: number, headDim: number) {
  return { batch, heads, queries, keys, headDim, scale: 1 / Math.sqrt(headDim) };
}

interface Case {
  name: string;
  shape: AttentionShape;
  /** Standard deviation of q and k. */
  qkScale: number;
  /** Added to every element of k: shifts each row of scores by q_i . offset (softmax ignores it). */
  keyOffset?: number;
  tol: number;
}

/** Both kernel families where the profile takes the mirror ones (head dimension % 4 == 0). */
async function checkAttention(c: Case, rng: Rng = makeRng()) {
  const mirrored = await checkKernels(c, rng, true);
  await checkKernels({ ...c, name: `${c.name} (buffer kernels)` }, rng, false);
  return mirrored;
}

async function checkKernels(
  { name, shape: s, qkScale, keyOffset = 0, tol }: Case,
  rng: Rng,
  mirrors: boolean,
) {
  const gpu = await getGpu();
  const width = s.heads * s.headDim;
  const qShape = [s.batch, s.queries, width];
  const kShape = [s.batch, s.keys, width];
  const q = randn(rng, s.batch * s.queries * width, qkScale);
  const k = randn(rng, s.batch * s.keys * width, qkScale).map((x) => Math.fround(x + keyOffset));
  const v = randn(rng, s.batch * s.keys * width);
  const r = randn(rng, s.batch * s.queries * width);
  const [qt, kt, vt, rt] = [
    gpuTensor(gpu, q, qShape, "q"),
    gpuTensor(gpu, k, kShape, "k"),
    gpuTensor(gpu, v, kShape, "v"),
    gpuTensor(gpu, r, qShape, "dOut"),
  ];
  const out = poisoned(gpu, qShape, "out");
  const probs = poisoned(gpu, [s.batch, s.heads, s.queries, s.keys], "probs");
  const dq = poisoned(gpu, qShape, "dq");
  const dk = poisoned(gpu, kShape, "dk");
  const dv = poisoned(gpu, kShape, "dv");
  const grads = { q: qt, k: kt, v: vt, probs, dOut: rt, ...s, mirrors };
  await runNow(gpu, [
    ...await attentionForward(gpu, { q: qt, k: kt, v: vt, out, probs, ...s, mirrors }),
    ...await attentionBackward(gpu, { ...grads, dq, dk, dv }),
  ]);

  const ref = attentionRef(s, q, k, v);
  assertClose(await read(gpu, out), ref.out, tol, `${name}: out`, rng.seed);
  assertClose(await read(gpu, probs), ref.probs, tol, `${name}: probs`, rng.seed);

  const g = attentionGradRef(s, q, k, v, ref.probs, r);
  const objective = (qq: Float64Array, kk: Float64Array, vv: Float64Array) =>
    dot(attentionRef(s, qq, kk, vv).out, r);
  assertGradientMatchesFD((x) => objective(x, k, v), q, g.dq, rng, `${name}: float64 dq`);
  assertGradientMatchesFD((x) => objective(q, x, v), k, g.dk, rng, `${name}: float64 dk`);
  assertGradientMatchesFD((x) => objective(q, k, x), v, g.dv, rng, `${name}: float64 dv`);
  assertClose(await read(gpu, dq), g.dq, tol, `${name}: dq`, rng.seed);
  assertClose(await read(gpu, dk), g.dk, tol, `${name}: dk`, rng.seed);
  assertClose(await read(gpu, dv), g.dv, tol, `${name}: dv`, rng.seed);

  // accumulate: gradients add onto arbitrary existing values.
  const base = { dq: randn(rng, q.length), dk: randn(rng, k.length), dv: randn(rng, v.length) };
  const dqAcc = gpuTensor(gpu, base.dq, qShape);
  const dkAcc = gpuTensor(gpu, base.dk, kShape);
  const dvAcc = gpuTensor(gpu, base.dv, kShape);
  await runNow(gpu, [
    ...await attentionBackward(gpu, {
      ...grads,
      dq: dqAcc,
      dk: dkAcc,
      dv: dvAcc,
      accumulate: true,
    }),
  ]);
  const plus = (a: Float64Array, b: Float64Array) => a.map((x, i) => x + b[i]);
  assertClose(await read(gpu, dqAcc), plus(g.dq, base.dq), tol, `${name}: dq +=`, rng.seed);
  assertClose(await read(gpu, dkAcc), plus(g.dk, base.dk), tol, `${name}: dk +=`, rng.seed);
  assertClose(await read(gpu, dvAcc), plus(g.dv, base.dv), tol, `${name}: dv +=`, rng.seed);
  return { gpuDk: await read(gpu, dk), refDk: g.dk, gpuProbs: await read(gpu, probs) };
}

Deno.test("attention, odd sizes (B=2, heads=3, Nq=7, Nk=5, d=6)", async () => {
  await checkAttention({ name: "odd", shape: shapeOf(2, 3, 7, 5, 6), qkScale: 1, tol: 1e-5 });
});

Deno.test("attention, self-attention as in the model (heads=4, N=16, d=8)", async () => {
  await checkAttention({ name: "self", shape: shapeOf(2, 4, 16, 16, 8), qkScale: 1, tol: 1e-5 });
});

Deno.test("attention, the compact preset's heads (heads=4, N=16, d=24)", async () => {
  await checkAttention({
    name: "compact",
    shape: shapeOf(3, 4, 16, 16, 24),
    qkScale: 1,
    tol: 1e-5,
  });
});

Deno.test("attention, cross-attention to one context token: probs 1, dk exactly 0", async () => {
  const rng = makeRng();
  const s = shapeOf(3, 4, 7, 1, 8);
  const { gpuDk, refDk, gpuProbs } = await checkAttention(
    { name: "cross", shape: s, qkScale: 3, tol: 1e-5 },
    rng,
  );
  // softmax over one key is exactly 1 whatever the score, so out = v and k has no influence:
  // dS = P (dP - P dP) = 0 exactly, in float64 and (dP is stored, then reused) on the GPU.
  if (gpuProbs.some((p) => p !== 1)) throw new Error(`cross: probs not exactly 1 (${rng.seed})`);
  if (refDk.some((g) => g !== 0)) throw new Error(`cross: float64 dk not 0 (seed ${rng.seed})`);
  if (gpuDk.some((g) => g !== 0)) throw new Error(`cross: GPU dk not 0 (seed ${rng.seed})`);
});

// A key offset of 100 shifts each row of scores by ~N(0, 100²): past f32's exp() range (±88)
// in many rows unless the row max is subtracted. With |k| ~ 100 each score carries an f32
// rounding error of ~1e-5 absolute, which exp() turns into that much relative error in probs, and
// dq = scale Σ_j dS_ij k_j cancels the common offset (Σ_j dS_ij = 0): tolerance 2e-4.
Deno.test("attention is stable for large scores", async () => {
  await checkAttention({
    name: "large",
    shape: shapeOf(2, 3, 5, 7, 6),
    qkScale: 1,
    keyOffset: 100,
    tol: 2e-4,
  });
});
