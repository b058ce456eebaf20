// A checkpoint is a diffusers-format folder, so diffusers can load the UNet as it is:
//   config.json                           the UNet config (diffusers' keys)
//   diffusion_pytorch_model.safetensors   the UNet weights (diffusers' parameter names)
//   emb_net.safetensors                   the class-embedding MLP (0.weight, 0.bias, 3.weight, 3.bias)
//   sprite_diffusion.json                 our own record: class names, training recipe, epoch, ...
// The last two are optional on load, so a plain diffusers UNet folder loads too.
// This module turns a checkpoint into its files' bytes and back; reading and writing the folder is
// the front ends' (data/model_folder.ts on disk, a page fetching the files by URL).
import { CheckpointError } from "../runtime/errors.ts";
import {
  type NamedTensor,
  readSafetensors,
  type SafetensorsMap,
  writeSafetensors,
} from "./safetensors.ts";

export const CHECKPOINT_FILES = {
  config: "config.json",
  unet: "diffusion_pytorch_model.safetensors",
  embedding: "emb_net.safetensors",
  info: "sprite_diffusion.json",
} as const;

/** A checkpoint folder's files by name: what is written, or what was read. */
export type CheckpointFiles = Map<string, Uint8Array>;

export interface CheckpointContents {
  config: Record<string, unknown>;
  unet: NamedTensor[];
  embedding?: NamedTensor[];
  info: Record<string, unknown>;
  /** More files of the same folder, written with the same atomic swap (the trainer's state). */
  extraFiles?: Record<string, Uint8Array>;
}

export interface LoadedCheckpoint {
  config: Record<string, unknown>;
  unet: SafetensorsMap;
  /** Absent in a plain diffusers UNet folder. */
  embedding?: SafetensorsMap;
  /** Absent in a plain diffusers UNet folder. */
  info?: Record<string, unknown>;
}

// safetensors' Python loaders for diffusers/transformers expect this metadata entry.
const METADATA = { format: "pt" };

const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";

/** The folder's files; `where` (the folder) names the file at fault in every error. */
export function encodeCheckpoint(where: string, c: CheckpointContents): CheckpointFiles {
  const files: CheckpointFiles = new Map();
  const add = (name: string, make: () => Uint8Array) => {
    try {
      files.set(name, make());
    } catch (e) {
      throw new CheckpointError(`saving checkpoint ${where}: ${name}: ${(e as Error).message}`);
    }
  };
  const text = (value: unknown) => () => new TextEncoder().encode(json(value));
  add(CHECKPOINT_FILES.config, text(c.config));
  add(CHECKPOINT_FILES.unet, () => writeSafetensors(c.unet, METADATA));
  add(CHECKPOINT_FILES.info, text(c.info));
  const embedding = c.embedding;
  if (embedding) add(CHECKPOINT_FILES.embedding, () => writeSafetensors(embedding, METADATA));
  for (const [name, bytes] of Object.entries(c.extraFiles ?? {})) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name) || files.has(name)) {
      throw new CheckpointError(`saving checkpoint ${where}: extra file name ${name} not allowed`);
    }
    files.set(name, bytes);
  }
  return files;
}

/** Parses a JSON object file; `path` names it in errors. */
export function parseJsonObject(path: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new CheckpointError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CheckpointError(`${path} does not hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

function parseTensors(path: string, bytes: Uint8Array): SafetensorsMap {
  try {
    return readSafetensors(bytes);
  } catch (e) {
    throw new CheckpointError(`${path}: ${(e as Error).message}`);
  }
}

/** Reads the files of a checkpoint folder `where`; names the folder and file in every error. */
export function decodeCheckpoint(
  where: string,
  files: ReadonlyMap<string, Uint8Array>,
): LoadedCheckpoint {
  const path = (name: string) => `${where.replace(/\/+$/, "")}/${name}`;
  const required = (name: string) => {
    const bytes = files.get(name);
    if (!bytes) throw new CheckpointError(`checkpoint ${where} has no ${name}`);
    return bytes;
  };
  const { config, unet, embedding, info } = CHECKPOINT_FILES;
  const embBytes = files.get(embedding);
  const infoBytes = files.get(info);
  return {
    config: parseJsonObject(path(config), required(config)),
    unet: parseTensors(path(unet), required(unet)),
    embedding: embBytes && parseTensors(path(embedding), embBytes),
    info: infoBytes && parseJsonObject(path(info), infoBytes),
  };
}

/**
 * Checks loaded tensors against a model's parameter list: throws naming the first missing or
 * misshapen tensor (in the model's order), else the first unknown one, with the total count.
 */
export function checkTensors(
  expected: readonly { name: string; shape: readonly number[] }[],
  actual: ReadonlyMap<string, { shape: readonly number[] }>,
  what: string,
): void {
  const problems: string[] = [];
  const known = new Set<string>();
  for (const { name, shape } of expected) {
    known.add(name);
    const t = actual.get(name);
    if (!t) problems.push(`missing tensor ${name} [${shape}]`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`tensor ${name} has shape [${t.shape}], expected [${shape}]`);
    }
  }
  for (const name of actual.keys()) if (!known.has(name)) problems.push(`unknown tensor ${name}`);
  if (problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : "";
    throw new CheckpointError(`${what}: ${problems[0]}${more}`);
  }
}
