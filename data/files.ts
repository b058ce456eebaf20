// Reading a file the person named, safely: only regular files (a FIFO would block the read forever,
// /dev/zero would never end), and only up to a size the caller names, checked before a byte is read.
// Errors other than a missing file come back as FileReadError, whose message names the path; each
// caller turns it into its own error type (a bad flag, a bad checkpoint).

export class FileReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FileReadError";
  }
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/**
 * The size of `path` if it is a regular file (symlinks followed) of at most `maxBytes`; a missing
 * file throws Deno.errors.NotFound, anything else FileReadError.
 */
export async function regularFileSize(path: string, maxBytes: number): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw e;
    throw new FileReadError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (!info.isFile) throw new FileReadError(`${path} is ${kindOf(info)}, not a regular file`);
  if (info.size > maxBytes) {
    throw new FileReadError(
      `${path} is ${info.size} bytes, over the limit of ${maxBytes} for this file`,
    );
  }
  return info.size;
}

/** Reads a whole regular file of at most `maxBytes` (see regularFileSize). */
export async function readRegularFile(path: string, maxBytes: number): Promise<Uint8Array> {
  await regularFileSize(path, maxBytes);
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw e;
    throw new FileReadError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** The first `length` bytes of a file (fewer if it is shorter). */
export async function readPrefix(path: string, length: number): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const out = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      const n = await file.read(out.subarray(at));
      if (n === null) break;
      at += n;
    }
    return out.subarray(0, at);
  } finally {
    file.close();
  }
}

/** Large files the project reads: checkpoints' safetensors and .npy datasets. */
export const MAX_DATA_FILE_BYTES = 8 * 2 ** 30;
/** JSON files beside them (config.json, training_state.json, ...). */
export const MAX_JSON_FILE_BYTES = 16 * 2 ** 20;
