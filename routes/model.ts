// GET /api/model: what is serving: the UNet's configuration in diffusers' keys, parameter counts,
// classes, the adapter, and what the checkpoint says about its training (recipe, epoch). File paths
// are shown by name only: a client learns which model, not where the server keeps its files.
import { BUNDLED_LABELS_PATH, BUNDLED_SPRITES_PATH } from "../data/generate.ts";
import type { SpriteModel } from "../gpu/model/sprite_model.ts";
import type { ServingModel } from "./gpu_protocol.ts";
import { json, route } from "./http.ts";

function parameterCount(store: SpriteModel["unetParams"] | undefined): number {
  return store ? store.layout.entries.reduce((n, e) => n + e.size, 0) : 0;
}

/** The last part of a path ("checkpoint" folders keep their run's name: "run-1/checkpoint"). */
export function publicName(path: string): string {
  const parts = path.replace(/\/+$/, "").split("/").filter(Boolean);
  const last = parts.at(-1) ?? path;
  return last === "checkpoint" && parts.length > 1 ? `${parts.at(-2)}/${last}` : last;
}

/** A checkpoint's own record with the data files it names cut to their names. */
function publicInfo(info: Record<string, unknown>): Record<string, unknown> {
  const { class_names: _names, ...rest } = info;
  const data = rest.data;
  if (typeof data === "object" && data !== null && !Array.isArray(data)) {
    const d = { ...data as Record<string, unknown> };
    for (const k of ["sprites", "labels"]) {
      if (typeof d[k] === "string") d[k] = publicName(d[k] as string);
    }
    rest.data = d;
  }
  return rest;
}

/** The training files a checkpoint records (`data: {sprites, labels}`), else the bundled set. */
export function trainingFiles(info: Record<string, unknown>): { sprites: string; labels: string } {
  const data = (info.data ?? info.dataset ?? info) as Record<string, unknown>;
  if (typeof data?.sprites === "string" && typeof data?.labels === "string") {
    return { sprites: data.sprites, labels: data.labels };
  }
  return { sprites: BUNDLED_SPRITES_PATH, labels: BUNDLED_LABELS_PATH };
}

/** What the HTTP side needs of a loaded model; `source` is shown as it is. */
export function describeModel(model: SpriteModel, source: string): ServingModel {
  const unet = parameterCount(model.unetParams);
  const embedding = parameterCount(model.embeddingParams);
  return {
    config: model.config,
    classNames: model.classNames,
    info: publicInfo(model.info),
    parameters: { unet, embedding, total: unet + embedding },
    source,
    trainingFiles: trainingFiles(model.info),
  };
}

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
