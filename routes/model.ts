// GET /api/model: what is serving: the UNet's configuration in diffusers' keys, parameter counts,
// classes, the adapter, and what the checkpoint says about its training (recipe, epoch). File paths
// are shown by name only: a client learns which model, not where the server keeps its files.
import type { ServingModel } from "./gpu_protocol.ts";
import { json, route } from "./http.ts";

export function modelSummary(model: ServingModel) {
  const c = model.config;
  const info = model.info;
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
    parameters: model.parameters,
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
      source: ctx.model.source,
      adapter: ctx.adapter,
    }))),
];
