// Checkpoint folders on disk: reading the files a checkpoint may hold (regular files only), writing
// a whole folder atomically, and repairing a swap that a kill interrupted. The engine turns a model into files and back (gpu/formats/checkpoint.ts,
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
import {
  FileReadError,
  MAX_DATA_FILE_BYTES,
  MAX_JSON_FILE_BYTES,
  readRegularFile,
} from "./files.ts";

// Checkpoint paths are POSIX-style (the service runs on Linux); no jsr std here, only npm.
export const joinPath = (dir: string, name: string) => `${dir.replace(/\/+$/, "")}/${name}`;

/** The files of `names` that the folder holds (absent ones are left out); the folder must exist. */
export async function readFolderFiles(
  dir: string,
  names: readonly string[],
): Promise<CheckpointFiles> {
  await recoverCheckpointFolder(dir);
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
    const limit = name.endsWith(".json") ? MAX_JSON_FILE_BYTES : MAX_DATA_FILE_BYTES;
    try {
      files.set(name, await readRegularFile(path, limit));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      if (e instanceof FileReadError) throw new CheckpointError(e.message);
      throw new CheckpointError(`cannot read ${path}: ${(e as Error).message}`);
    }
  }
  return files;
}

// A folder swap goes through side folders named after the folder: <dir>.tmp-<stamp> while its
// files are written, <dir>.new-<stamp> once all of them are (a rename marks it complete), and
// <dir>.old-<stamp> for the folder it replaces until the new one is in place. A kill at any point
// leaves a state recoverCheckpointFolder repairs.
const SIDE = /^(.*)\.(tmp|new|old)-(\d+)-\d+-\d+$/;

interface SideFolder {
  path: string;
  kind: "tmp" | "new" | "old";
  /** Milliseconds since the epoch when its swap began. */
  time: number;
}

async function sideFolders(dir: string): Promise<SideFolder[]> {
  const trimmed = dir.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  const parent = slash < 0 ? "." : slash === 0 ? "/" : trimmed.slice(0, slash);
  const base = trimmed.slice(slash + 1);
  const out: SideFolder[] = [];
  try {
    for await (const e of Deno.readDir(parent)) {
      const m = SIDE.exec(e.name);
      if (!e.isDirectory || !m || m[1] !== base) continue;
      out.push({ path: joinPath(parent, e.name), kind: m[2] as SideFolder["kind"], time: +m[3] });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort((a, b) => a.time - b.time);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Repairs what a swap killed part way left behind. `dir` missing: the newest complete copy
 * (`.new-*`) takes its place, or else the replaced one (`.old-*`) goes back. With `clean` (the
 * folder's writer, before it writes) every other side folder is removed: half-written copies and
 * replaced folders. Readers leave side folders alone, since a writer may be at work on them.
 * Returns what it did, for messages and tests.
 */
export async function recoverCheckpointFolder(
  dir: string,
  o: { clean?: boolean } = {},
): Promise<{ promoted?: string; removed: string[] }> {
  const trimmed = dir.replace(/\/+$/, "");
  let side = await sideFolders(trimmed);
  if (!side.length) return { removed: [] };
  let promoted: string | undefined;
  if (!(await exists(trimmed))) {
    const candidate = side.filter((s) => s.kind === "new").at(-1) ??
      side.filter((s) => s.kind === "old").at(-1);
    if (candidate) {
      try {
        await Deno.rename(candidate.path, trimmed);
        promoted = candidate.path;
      } catch (e) {
        // A writer finishing its own swap got there first.
        if (!(e instanceof Deno.errors.NotFound) && !(e instanceof Deno.errors.AlreadyExists)) {
          throw e;
        }
      }
      side = side.filter((s) => s !== candidate);
    }
  }
  const removed: string[] = [];
  if (o.clean) {
    for (const s of side) {
      await Deno.remove(s.path, { recursive: true }).catch(() => {});
      removed.push(s.path);
    }
  }
  return { promoted, removed };
}

/**
 * Writes the folder atomically: everything goes into a side folder first, which then replaces
 * `dir`; a failure or a kill part way leaves the previous checkpoint at `dir`, or a complete copy
 * that recoverCheckpointFolder puts in its place.
 */
export async function writeFolderFiles(dir: string, files: CheckpointFiles): Promise<void> {
  const trimmed = dir.replace(/\/+$/, "");
  const stamp = `${Date.now()}-${Deno.pid}-${Math.floor(Math.random() * 1e9)}`;
  const temp = `${trimmed}.tmp-${stamp}`;
  const ready = `${trimmed}.new-${stamp}`;
  const old = `${trimmed}.old-${stamp}`;
  try {
    await recoverCheckpointFolder(trimmed, { clean: true });
    await Deno.mkdir(temp, { recursive: true });
    for (const [name, bytes] of files) await Deno.writeFile(joinPath(temp, name), bytes);
    await Deno.rename(temp, ready);
    // A directory cannot be renamed over a non-empty one: move the old one aside, then swap.
    let hadOld = false;
    try {
      await Deno.rename(trimmed, old);
      hadOld = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.rename(ready, trimmed);
    if (hadOld) await Deno.remove(old, { recursive: true });
  } catch (e) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    await Deno.remove(ready, { recursive: true }).catch(() => {});
    // The replaced folder goes back if the new one did not take its place.
    if (!(await exists(trimmed))) await Deno.rename(old, trimmed).catch(() => {});
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
