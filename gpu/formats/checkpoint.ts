// A checkpoint is a diffusers-format folder, so diffusers can load the UNet as it is:
//   config.json                           the UNet config (diffusers' keys)
//   diffusion_pytorch_model.safetensors   the UNet weights (diffusers' parameter names)
//   emb_net.safetensors                   the class-embedding MLP (0.weight, 0.bias, 3.weight, 3.bias)
//   sprite_diffusion.json                 our own record: class names, training recipe, epoch, ...
// The last two are optional on load, so a plain diffusers UNet folder loads too.
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

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

export interface CheckpointContents {
  config: Record<string, unknown>;
  unet: NamedTensor[];
  embedding?: NamedTensor[];
  info: Record<string, unknown>;
  /** More files written into the folder with the same atomic swap (e.g. the trainer's state). */
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

// Checkpoint paths are POSIX-style (the service runs on Linux); no jsr std here, only npm.
const join = (dir: string, name: string) => `${dir.replace(/\/+$/, "")}/${name}`;

const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";

/**
 * Writes the folder atomically: everything goes into a sibling temporary folder first, which then
 * replaces `dir`; a failure part way leaves any previous checkpoint at `dir` untouched.
 */
export async function saveCheckpointFolder(dir: string, c: CheckpointContents): Promise<void> {
  // Serialise first: a bad tensor fails before anything touches the disk.
  const serialise = (name: string, make: () => Uint8Array): [string, Uint8Array] => {
    try {
      return [name, make()];
    } catch (e) {
      throw new CheckpointError(`saving checkpoint ${dir}: ${name}: ${(e as Error).message}`);
    }
  };
  const text = (value: unknown) => () => new TextEncoder().encode(json(value));
  const files = [
    serialise(CHECKPOINT_FILES.config, text(c.config)),
    serialise(CHECKPOINT_FILES.unet, () => writeSafetensors(c.unet, METADATA)),
    serialise(CHECKPOINT_FILES.info, text(c.info)),
  ];
  if (c.embedding) {
    const embedding = c.embedding;
    files.push(serialise(CHECKPOINT_FILES.embedding, () => writeSafetensors(embedding, METADATA)));
  }
  for (const [name, bytes] of Object.entries(c.extraFiles ?? {})) {
    if (name.includes("/") || Object.values(CHECKPOINT_FILES).some((f) => f === name)) {
      throw new CheckpointError(`saving checkpoint ${dir}: extra file name ${name} not allowed`);
    }
    files.push([name, bytes]);
  }

  const stamp = `${Deno.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const trimmed = dir.replace(/\/+$/, "");
  const temp = `${trimmed}.tmp-${stamp}`;
  const old = `${trimmed}.old-${stamp}`;
  try {
    await Deno.mkdir(temp, { recursive: true });
    for (const [name, bytes] of files) await Deno.writeFile(join(temp, name), bytes);
    // A directory cannot be renamed over a non-empty one: move the old one aside, then swap.
    let hadOld = false;
    try {
      await Deno.rename(trimmed, old);
      hadOld = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.rename(temp, trimmed);
    if (hadOld) await Deno.remove(old, { recursive: true });
  } catch (e) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw new CheckpointError(`saving checkpoint ${dir} failed: ${(e as Error).message}`);
  }
}

async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new CheckpointError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function parseJsonObject(path: string, bytes: Uint8Array): Record<string, unknown> {
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

/** Reads a checkpoint folder; names the folder and file in every error. */
export async function loadCheckpointFolder(dir: string): Promise<LoadedCheckpoint> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(dir);
  } catch {
    throw new CheckpointError(`checkpoint folder ${dir} does not exist`);
  }
  if (!stat.isDirectory) throw new CheckpointError(`checkpoint ${dir} is not a folder`);

  const path = (name: string) => join(dir, name);
  const required = async (name: string) => {
    const bytes = await readOptional(path(name));
    if (!bytes) throw new CheckpointError(`checkpoint ${dir} has no ${name}`);
    return bytes;
  };
  const config = parseJsonObject(
    path(CHECKPOINT_FILES.config),
    await required(CHECKPOINT_FILES.config),
  );
  const unet = parseTensors(path(CHECKPOINT_FILES.unet), await required(CHECKPOINT_FILES.unet));
  const embBytes = await readOptional(path(CHECKPOINT_FILES.embedding));
  const infoBytes = await readOptional(path(CHECKPOINT_FILES.info));
  return {
    config,
    unet,
    embedding: embBytes && parseTensors(path(CHECKPOINT_FILES.embedding), embBytes),
    info: infoBytes && parseJsonObject(path(CHECKPOINT_FILES.info), infoBytes),
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
