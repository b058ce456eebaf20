// What the HTTP side is told of the serving model (no GPU objects): built in the GPU worker from the
// loaded model, with file paths cut to their names, so a client learns which model, not where the
// server keeps its files. Its own module: the worker needs it, and it must not import the routes.
import { BUNDLED_LABELS_PATH, BUNDLED_SPRITES_PATH } from "../data/generate.ts";
import type { SpriteModel } from "../gpu/model/sprite_model.ts";
import type { ServingModel } from "./gpu_protocol.ts";

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
