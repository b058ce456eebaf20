// GET /api/model: what is serving: the UNet's configuration in diffusers' keys, parameter counts,
// classes, the adapter, and what the checkpoint says about its training (recipe, epoch). File paths
// are shown by name only: a client learns which model, not where the server keeps its files.
// GET /api/model/log: its training history, the epochs of the train_log.jsonl beside its checkpoint
// (in the folder, or in the run folder around a run's checkpoint/), for the page's loss chart.
import { FileReadError, readRegularFile } from "../data/files.ts";
import { TRAIN_LOG_FILE } from "../data/run_folder.ts";
import type { ServingModel } from "./gpu_protocol.ts";
import { json, route } from "./http.ts";

/** A log of 10^5 epochs is ~15 MB; past this it is not one this project wrote. */
const MAX_LOG_BYTES = 16 * 2 ** 20;

/** An epoch of the log, the fields the chart reads: where lr or the freeze changed. */
interface EpochPoint {
  epoch: number;
  step: number;
  mean_loss: number;
  lr: number | null;
  embedding_frozen: boolean | null;
}

/** The serving folder's log (or its run's), epoch by epoch; none for a random init. */
async function trainingLog(dir: string | undefined): Promise<EpochPoint[]> {
  if (!dir) return [];
  const trimmed = dir.replace(/\/+$/, "");
  const places = [`${trimmed}/${TRAIN_LOG_FILE}`];
  if (trimmed.endsWith("/checkpoint")) places.push(`${trimmed.slice(0, -11)}/${TRAIN_LOG_FILE}`);
  for (const path of places) {
    let text: string;
    try {
      text = new TextDecoder().decode(await readRegularFile(path, MAX_LOG_BYTES));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof FileReadError) continue;
      throw e;
    }
    const points: EpochPoint[] = [];
    for (const line of text.split("\n")) {
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(line);
      } catch {
        continue; // a line cut short by a kill
      }
      if (typeof r?.epoch !== "number" || typeof r.mean_loss !== "number") continue;
      points.push({
        epoch: r.epoch,
        step: typeof r.step === "number" ? r.step : 0,
        mean_loss: r.mean_loss,
        lr: typeof r.lr === "number" ? r.lr : null,
        embedding_frozen: typeof r.embedding_frozen === "boolean" ? r.embedding_frozen : null,
      });
    }
    return points;
  }
  return [];
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
      // The model a swap replaced: POST /api/train/revert serves it again.
      previous: ctx.worker.previous,
      adapter: ctx.adapter,
    }))),
  route("GET", "/api/model/log", async (_req, ctx) =>
    json({
      source: ctx.model.source,
      recipe: ctx.model.info.recipe ?? null,
      epochs: await trainingLog(ctx.servingDir),
    })),
];
