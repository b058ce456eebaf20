// GET /api/model: what is serving: the UNet's configuration in diffusers' keys, parameter counts,
// classes, the adapter, and what the checkpoint says about its training (recipe, epoch).
import { adapterLine } from "../gpu/runtime/device.ts";
import type { SpriteModel } from "../gpu/model/sprite_model.ts";
import { json, route } from "./http.ts";

function parameterCount(store: SpriteModel["unetParams"] | undefined): number {
  return store ? store.layout.entries.reduce((n, e) => n + e.size, 0) : 0;
}

export function modelSummary(model: SpriteModel) {
  const c = model.config;
  const { class_names: _names, ...info } = model.info;
  return {
    config: {
      sample_size: c.sample_size,
      in_channels: c.in_channels,
      out_channels: c.out_channels,
      block_out_channels: c.block_out_channels,
      layers_per_block: c.layers_per_block,
      down_block_types: c.down_block_types,
      up_block_types: c.up_block_types,
      norm_num_groups: c.norm_num_groups,
      cross_attention_dim: c.cross_attention_dim,
      attention_head_dim: c.attention_head_dim,
      encoder_hid_dim: c.encoder_hid_dim,
      dropout: c.dropout,
    },
    parameters: {
      unet: parameterCount(model.unetParams),
      embedding: parameterCount(model.embeddingParams),
      total: parameterCount(model.unetParams) + parameterCount(model.embeddingParams),
    },
    classes: model.classNames,
    recipe: info.recipe ?? info.training ?? null,
    epoch: info.epoch ?? null,
    info,
  };
}

export const modelRoutes = [
  route("GET", "/api/model", (_req, ctx) =>
    Promise.resolve(json({
      ...modelSummary(ctx.model),
      source: ctx.modelDir ?? "random init (untrained)",
      adapter: adapterLine(ctx.gpu),
    }))),
];
