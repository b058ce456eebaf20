// diffusers' UNet2DConditionModel as an explicit sequence of dispatches, for one batch size: every
// activation the backward needs is allocated once, every Dispatch is built once, and a step records
// `forward` (then `backward`) into one compute pass.
//   sample [B, in, H, W], timesteps f32 [B], encoder_hidden_states [B, S, encoder_hid_dim]
//   -> output [B, out, H, W];  backward: dOutput -> every parameter gradient, dSample,
//   dEncoderHiddenStates.
import { siluBackward, siluForward } from "../ops/activation.ts";
import type { Gpu } from "../runtime/device.ts";
import { concatChannels, copyTensor, splitChannels } from "../ops/elementwise.ts";
import type { Dispatch } from "../runtime/kernel.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import { createTensor, type Tensor, tensorView } from "../runtime/tensor.ts";
import { timestepEmbedding } from "../ops/timestep_embedding.ts";
import { ModelBuilder } from "./builder.ts";
import type { UNetConfig } from "./config.ts";
import { createParamStore, type ParamStore, unetParamSpecs } from "./params.ts";
import { type UNetPlan, unetPlan } from "./plan.ts";
import { conv, downsample, groupNorm, resnetBlock, type TimeContext, upsample } from "./resnet.ts";
import { type Context, transformer2d } from "./transformer.ts";

export interface UNetOptions {
  batch: number;
  /** Image size; default config.sample_size. */
  height?: number;
  width?: number;
  /** Tokens of encoder_hidden_states per item (1 for a class embedding). */
  contextLength?: number;
  /** Dropout on (needs `seed`); false for sampling and for the fixture (its dropout is 0). */
  training: boolean;
  /** u32 [2] = [seed, step] (gpu/runtime/random.ts), read by the dropout kernels. */
  seed?: Tensor;
  /**
   * First random stream of the ResNet dropouts (one per ResNet, counting up); default
   * UNET_DROPOUT_STREAM_BASE, far above the streams the trainer uses for noise and timesteps.
   */
  dropoutStreamBase?: number;
  /** Build the backward list and gradient buffers (default true). */
  withBackward?: boolean;
  /** Share parameters with another UNet instance (e.g. a sampler at another batch size). */
  params?: ParamStore;
  /**
   * Classifier-free guidance's batch: items B/2.. are items 0..B/2-1 again (same sample, same
   * timestep) under another context. The layers before the context is first read (conv_in and
   * the down blocks without attention) then run on the first half only and their outputs are
   * copied into both halves: `sample` holds B/2 items. Sampling only (no training, no backward).
   */
  sharedPrefix?: boolean;
}

export interface UNet {
  config: UNetConfig;
  plan: UNetPlan;
  batch: number;
  params: ParamStore;
  /**
   * Inputs, written by the caller (or by other dispatches) before `forward` runs; `sample` is
   * [B, in, H, W], or [B/2, in, H, W] with `sharedPrefix`.
   */
  sample: Tensor;
  timesteps: Tensor;
  encoderHiddenStates: Tensor;
  output: Tensor;
  /** d loss / d output: written by the loss before `backward` runs. */
  dOutput: Tensor;
  dSample: Tensor;
  dEncoderHiddenStates: Tensor;
  /** `prepare`, then the layers: a complete forward pass. */
  forward: Dispatch[];
  /**
   * The weight packs of forward and backward (ModelBuilder's `prepare`): run once, then
   * `forwardPrepared` any number of times while the parameters stay as they are (sampling).
   */
  prepare: Dispatch[];
  forwardPrepared: Dispatch[];
  backward: Dispatch[];
  /** Device memory this instance allocated besides the parameters (inputs not counted). */
  memoryBytes: { activations: number; gradients: number };
  /** Outputs of diffusers' modules by path ("down_blocks.0.resnets.0", ...), see the fixture. */
  activations: Map<string, Tensor>;
}

/** Random streams (gpu/runtime/random.ts) from here up belong to the UNet's dropouts. */
export const UNET_DROPOUT_STREAM_BASE = 0x10000;

export async function buildUNet(gpu: Gpu, config: UNetConfig, options: UNetOptions): Promise<UNet> {
  const plan = unetPlan(config);
  const B = options.batch;
  const H = options.height ?? config.sample_size;
  const W = options.width ?? config.sample_size;
  if (!H || !W) throw new Error("buildUNet: no image size (config.sample_size is null)");
  const levels = config.block_out_channels.length - 1;
  if (H % 2 ** levels || W % 2 ** levels) {
    throw new Error(`buildUNet: ${H}x${W} is not divisible by 2^${levels}`);
  }
  const S = options.contextLength ?? 1;
  const withBackward = options.withBackward ?? true;
  const params = options.params ?? createParamStore(gpu, unetParamSpecs(config));
  const m = new ModelBuilder(gpu, params, {
    batch: B,
    training: options.training,
    seed: options.seed,
    withBackward,
    label: "unet",
    streamBase: options.dropoutStreamBase ?? UNET_DROPOUT_STREAM_BASE,
  });
  const shared = options.sharedPrefix ?? false;
  if (shared && (options.training || withBackward || B % 2)) {
    throw new Error("buildUNet: a shared prefix is for sampling (even batch, no training)");
  }
  // The builder of the layers that see one half of the batch (the whole of it without sharing).
  const prefix = shared
    ? new ModelBuilder(gpu, params, { ...m.options, batch: B / 2, label: "unet.prefix" })
    : m;

  const sample = createTensor(gpu, [prefix.batch, config.in_channels, H, W], "f32", "unet.sample");
  const timesteps = createTensor(gpu, [B], "f32", "unet.timesteps");
  const encoderHiddenStates = createTensor(
    gpu,
    [B, S, plan.encoderInputDim],
    "f32",
    "unet.encoder_hidden_states",
  );
  const dOutput = createTensor(gpu, [B, config.out_channels, H, W], "f32", "unet.dOutput");

  const time = await timeEmbedding(m, plan, timesteps);
  const context = await encoderProjection(m, plan, encoderHiddenStates, S);
  const prefixAt = m.forward.length;
  const norm = { groups: config.norm_num_groups, eps: config.norm_eps };
  const dropout = config.dropout;
  const c0 = config.block_out_channels[0];

  // b builds the current layer: `prefix` until the context is first read, `m` from there on.
  let b = prefix;
  const halfTime = shared
    ? { ...time, tembAct: tensorView(time.tembAct, 0, [B / 2, time.dim]) }
    : time;
  let h = await conv(b, "conv_in", sample, conv3(b.batch, config.in_channels, c0, H, W), "conv_in");
  b.activations.set("conv_in", h);
  let height = H;
  let width = W;
  const skips: { t: Tensor; channels: number }[] = [{ t: h, channels: c0 }];
  let channels = c0;
  // The first half's activations copied into both halves of whole-batch ones.
  const joinHalves = async () => {
    if (b === m) return;
    const whole = new Map<Tensor, Tensor>();
    for (const s of skips) whole.set(s.t, await bothHalves(m, s.t));
    if (!whole.has(h)) whole.set(h, await bothHalves(m, h));
    for (const s of skips) s.t = whole.get(s.t)!;
    h = whole.get(h)!;
    for (const [name, t] of prefix.activations) m.activations.set(name, t);
    b = m;
  };

  for (const block of plan.down) {
    if (block.attentions.some(Boolean)) await joinHalves();
    for (let j = 0; j < block.resnets.length; j++) {
      const r = block.resnets[j];
      h = await resnetBlock(b, r, h, height, width, b === m ? time : halfTime, norm, dropout);
      b.activations.set(r.prefix, h);
      channels = r.outChannels;
      const a = block.attentions[j];
      if (a) {
        h = await transformer2d(m, a, h, height, width, context, norm.groups);
        m.activations.set(a.prefix, h);
      }
      skips.push({ t: h, channels });
    }
    if (block.downsample) {
      h = await downsample(b, block.downsample.prefix, h, channels, height, width);
      b.activations.set(block.downsample.prefix, h);
      height /= 2;
      width /= 2;
      skips.push({ t: h, channels });
    }
  }

  await joinHalves();
  const mid = plan.mid;
  h = await resnetBlock(m, mid.resnets[0], h, height, width, time, norm, dropout);
  m.activations.set(mid.resnets[0].prefix, h);
  for (let j = 0; j < mid.attentions.length; j++) {
    h = await transformer2d(m, mid.attentions[j], h, height, width, context, norm.groups);
    m.activations.set(mid.attentions[j].prefix, h);
    h = await resnetBlock(m, mid.resnets[j + 1], h, height, width, time, norm, dropout);
    m.activations.set(mid.resnets[j + 1].prefix, h);
  }

  for (const block of plan.up) {
    for (let j = 0; j < block.resnets.length; j++) {
      const r = block.resnets[j];
      const skip = skips.pop()!;
      if (skip.channels !== r.skipChannels) {
        throw new Error(`${r.prefix}: skip has ${skip.channels} channels, plan ${r.skipChannels}`);
      }
      const cat = await concat(m, h, channels, skip.t, skip.channels, height * width, r.prefix);
      h = await resnetBlock(m, r, cat, height, width, time, norm, dropout);
      m.activations.set(r.prefix, h);
      channels = r.outChannels;
      const a = block.attentions[j];
      if (a) {
        h = await transformer2d(m, a, h, height, width, context, norm.groups);
        m.activations.set(a.prefix, h);
      }
    }
    if (block.upsample) {
      h = await upsample(m, block.upsample.prefix, h, channels, height, width);
      m.activations.set(block.upsample.prefix, h);
      height *= 2;
      width *= 2;
    }
  }

  // conv_norm_out + SiLU fused: the stored activation is silu(conv_norm_out(h)).
  const normed = await groupNorm(
    m,
    "conv_norm_out",
    h,
    c0,
    H * W,
    { ...norm, silu: true },
    "conv_norm_out",
  );
  m.activations.set("conv_norm_out.silu", normed);
  const output = await conv(
    m,
    "conv_out",
    normed,
    conv3(B, c0, config.out_channels, H, W),
    "conv_out",
  );
  m.activations.set("conv_out", output);

  m.setGrad(output, dOutput);
  m.accumulate(output);
  const dSample = m.grad(sample);
  const dEncoderHiddenStates = m.grad(encoderHiddenStates);
  await m.buildBackward();
  const prepare = shared ? [...prefix.prepare, ...m.prepare] : m.prepare;
  // The prefix's layers run after the time embedding (they read it) and before its copies.
  const forwardPrepared = shared
    ? [...m.forward.slice(0, prefixAt), ...prefix.forward, ...m.forward.slice(prefixAt)]
    : m.forward;

  return {
    config,
    plan,
    batch: B,
    params,
    sample,
    timesteps,
    encoderHiddenStates,
    output,
    dOutput,
    dSample,
    dEncoderHiddenStates,
    forward: [...prepare, ...forwardPrepared],
    prepare,
    forwardPrepared,
    backward: m.backward,
    activations: m.activations,
    memoryBytes: {
      activations: m.bytes.activations + (shared ? prefix.bytes.activations : 0),
      gradients: m.bytes.gradients,
    },
  };
}

/** [B/2, ...] into both halves of a new [B, ...] activation: two copy steps. */
async function bothHalves(m: ModelBuilder, half: Tensor): Promise<Tensor> {
  const whole = m.act([m.batch, ...half.shape.slice(1)], `${half.label}.both`);
  const bytes = 4 * half.size;
  for (const at of [0, bytes]) {
    // A copy needs 4-byte offsets only, not a binding's 256: a view made for the copy alone.
    const target = { ...whole, shape: half.shape, size: half.size, offset: whole.offset + at };
    await m.emit(Promise.resolve(copyTensor({ x: half, y: target })));
  }
  return whole;
}

function conv3(
  batch: number,
  inChannels: number,
  outChannels: number,
  height: number,
  width: number,
) {
  return { batch, inChannels, outChannels, height, width, kernel: 3 as const, stride: 1 as const };
}

/** time_proj (sinusoidal) -> linear_1 -> SiLU -> linear_2; every ResNet gets silu(temb). */
async function timeEmbedding(
  m: ModelBuilder,
  plan: UNetPlan,
  timesteps: Tensor,
): Promise<TimeContext> {
  const B = m.batch;
  const gpu = m.gpu;
  const c = plan.config;
  const T = plan.timeEmbedDim;
  const proj = m.act([B, plan.timeProjDim], "time_proj");
  await m.emit(timestepEmbedding(gpu, {
    timesteps,
    out: proj,
    batch: B,
    dim: plan.timeProjDim,
    flipSinToCos: c.flip_sin_to_cos,
    shift: c.freq_shift,
  }));
  const e1 = m.act([B, T], "time_embedding.linear_1");
  const e1s = m.act([B, T], "time_embedding.act");
  const temb = m.act([B, T], "time_embedding");
  const tembAct = m.act([B, T], "time_embedding.silu");
  const l1 = m.param("time_embedding.linear_1.weight");
  const l2 = m.param("time_embedding.linear_2.weight");
  const s1 = { rows: B, inFeatures: plan.timeProjDim, outFeatures: T };
  const s2 = { rows: B, inFeatures: T, outFeatures: T };
  await m.emit(linearForward(gpu, {
    x: proj,
    weight: l1,
    bias: m.param("time_embedding.linear_1.bias"),
    y: e1,
    ...s1,
  }));
  await m.emit(siluForward(gpu, e1, e1s));
  await m.emit(linearForward(gpu, {
    x: e1s,
    weight: l2,
    bias: m.param("time_embedding.linear_2.bias"),
    y: temb,
    ...s2,
  }));
  await m.emit(siluForward(gpu, temb, tembAct));
  m.activations.set("time_proj", proj);
  m.activations.set("time_embedding", temb);
  m.onBackward(async () => {
    // Every ResNet has added its share into grad(tembAct) by now.
    const dTemb = m.scratch("time.dTemb", [B, T]);
    const dE1s = m.scratch("time.dE1s", [B, T]);
    const dE1 = m.scratch("time.dE1", [B, T]);
    await m.emitBackward(siluBackward(gpu, temb, m.grad(tembAct), dTemb));
    await m.emitBackward(linearBackward(gpu, {
      x: e1s,
      weight: l2,
      dy: dTemb,
      dx: dE1s,
      dWeight: m.paramGrad("time_embedding.linear_2.weight"),
      dBias: m.paramGrad("time_embedding.linear_2.bias"),
      ...s2,
    }));
    await m.emitBackward(siluBackward(gpu, e1, dE1s, dE1));
    await m.emitBackward(linearBackward(gpu, {
      x: proj,
      weight: l1,
      dy: dE1,
      dWeight: m.paramGrad("time_embedding.linear_1.weight"),
      dBias: m.paramGrad("time_embedding.linear_1.bias"),
      ...s1,
    }));
  });
  return { tembAct, dim: T };
}

/** encoder_hid_proj ("text_proj"): Linear(encoder_hid_dim, cross_attention_dim) on every token. */
async function encoderProjection(
  m: ModelBuilder,
  plan: UNetPlan,
  states: Tensor,
  length: number,
): Promise<Context> {
  if (!plan.hasEncoderHidProj) return { tokens: states, length, dim: plan.contextDim };
  const B = m.batch;
  const tokens = m.act([B, length, plan.contextDim], "encoder_hid_proj");
  const weight = m.param("encoder_hid_proj.weight");
  const shape = {
    rows: B * length,
    inFeatures: plan.encoderInputDim,
    outFeatures: plan.contextDim,
  };
  await m.emit(linearForward(m.gpu, {
    x: states,
    weight,
    bias: m.param("encoder_hid_proj.bias"),
    y: tokens,
    ...shape,
  }));
  m.activations.set("encoder_hid_proj", tokens);
  m.onBackward(async () => {
    await m.emitBackward(linearBackward(m.gpu, {
      x: states,
      weight,
      dy: m.grad(tokens),
      dx: m.grad(states),
      dWeight: m.paramGrad("encoder_hid_proj.weight"),
      dBias: m.paramGrad("encoder_hid_proj.bias"),
      accumulateDx: m.accumulate(states),
      ...shape,
    }));
  });
  return { tokens, length, dim: plan.contextDim };
}

/** torch.cat([current, skip], dim=1). */
async function concat(
  m: ModelBuilder,
  current: Tensor,
  channelsA: number,
  skip: Tensor,
  channelsB: number,
  spatial: number,
  label: string,
): Promise<Tensor> {
  const B = m.batch;
  const out = m.act([B, channelsA + channelsB, spatial], `${label}.cat`);
  const shape = { batch: B, channelsA, channelsB, spatial };
  await m.emit(concatChannels(m.gpu, { a: current, b: skip, out, ...shape }));
  m.onBackward(async () => {
    const accA = m.accumulate(current);
    const accB = m.accumulate(skip);
    if (accA === accB) {
      await m.emitBackward(splitChannels(m.gpu, {
        dOut: m.grad(out),
        da: m.grad(current),
        db: m.grad(skip),
        accumulate: accA,
        ...shape,
      }));
      return;
    }
    // One accumulate flag serves both halves; route the fresh half through the other's mode.
    throw new Error(`${label}: skip and current gradients disagree on accumulation`);
  });
  return out;
}
