// The UNet's parameters in diffusers' state_dict order with diffusers' names, and their storage:
// every parameter in ONE f32 buffer and every gradient in a second with the same layout, so one
// AdamW dispatch updates the whole model.
import type { Gpu } from "../runtime/device.ts";
import { createTensor, type Tensor, tensorView, upload } from "../runtime/tensor.ts";
import type { UNetConfig } from "./config.ts";
import { type ResnetPlan, type TransformerPlan, unetPlan } from "./plan.ts";

export interface ParamSpec {
  /** diffusers' state_dict key. */
  name: string;
  shape: number[];
}

function resnetParams(r: ResnetPlan, temb: number): ParamSpec[] {
  const { prefix: p, inChannels: cin, outChannels: cout } = r;
  const specs: ParamSpec[] = [
    { name: `${p}.norm1.weight`, shape: [cin] },
    { name: `${p}.norm1.bias`, shape: [cin] },
    { name: `${p}.conv1.weight`, shape: [cout, cin, 3, 3] },
    { name: `${p}.conv1.bias`, shape: [cout] },
    { name: `${p}.time_emb_proj.weight`, shape: [cout, temb] },
    { name: `${p}.time_emb_proj.bias`, shape: [cout] },
    { name: `${p}.norm2.weight`, shape: [cout] },
    { name: `${p}.norm2.bias`, shape: [cout] },
    { name: `${p}.conv2.weight`, shape: [cout, cout, 3, 3] },
    { name: `${p}.conv2.bias`, shape: [cout] },
  ];
  if (cin !== cout) {
    specs.push({ name: `${p}.conv_shortcut.weight`, shape: [cout, cin, 1, 1] });
    specs.push({ name: `${p}.conv_shortcut.bias`, shape: [cout] });
  }
  return specs;
}

function attentionParams(p: string, c: number, kvDim: number): ParamSpec[] {
  return [
    { name: `${p}.to_q.weight`, shape: [c, c] },
    { name: `${p}.to_k.weight`, shape: [c, kvDim] },
    { name: `${p}.to_v.weight`, shape: [c, kvDim] },
    { name: `${p}.to_out.0.weight`, shape: [c, c] },
    { name: `${p}.to_out.0.bias`, shape: [c] },
  ];
}

function transformerParams(t: TransformerPlan): ParamSpec[] {
  const { prefix: p, channels: c } = t;
  const specs: ParamSpec[] = [
    { name: `${p}.norm.weight`, shape: [c] },
    { name: `${p}.norm.bias`, shape: [c] },
    { name: `${p}.proj_in.weight`, shape: [c, c, 1, 1] },
    { name: `${p}.proj_in.bias`, shape: [c] },
  ];
  for (let l = 0; l < t.layers; l++) {
    const b = `${p}.transformer_blocks.${l}`;
    specs.push(
      { name: `${b}.norm1.weight`, shape: [c] },
      { name: `${b}.norm1.bias`, shape: [c] },
      ...attentionParams(`${b}.attn1`, c, c),
      { name: `${b}.norm2.weight`, shape: [c] },
      { name: `${b}.norm2.bias`, shape: [c] },
      ...attentionParams(`${b}.attn2`, c, t.contextDim),
      { name: `${b}.norm3.weight`, shape: [c] },
      { name: `${b}.norm3.bias`, shape: [c] },
      { name: `${b}.ff.net.0.proj.weight`, shape: [8 * c, c] },
      { name: `${b}.ff.net.0.proj.bias`, shape: [8 * c] },
      { name: `${b}.ff.net.2.weight`, shape: [c, 4 * c] },
      { name: `${b}.ff.net.2.bias`, shape: [c] },
    );
  }
  specs.push(
    { name: `${p}.proj_out.weight`, shape: [c, c, 1, 1] },
    { name: `${p}.proj_out.bias`, shape: [c] },
  );
  return specs;
}

function convParams(p: string, cout: number, cin: number, k: number): ParamSpec[] {
  return [
    { name: `${p}.weight`, shape: [cout, cin, k, k] },
    { name: `${p}.bias`, shape: [cout] },
  ];
}

/** Every parameter, in the order of diffusers' unet.state_dict(). */
export function unetParamSpecs(config: UNetConfig): ParamSpec[] {
  const plan = unetPlan(config);
  const c0 = config.block_out_channels[0];
  const temb = plan.timeEmbedDim;
  const specs: ParamSpec[] = [
    ...convParams("conv_in", c0, config.in_channels, 3),
    { name: "time_embedding.linear_1.weight", shape: [temb, plan.timeProjDim] },
    { name: "time_embedding.linear_1.bias", shape: [temb] },
    { name: "time_embedding.linear_2.weight", shape: [temb, temb] },
    { name: "time_embedding.linear_2.bias", shape: [temb] },
  ];
  if (plan.hasEncoderHidProj) {
    specs.push(
      { name: "encoder_hid_proj.weight", shape: [plan.contextDim, plan.encoderInputDim] },
      { name: "encoder_hid_proj.bias", shape: [plan.contextDim] },
    );
  }
  // nn.Module registration order: attentions before resnets inside a block, and all up blocks
  // before the mid block (down_blocks and up_blocks are created before mid_block is assigned).
  for (const block of plan.down) {
    for (const a of block.attentions) specs.push(...transformerParams(a));
    for (const r of block.resnets) specs.push(...resnetParams(r, temb));
    if (block.downsample) {
      const d = block.downsample;
      specs.push(...convParams(`${d.prefix}.conv`, d.channels, d.channels, 3));
    }
  }
  for (const block of plan.up) {
    for (const a of block.attentions) specs.push(...transformerParams(a));
    for (const r of block.resnets) specs.push(...resnetParams(r, temb));
    if (block.upsample) {
      const u = block.upsample;
      specs.push(...convParams(`${u.prefix}.conv`, u.channels, u.channels, 3));
    }
  }
  for (const a of plan.mid.attentions) specs.push(...transformerParams(a));
  for (const r of plan.mid.resnets) specs.push(...resnetParams(r, temb));
  specs.push(
    { name: "conv_norm_out.weight", shape: [c0] },
    { name: "conv_norm_out.bias", shape: [c0] },
    ...convParams("conv_out", config.out_channels, c0, 3),
  );
  return specs;
}

export function countElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Number of trainable parameters (elements, not tensors). */
export function parameterCount(specs: readonly ParamSpec[]): number {
  return specs.reduce((sum, s) => sum + countElements(s.shape), 0);
}

/** Views must start on 256 bytes (WebGPU's storage offset alignment): 64 f32 elements. */
export const PARAM_ALIGN_ELEMENTS = 64;

export interface ParamEntry extends ParamSpec {
  /** Element offset into the parameter (and gradient) buffer. */
  offset: number;
  size: number;
}

export interface ParamLayout {
  entries: ParamEntry[];
  byName: Map<string, ParamEntry>;
  /** Elements of the buffers, padding included (AdamW runs over all of it: padding stays 0). */
  totalElements: number;
  /** Parameters without padding. */
  count: number;
}

export function paramLayout(specs: readonly ParamSpec[]): ParamLayout {
  const entries: ParamEntry[] = [];
  let offset = 0;
  for (const s of specs) {
    const size = countElements(s.shape);
    entries.push({ name: s.name, shape: [...s.shape], offset, size });
    offset += Math.ceil(size / PARAM_ALIGN_ELEMENTS) * PARAM_ALIGN_ELEMENTS;
  }
  return {
    entries,
    byName: new Map(entries.map((e) => [e.name, e])),
    totalElements: Math.max(offset, PARAM_ALIGN_ELEMENTS),
    count: parameterCount(specs),
  };
}

export interface ParamStore {
  layout: ParamLayout;
  /** All parameters, [totalElements] f32. */
  data: Tensor;
  /** All gradients, same layout as `data`. */
  grads: Tensor;
  param(name: string): Tensor;
  grad(name: string): Tensor;
}

/** Allocates the parameter and gradient buffers (zero-filled by WebGPU) and their views. */
export function createParamStore(
  gpu: Gpu,
  specs: readonly ParamSpec[],
  label = "unet",
): ParamStore {
  const layout = paramLayout(specs);
  const data = createTensor(gpu, [layout.totalElements], "f32", `${label}.params`);
  const grads = createTensor(gpu, [layout.totalElements], "f32", `${label}.grads`);
  const params = new Map<string, Tensor>();
  const gradViews = new Map<string, Tensor>();
  for (const e of layout.entries) {
    params.set(e.name, tensorView(data, e.offset, e.shape, e.name));
    gradViews.set(e.name, tensorView(grads, e.offset, e.shape, `grad.${e.name}`));
  }
  const lookup = (m: Map<string, Tensor>, name: string) => {
    const t = m.get(name);
    if (!t) throw new Error(`${label}: no parameter named ${name}`);
    return t;
  };
  return {
    layout,
    data,
    grads,
    param: (name) => lookup(params, name),
    grad: (name) => lookup(gradViews, name),
  };
}

/**
 * Packs named host tensors into one host array in the store's layout (padding 0). Every parameter
 * must be present with its exact element count; extra names are refused.
 */
export function packParams(
  layout: ParamLayout,
  tensors: ReadonlyMap<string, { data: Float32Array; shape?: readonly number[] }>,
): Float32Array {
  const packed = new Float32Array(layout.totalElements);
  for (const name of tensors.keys()) {
    if (!layout.byName.has(name)) throw new Error(`unexpected parameter ${name}`);
  }
  for (const e of layout.entries) {
    const t = tensors.get(e.name);
    if (!t) throw new Error(`missing parameter ${e.name}`);
    if (t.data.length !== e.size || (t.shape && t.shape.join(",") !== e.shape.join(","))) {
      throw new Error(
        `parameter ${e.name}: shape [${t.shape ?? t.data.length}], want [${e.shape}]`,
      );
    }
    packed.set(t.data, e.offset);
  }
  return packed;
}

/** Uploads named host tensors (e.g. from a diffusers safetensors file) into the store. */
export function loadParams(
  gpu: Gpu,
  store: ParamStore,
  tensors: ReadonlyMap<string, { data: Float32Array; shape?: readonly number[] }>,
): void {
  upload(gpu, store.data, packParams(store.layout, tensors));
}

/**
 * PyTorch's default initialisation, which diffusers keeps for this model: Conv2d and Linear weights
 * and biases uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), norms weight 1 bias 0.
 * `random` returns uniform [0, 1).
 */
export function initParamsHost(layout: ParamLayout, random: () => number): Float32Array {
  const packed = new Float32Array(layout.totalElements);
  const fanIn = new Map<string, number>();
  for (const e of layout.entries) {
    if (e.name.endsWith(".weight") && e.shape.length >= 2) {
      fanIn.set(e.name.slice(0, -".weight".length), countElements(e.shape.slice(1)));
    }
  }
  for (const e of layout.entries) {
    const module = e.name.slice(0, e.name.lastIndexOf("."));
    const fan = fanIn.get(module);
    const view = packed.subarray(e.offset, e.offset + e.size);
    if (fan === undefined) {
      // GroupNorm / LayerNorm affine parameters.
      view.fill(e.name.endsWith(".weight") ? 1 : 0);
    } else {
      const bound = 1 / Math.sqrt(fan);
      for (let i = 0; i < view.length; i++) view[i] = (2 * random() - 1) * bound;
    }
  }
  return packed;
}
