// diffusers' Transformer2DModel (use_linear_projection false) with its BasicTransformerBlocks,
// forward and backward:
//   n = GroupNorm(x) (eps 1e-6) -> 1x1 conv proj_in -> tokens [B, HW, C]
//   per block: t += attn1(LN1(t)); t += attn2(LN2(t), context); t += ff(LN3(t))   (LN eps 1e-5)
//   out = proj_out(t) (1x1 conv, back to NCHW) + x
// A 1x1 conv on NCHW equals a linear layer on the tokens, so the transpose to tokens happens once,
// right after the GroupNorm, and proj_in / proj_out run as linear layers.
import { attentionBackward, attentionForward } from "../ops/attention.ts";
import { gegluBackward, gegluForward } from "../ops/activation.ts";
import { add, addInto, transpose } from "../ops/elementwise.ts";
import { layerNormBackward, layerNormForward } from "../ops/layer_norm.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import type { Tensor } from "../runtime/tensor.ts";
import type { ModelBuilder } from "./builder.ts";
import type { TransformerPlan } from "./plan.ts";
import { groupNorm } from "./resnet.ts";

const TRANSFORMER_GROUP_NORM_EPS = 1e-6;
const LAYER_NORM_EPS = 1e-5;

/** The cross-attention context: [B, S, contextDim] tokens, the same for every block. */
export interface Context {
  tokens: Tensor;
  length: number;
  dim: number;
}

export async function transformer2d(
  m: ModelBuilder,
  t: TransformerPlan,
  x: Tensor,
  height: number,
  width: number,
  context: Context,
  groups: number,
): Promise<Tensor> {
  const B = m.batch;
  const C = t.channels;
  const N = height * width;
  const gpu = m.gpu;
  const p = t.prefix;

  const n = await groupNorm(
    m,
    `${p}.norm`,
    x,
    C,
    N,
    { groups, eps: TRANSFORMER_GROUP_NORM_EPS, silu: false },
    `${p}.norm`,
  );
  const nT = m.act([B, N, C], `${p}.norm.tokens`);
  await m.emit(transpose(gpu, { x: n, y: nT, batch: B, rows: C, cols: N }));
  m.onBackward(async () => {
    await m.emitBackward(
      transpose(gpu, {
        x: m.grad(nT),
        y: m.grad(n),
        batch: B,
        rows: N,
        cols: C,
        accumulate: m.accumulate(n),
      }),
    );
  });
  let tokens = await linear(m, `${p}.proj_in`, nT, B * N, C, C, `${p}.proj_in`, true);
  for (let l = 0; l < t.layers; l++) {
    tokens = await basicTransformerBlock(m, `${p}.transformer_blocks.${l}`, tokens, t, N, context);
  }
  const pOut = await linear(m, `${p}.proj_out`, tokens, B * N, C, C, `${p}.proj_out.tokens`, true);
  const out = m.act([B, C, height, width], p);
  await m.emit(transpose(gpu, { x: pOut, y: out, batch: B, rows: N, cols: C }));
  await m.emit(addInto(gpu, { x, y: out, accumulate: true }));
  m.onBackward(async () => {
    const dOut = m.grad(out);
    await m.emitBackward(addInto(gpu, { x: dOut, y: m.grad(x), accumulate: m.accumulate(x) }));
    await m.emitBackward(
      transpose(gpu, {
        x: dOut,
        y: m.grad(pOut),
        batch: B,
        rows: C,
        cols: N,
        accumulate: m.accumulate(pOut),
      }),
    );
  });
  return out;
}

/**
 * y = x W^T (+ b) with diffusers' `<prefix>.weight` / `.bias`; `asLinear` reads a [out, in, 1, 1]
 * conv weight as [out, in]. The backward overwrites-or-adds into m.grad(x).
 */
async function linear(
  m: ModelBuilder,
  prefix: string,
  x: Tensor,
  rows: number,
  inFeatures: number,
  outFeatures: number,
  label: string,
  hasBias: boolean,
): Promise<Tensor> {
  const y = m.act([rows, outFeatures], label);
  const weight = m.paramAs(`${prefix}.weight`, [outFeatures, inFeatures]);
  const bias = hasBias ? m.param(`${prefix}.bias`) : undefined;
  const shape = { rows, inFeatures, outFeatures };
  await m.emit(linearForward(m.gpu, { x, weight, bias, y, ...shape }));
  m.onBackward(async () => {
    await m.emitBackward(linearBackward(m.gpu, {
      x,
      weight,
      dy: m.grad(y),
      dx: m.grad(x),
      dWeight: m.paramGradAs(`${prefix}.weight`, [outFeatures, inFeatures]),
      dBias: hasBias ? m.paramGrad(`${prefix}.bias`) : undefined,
      accumulateDx: m.accumulate(x),
      ...shape,
    }));
  });
  return y;
}

async function layerNorm(
  m: ModelBuilder,
  prefix: string,
  x: Tensor,
  rows: number,
  features: number,
): Promise<Tensor> {
  const y = m.act([rows, features], prefix);
  const mean = m.act([rows], `${prefix}.mean`);
  const rstd = m.act([rows], `${prefix}.rstd`);
  const gamma = m.param(`${prefix}.weight`);
  const beta = m.param(`${prefix}.bias`);
  await m.emit(layerNormForward(m.gpu, {
    x,
    gamma,
    beta,
    y,
    mean,
    rstd,
    rows,
    features,
    eps: LAYER_NORM_EPS,
  }));
  m.onBackward(async () => {
    await m.emitBackward(layerNormBackward(m.gpu, {
      x,
      gamma,
      mean,
      rstd,
      dy: m.grad(y),
      dx: m.grad(x),
      dGamma: m.paramGrad(`${prefix}.weight`),
      dBeta: m.paramGrad(`${prefix}.bias`),
      rows,
      features,
      accumulateDx: m.accumulate(x),
    }));
  });
  return y;
}

/** diffusers' Attention with AttnProcessor: to_q/k/v without bias, softmax, to_out with bias. */
async function attention(
  m: ModelBuilder,
  prefix: string,
  hidden: Tensor,
  queries: number,
  kv: Tensor,
  keys: number,
  kvDim: number,
  t: TransformerPlan,
): Promise<Tensor> {
  const B = m.batch;
  const C = t.channels;
  const headDim = C / t.heads;
  const q = await linear(m, `${prefix}.to_q`, hidden, B * queries, C, C, `${prefix}.q`, false);
  const k = await linear(m, `${prefix}.to_k`, kv, B * keys, kvDim, C, `${prefix}.k`, false);
  const v = await linear(m, `${prefix}.to_v`, kv, B * keys, kvDim, C, `${prefix}.v`, false);
  const o = m.act([B, queries, C], `${prefix}.heads`);
  const probs = m.act([B, t.heads, queries, keys], `${prefix}.probs`);
  const shape = { batch: B, heads: t.heads, queries, keys, headDim, scale: 1 / Math.sqrt(headDim) };
  await m.emit(attentionForward(m.gpu, { q, k, v, out: o, probs, ...shape }));
  m.onBackward(async () => {
    await m.emitBackward(attentionBackward(m.gpu, {
      q,
      k,
      v,
      probs,
      dOut: m.grad(o),
      dq: m.grad(q),
      dk: m.grad(k),
      dv: m.grad(v),
      dScores: m.scratch("attention.dScores", [B * t.heads * queries * keys]),
      ...shape,
    }));
    // attentionBackward overwrote all three.
    m.accumulate(q);
    m.accumulate(k);
    m.accumulate(v);
  });
  return linear(m, `${prefix}.to_out.0`, o, B * queries, C, C, prefix, true);
}

/**
 * out = a + b, where b (a sub-layer's output) has no other consumer and a's other consumer (the
 * sub-layer's LayerNorm) is upstream of b. The residual stream's gradient then needs no copies: the
 * backward makes grad(out) the gradient buffer of both a and b, and the LayerNorm's backward, which
 * runs after b's producers have read it, adds into it.
 */
async function residual(m: ModelBuilder, a: Tensor, b: Tensor, label: string): Promise<Tensor> {
  const out = m.act(a.shape, label);
  await m.emit(add(m.gpu, { a, b, out }));
  m.onBackward(() => {
    const dOut = m.grad(out);
    for (const t of [a, b]) {
      if (m.hasGrad(t)) throw new Error(`${label}: residual input already has a gradient`);
      m.setGrad(t, dOut);
      m.accumulate(t);
    }
    return Promise.resolve();
  });
  return out;
}

async function basicTransformerBlock(
  m: ModelBuilder,
  prefix: string,
  t0: Tensor,
  t: TransformerPlan,
  N: number,
  context: Context,
): Promise<Tensor> {
  const B = m.batch;
  const C = t.channels;
  const rows = B * N;
  const ln1 = await layerNorm(m, `${prefix}.norm1`, t0, rows, C);
  const a1 = await attention(m, `${prefix}.attn1`, ln1, N, ln1, N, C, t);
  const t1 = await residual(m, t0, a1, `${prefix}.t1`);
  const ln2 = await layerNorm(m, `${prefix}.norm2`, t1, rows, C);
  const a2 = await attention(
    m,
    `${prefix}.attn2`,
    ln2,
    N,
    context.tokens,
    context.length,
    context.dim,
    t,
  );
  const t2 = await residual(m, t1, a2, `${prefix}.t2`);
  const ln3 = await layerNorm(m, `${prefix}.norm3`, t2, rows, C);
  const f = await linear(
    m,
    `${prefix}.ff.net.0.proj`,
    ln3,
    rows,
    C,
    8 * C,
    `${prefix}.ff.proj`,
    true,
  );
  const g = m.act([rows, 4 * C], `${prefix}.ff.geglu`);
  await m.emit(gegluForward(m.gpu, { x: f, y: g, rows, features: 4 * C }));
  m.onBackward(async () => {
    await m.emitBackward(
      gegluBackward(m.gpu, { x: f, dy: m.grad(g), dx: m.grad(f), rows, features: 4 * C }),
    );
    m.accumulate(f);
  });
  const a3 = await linear(m, `${prefix}.ff.net.2`, g, rows, 4 * C, C, `${prefix}.ff`, true);
  const t3 = await residual(m, t2, a3, prefix);
  m.activations.set(`${prefix}.attn1`, a1);
  m.activations.set(`${prefix}.attn2`, a2);
  m.activations.set(`${prefix}.ff`, a3);
  m.activations.set(prefix, t3);
  return t3;
}
