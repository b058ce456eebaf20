// The named UNet configs, the one list every front end offers (`--config NAME`, the training
// route's "config", the bench's --configs): the reference's model and a compact one for CPU adapters.
import { ConfigError } from "../runtime/errors.ts";
import { parseUNetConfig, type UNetConfig } from "./config.ts";

/**
 * The project's model (the issue's): 16x16 sprites, three levels, cross-attention only at the
 * lowest, conditioned on a 64-wide class embedding. 26,054,787 parameters.
 */
export const referenceConfig: UNetConfig = parseUNetConfig({
  sample_size: 16,
  in_channels: 3,
  out_channels: 3,
  layers_per_block: 2,
  block_out_channels: [64, 128, 256],
  down_block_types: ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
  up_block_types: ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
  encoder_hid_dim: 64,
  dropout: 0.2,
});

/**
 * Same topology at about 1/10 of the cost, for CPU adapters (llvmpipe): widths (32, 64, 96), one
 * ResNet per level, 8 groups, a 96-wide context, 4 heads of 24. 2,481,827 parameters.
 */
export const compactConfig: UNetConfig = parseUNetConfig({
  sample_size: 16,
  in_channels: 3,
  out_channels: 3,
  layers_per_block: 1,
  block_out_channels: [32, 64, 96],
  down_block_types: ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
  up_block_types: ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
  norm_num_groups: 8,
  cross_attention_dim: 96,
  attention_head_dim: 4,
  encoder_hid_dim: 64,
  dropout: 0.1,
});

export const PRESETS: Readonly<Record<string, UNetConfig>> = Object.freeze({
  reference: referenceConfig,
  compact: compactConfig,
});

export const PRESET_NAMES = Object.keys(PRESETS);

/** A preset by name; only the list's own names (never "constructor" or "toString"). */
export function presetConfig(name: string): UNetConfig {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new ConfigError(`unknown config preset "${name}": use ${PRESET_NAMES.join(" or ")}`);
  }
  return PRESETS[name];
}
