// The UNet's structure as diffusers' UNet2DConditionModel.__init__ builds it: the channels of every
// ResNet (skip concatenations included), every Transformer2DModel's size and heads, and which
// levels down- or upsample. The parameter list and the model are both derived from it.
import { contextDim, encoderInputDim, perBlock, timeEmbedDim, type UNetConfig } from "./config.ts";

export interface ResnetPlan {
  prefix: string;
  inChannels: number;
  outChannels: number;
}

export interface TransformerPlan {
  prefix: string;
  channels: number;
  heads: number;
  /** Number of BasicTransformerBlocks. */
  layers: number;
  contextDim: number;
}

export interface DownBlockPlan {
  /** One ResNet per layer, each followed by its transformer in a CrossAttnDownBlock2D. */
  resnets: ResnetPlan[];
  attentions: TransformerPlan[];
  downsample: { prefix: string; channels: number } | null;
}

export interface UpBlockPlan {
  resnets: (ResnetPlan & { skipChannels: number })[];
  attentions: TransformerPlan[];
  upsample: { prefix: string; channels: number } | null;
}

export interface UNetPlan {
  config: UNetConfig;
  timeProjDim: number;
  timeEmbedDim: number;
  encoderInputDim: number;
  contextDim: number;
  hasEncoderHidProj: boolean;
  down: DownBlockPlan[];
  mid: { resnets: ResnetPlan[]; attentions: TransformerPlan[] };
  up: UpBlockPlan[];
}

/** Mirrors UNet2DConditionModel.__init__: the channel bookkeeping of every block. */
export function unetPlan(config: UNetConfig): UNetPlan {
  const channels = config.block_out_channels;
  const n = channels.length;
  const layers = perBlock(config.layers_per_block, n);
  const heads = perBlock(config.attention_head_dim, n);
  const context = perBlock(config.cross_attention_dim, n);
  const tlayers = perBlock(config.transformer_layers_per_block, n);
  const transformer = (prefix: string, ch: number, i: number): TransformerPlan => ({
    prefix,
    channels: ch,
    heads: heads[i],
    layers: tlayers[i],
    contextDim: context[i],
  });

  const down: DownBlockPlan[] = [];
  let out = channels[0];
  for (let i = 0; i < n; i++) {
    const input = out;
    out = channels[i];
    const cross = config.down_block_types[i] === "CrossAttnDownBlock2D";
    const block: DownBlockPlan = { resnets: [], attentions: [], downsample: null };
    for (let j = 0; j < layers[i]; j++) {
      block.resnets.push({
        prefix: `down_blocks.${i}.resnets.${j}`,
        inChannels: j === 0 ? input : out,
        outChannels: out,
      });
      if (cross) block.attentions.push(transformer(`down_blocks.${i}.attentions.${j}`, out, i));
    }
    if (i < n - 1) block.downsample = { prefix: `down_blocks.${i}.downsamplers.0`, channels: out };
    down.push(block);
  }

  const last = channels[n - 1];
  const mid = {
    resnets: [0, 1].map((j) => ({
      prefix: `mid_block.resnets.${j}`,
      inChannels: last,
      outChannels: last,
    })),
    attentions: [transformer("mid_block.attentions.0", last, n - 1)],
  };

  const reversed = [...channels].reverse();
  const rLayers = [...layers].reverse();
  const rHeads = [...heads].reverse();
  const rContext = [...context].reverse();
  const rTlayers = [...tlayers].reverse();
  const up: UpBlockPlan[] = [];
  out = reversed[0];
  for (let i = 0; i < n; i++) {
    const prev = out;
    out = reversed[i];
    const input = reversed[Math.min(i + 1, n - 1)];
    const cross = config.up_block_types[i] === "CrossAttnUpBlock2D";
    const count = rLayers[i] + 1;
    const block: UpBlockPlan = { resnets: [], attentions: [], upsample: null };
    for (let j = 0; j < count; j++) {
      const skip = j === count - 1 ? input : out;
      const current = j === 0 ? prev : out;
      block.resnets.push({
        prefix: `up_blocks.${i}.resnets.${j}`,
        inChannels: current + skip,
        outChannels: out,
        skipChannels: skip,
      });
      if (cross) {
        block.attentions.push({
          prefix: `up_blocks.${i}.attentions.${j}`,
          channels: out,
          heads: rHeads[i],
          layers: rTlayers[i],
          contextDim: rContext[i],
        });
      }
    }
    if (i < n - 1) block.upsample = { prefix: `up_blocks.${i}.upsamplers.0`, channels: out };
    up.push(block);
  }

  return {
    config,
    timeProjDim: channels[0],
    timeEmbedDim: timeEmbedDim(config),
    encoderInputDim: encoderInputDim(config),
    contextDim: contextDim(config),
    hasEncoderHidProj: config.encoder_hid_dim_type === "text_proj",
    down,
    mid,
    up,
  };
}
