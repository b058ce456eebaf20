// UNet2DConditionModel's configuration, with diffusers' own key names and its 0.30 defaults, so a
// config.json written by diffusers' save_config loads as it is. Only the subset this project's kernels
// implement is accepted; anything else is refused with the key named.
import { ConfigError } from "../runtime/errors.ts";

export type DownBlockType = "DownBlock2D" | "CrossAttnDownBlock2D";
export type UpBlockType = "UpBlock2D" | "CrossAttnUpBlock2D";

export interface UNetConfig {
  sample_size: number | null;
  in_channels: number;
  out_channels: number;
  center_input_sample: boolean;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  down_block_types: DownBlockType[];
  mid_block_type: "UNetMidBlock2DCrossAttn";
  up_block_types: UpBlockType[];
  only_cross_attention: boolean | boolean[];
  block_out_channels: number[];
  layers_per_block: number | number[];
  downsample_padding: number;
  mid_block_scale_factor: number;
  dropout: number;
  act_fn: "silu";
  norm_num_groups: number;
  norm_eps: number;
  cross_attention_dim: number | number[];
  transformer_layers_per_block: number | number[];
  reverse_transformer_layers_per_block: number[] | null;
  encoder_hid_dim: number | null;
  encoder_hid_dim_type: "text_proj" | null;
  /** diffusers 0.30 uses it as the NUMBER of heads (num_attention_heads must stay null). */
  attention_head_dim: number | number[];
  num_attention_heads: null;
  dual_cross_attention: boolean;
  use_linear_projection: boolean;
  class_embed_type: null;
  addition_embed_type: null;
  addition_time_embed_dim: null;
  num_class_embeds: null;
  upcast_attention: boolean;
  resnet_time_scale_shift: "default";
  resnet_skip_time_act: boolean;
  resnet_out_scale_factor: number;
  time_embedding_type: "positional";
  time_embedding_dim: number | null;
  time_embedding_act_fn: null;
  timestep_post_act: null;
  time_cond_proj_dim: null;
  conv_in_kernel: number;
  conv_out_kernel: number;
  projection_class_embeddings_input_dim: null;
  attention_type: "default";
  class_embeddings_concat: boolean;
  mid_block_only_cross_attention: boolean | null;
  cross_attention_norm: null;
  addition_embed_type_num_heads: number;
}

/** UNet2DConditionModel.__init__'s defaults in diffusers 0.30. */
export const diffusersDefaults: UNetConfig = {
  sample_size: null,
  in_channels: 4,
  out_channels: 4,
  center_input_sample: false,
  flip_sin_to_cos: true,
  freq_shift: 0,
  down_block_types: [
    "CrossAttnDownBlock2D",
    "CrossAttnDownBlock2D",
    "CrossAttnDownBlock2D",
    "DownBlock2D",
  ],
  mid_block_type: "UNetMidBlock2DCrossAttn",
  up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
  only_cross_attention: false,
  block_out_channels: [320, 640, 1280, 1280],
  layers_per_block: 2,
  downsample_padding: 1,
  mid_block_scale_factor: 1,
  dropout: 0.0,
  act_fn: "silu",
  norm_num_groups: 32,
  norm_eps: 1e-5,
  cross_attention_dim: 1280,
  transformer_layers_per_block: 1,
  reverse_transformer_layers_per_block: null,
  encoder_hid_dim: null,
  encoder_hid_dim_type: null,
  attention_head_dim: 8,
  num_attention_heads: null,
  dual_cross_attention: false,
  use_linear_projection: false,
  class_embed_type: null,
  addition_embed_type: null,
  addition_time_embed_dim: null,
  num_class_embeds: null,
  upcast_attention: false,
  resnet_time_scale_shift: "default",
  resnet_skip_time_act: false,
  resnet_out_scale_factor: 1.0,
  time_embedding_type: "positional",
  time_embedding_dim: null,
  time_embedding_act_fn: null,
  timestep_post_act: null,
  time_cond_proj_dim: null,
  conv_in_kernel: 3,
  conv_out_kernel: 3,
  projection_class_embeddings_input_dim: null,
  attention_type: "default",
  class_embeddings_concat: false,
  mid_block_only_cross_attention: null,
  cross_attention_norm: null,
  addition_embed_type_num_heads: 64,
};

/** A config value this implementation cannot run; the message names the key. */
export class UnsupportedConfigError extends ConfigError {
  constructor(key: string, value: unknown, supported: string) {
    super(`unet config: ${key} = ${JSON.stringify(value)} is not supported (${supported})`);
  }
}

/**
 * Fills diffusers' defaults into a (partial) config, as from a diffusers config.json, and refuses
 * what the kernels do not implement. Keys starting with "_" (_class_name, _diffusers_version) are
 * ignored; unknown keys are refused so a typo cannot silently fall back to a default.
 */
export function parseUNetConfig(input: Record<string, unknown>): UNetConfig {
  const config = structuredClone(diffusersDefaults) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(input)) {
    if (key.startsWith("_")) continue;
    if (!Object.hasOwn(diffusersDefaults, key)) {
      throw new UnsupportedConfigError(key, value, "unknown key");
    }
    config[key] = structuredClone(value);
  }
  const c = config as unknown as UNetConfig;
  // diffusers' own rule: an encoder_hid_dim without a type means a text projection.
  if (c.encoder_hid_dim !== null && c.encoder_hid_dim_type === null) {
    c.encoder_hid_dim_type = "text_proj";
  }
  validate(c);
  return c;
}

function require(ok: boolean, key: string, value: unknown, supported: string): void {
  if (!ok) throw new UnsupportedConfigError(key, value, supported);
}

const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
const intOrList = (v: unknown, n: number) =>
  positiveInt(v) || (Array.isArray(v) && v.length === n && v.every(positiveInt));

function validate(c: UNetConfig): void {
  const n = c.block_out_channels.length;
  const only = (key: keyof UNetConfig, want: unknown) =>
    require(c[key] === want, key, c[key], `only ${JSON.stringify(want)}`);
  require(
    Array.isArray(c.block_out_channels) && n > 0 && c.block_out_channels.every(positiveInt),
    "block_out_channels",
    c.block_out_channels,
    "a list of positive integers",
  );
  require(
    Array.isArray(c.down_block_types) && c.down_block_types.length === n &&
      c.down_block_types.every((t) => t === "DownBlock2D" || t === "CrossAttnDownBlock2D"),
    "down_block_types",
    c.down_block_types,
    `${n} of DownBlock2D | CrossAttnDownBlock2D`,
  );
  require(
    Array.isArray(c.up_block_types) && c.up_block_types.length === n &&
      c.up_block_types.every((t) => t === "UpBlock2D" || t === "CrossAttnUpBlock2D"),
    "up_block_types",
    c.up_block_types,
    `${n} of UpBlock2D | CrossAttnUpBlock2D`,
  );
  only("mid_block_type", "UNetMidBlock2DCrossAttn");
  only("act_fn", "silu");
  only("use_linear_projection", false);
  only("class_embed_type", null);
  only("num_class_embeds", null);
  only("addition_embed_type", null);
  only("addition_time_embed_dim", null);
  only("num_attention_heads", null);
  only("dual_cross_attention", false);
  only("upcast_attention", false);
  only("resnet_time_scale_shift", "default");
  only("resnet_skip_time_act", false);
  only("resnet_out_scale_factor", 1);
  only("mid_block_scale_factor", 1);
  only("time_embedding_type", "positional");
  only("time_embedding_dim", null);
  only("time_embedding_act_fn", null);
  only("timestep_post_act", null);
  only("time_cond_proj_dim", null);
  only("conv_in_kernel", 3);
  only("conv_out_kernel", 3);
  only("downsample_padding", 1);
  only("center_input_sample", false);
  only("projection_class_embeddings_input_dim", null);
  only("attention_type", "default");
  only("class_embeddings_concat", false);
  only("cross_attention_norm", null);
  only("reverse_transformer_layers_per_block", null);
  require(
    c.only_cross_attention === false ||
      (Array.isArray(c.only_cross_attention) && c.only_cross_attention.every((v) => v === false)),
    "only_cross_attention",
    c.only_cross_attention,
    "only false",
  );
  require(
    c.mid_block_only_cross_attention === null || c.mid_block_only_cross_attention === false,
    "mid_block_only_cross_attention",
    c.mid_block_only_cross_attention,
    "null or false",
  );
  require(
    c.encoder_hid_dim_type === null || c.encoder_hid_dim_type === "text_proj",
    "encoder_hid_dim_type",
    c.encoder_hid_dim_type,
    "null or text_proj",
  );
  require(
    c.encoder_hid_dim === null || positiveInt(c.encoder_hid_dim),
    "encoder_hid_dim",
    c.encoder_hid_dim,
    "null or a positive integer",
  );
  require(
    c.encoder_hid_dim_type === null || positiveInt(c.cross_attention_dim),
    "cross_attention_dim",
    c.cross_attention_dim,
    "one integer when encoder_hid_proj exists",
  );
  require(
    c.encoder_hid_dim !== null || positiveInt(c.cross_attention_dim) ||
      new Set(c.cross_attention_dim as number[]).size === 1,
    "cross_attention_dim",
    c.cross_attention_dim,
    "one value: all blocks share one encoder_hidden_states",
  );
  require(positiveInt(c.in_channels), "in_channels", c.in_channels, "a positive integer");
  require(positiveInt(c.out_channels), "out_channels", c.out_channels, "a positive integer");
  require(typeof c.flip_sin_to_cos === "boolean", "flip_sin_to_cos", c.flip_sin_to_cos, "boolean");
  require(Number.isFinite(c.freq_shift), "freq_shift", c.freq_shift, "a number");
  require(c.block_out_channels[0] % 2 === 0, "block_out_channels", c.block_out_channels, "even");
  require(intOrList(c.layers_per_block, n), "layers_per_block", c.layers_per_block, "int|list");
  require(
    intOrList(c.cross_attention_dim, n),
    "cross_attention_dim",
    c.cross_attention_dim,
    "int|list",
  );
  require(
    intOrList(c.attention_head_dim, n),
    "attention_head_dim",
    c.attention_head_dim,
    "int|list",
  );
  require(
    intOrList(c.transformer_layers_per_block, n),
    "transformer_layers_per_block",
    c.transformer_layers_per_block,
    "int|list of ints",
  );
  require(
    typeof c.dropout === "number" && c.dropout >= 0 && c.dropout < 1,
    "dropout",
    c.dropout,
    "0 <= p < 1",
  );
  require(c.norm_eps > 0, "norm_eps", c.norm_eps, "positive");
  const g = c.norm_num_groups;
  require(positiveInt(g), "norm_num_groups", g, "a positive integer (null is not supported)");
  for (const ch of c.block_out_channels) {
    require(ch % g === 0, "norm_num_groups", g, `must divide every block_out_channels (${ch})`);
  }
  const heads = perBlock(c.attention_head_dim, n);
  c.block_out_channels.forEach((ch, i) =>
    require(ch % heads[i] === 0, "attention_head_dim", heads[i], `must divide ${ch}`)
  );
  require(
    c.sample_size === null || positiveInt(c.sample_size),
    "sample_size",
    c.sample_size,
    "null or a positive integer (tuples are not supported)",
  );
}

/** An int-or-list config value as one value per down block. */
export function perBlock(v: number | number[], blocks: number): number[] {
  return Array.isArray(v) ? [...v] : new Array(blocks).fill(v);
}

/** Width of the time embedding that every ResNet block receives. */
export function timeEmbedDim(c: UNetConfig): number {
  return c.block_out_channels[0] * 4;
}

/** Width of the context the cross-attentions see (after encoder_hid_proj when there is one). */
export function contextDim(c: UNetConfig): number {
  return perBlock(c.cross_attention_dim, c.block_out_channels.length)[0];
}

/** Width of the encoder_hidden_states input. */
export function encoderInputDim(c: UNetConfig): number {
  return c.encoder_hid_dim ?? contextDim(c);
}
