// Checkpoint folders on disk: reading the files a checkpoint may hold, and writing a whole folder
// atomically. The engine turns a model into files and back (gpu/formats/checkpoint.ts,
// gpu/model/sprite_model.ts, gpu/train/checkpoint.ts); this is where those files meet the disk.
import {
  CHECKPOINT_FILES,
  type CheckpointContents,
  type CheckpointFiles,
  decodeCheckpoint,
  encodeCheckpoint,
  type LoadedCheckpoint,
} from "../gpu/formats/checkpoint.ts";
import {
  type SpriteModel,
  spriteModelCheckpoint,
  spriteModelFromCheckpoint,
} from "../gpu/model/sprite_model.ts";
import type { Gpu } from "../gpu/runtime/device.ts";
import { CheckpointError } from "../gpu/runtime/errors.ts";

// Checkpoint paths are POSIX-style (the service runs on Linux); no jsr std here, only npm.
export const joinPath = (dir: string, name: string) => `${dir.replace(/\/+$/, "")}/${name}`;

/** The files of `names` that the folder holds (absent ones are left out); the folder must exist. */
export async function readFolderFiles(
  dir: string,
  names: readonly string[],
): Promise<CheckpointFiles> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(dir);
  } catch {
    throw new CheckpointError(`checkpoint folder ${dir} does not exist`);
  }
  if (!stat.isDirectory) throw new CheckpointError(`checkpoint ${dir} is not a folder`);
  const files: CheckpointFiles = new Map();
  for (const name of names) {
    const path = joinPath(dir, name);
    try {
      files.set(name, await Deno.readFile(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw new CheckpointError(`cannot read ${path}: ${(e as Error).message}`);
    }
  }
  return files;
}

/**
 * Writes the folder atomically: everything goes into a sibling temporary folder first, which then
 * replaces `dir`; a failure part way leaves any previous checkpoint at `dir` untouched.
 */
export async function writeFolderFiles(dir: string, files: CheckpointFiles): Promise<void> {
  const stamp = `${Deno.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const trimmed = dir.replace(/\/+$/, "");
  const temp = `${trimmed}.tmp-${stamp}`;
  const old = `${trimmed}.old-${stamp}`;
  try {
    await Deno.mkdir(temp, { recursive: true });
    for (const [name, bytes] of files) await Deno.writeFile(joinPath(temp, name), bytes);
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

/** Encodes and writes a checkpoint folder (atomically). */
export async function saveCheckpointFolder(dir: string, c: CheckpointContents): Promise<void> {
  await writeFolderFiles(dir, encodeCheckpoint(dir, c));
}

/** Reads and decodes a checkpoint folder; names the folder and file in every error. */
export async function loadCheckpointFolder(dir: string): Promise<LoadedCheckpoint> {
  return decodeCheckpoint(dir, await readFolderFiles(dir, Object.values(CHECKPOINT_FILES)));
}

/** Loads a diffusers-format folder (ours, or a plain diffusers UNet without an embedding net). */
export async function loadSpriteModel(gpu: Gpu, dir: string): Promise<SpriteModel> {
  return spriteModelFromCheckpoint(gpu, await loadCheckpointFolder(dir), dir);
}

/**
 * Writes the model (atomically) as a diffusers folder plus emb_net.safetensors and our JSON, and
 * any `extraFiles` in the same swap.
 */
export async function saveSpriteModel(
  gpu: Gpu,
  dir: string,
  model: SpriteModel,
  info: Record<string, unknown> = model.info,
  extraFiles?: Record<string, Uint8Array>,
): Promise<void> {
  await saveCheckpointFolder(dir, await spriteModelCheckpoint(gpu, model, info, extraFiles));
}
