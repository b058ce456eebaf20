// Class names files: one name per line, in label-column order, for label files whose classes are
// not the course set's five (the sub-classes `deno task subclasses` finds, named by the person).
// A labels file `X.npy` takes its names from `X.names.txt` beside it unless told otherwise.
import { InputError } from "../errors.ts";
import { MAX_JSON_FILE_BYTES, readRegularFile } from "./files.ts";

/** `dir/labels.npy` -> `dir/labels.names.txt`. */
export function namesFileFor(labelsPath: string): string {
  return `${labelsPath.replace(/\.npy$/i, "")}.names.txt`;
}

/** The names in a names file: one per line; blank lines and lines starting with # are skipped. */
export function parseClassNames(text: string, what = "names file"): string[] {
  const names = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  if (!names.length) throw new InputError(`${what}: no class names (one name per line)`);
  const seen = new Set<string>();
  for (const n of names) {
    const key = n.toLowerCase();
    if (seen.has(key)) throw new InputError(`${what}: the class name "${n}" appears twice`);
    if (/^\d+$/.test(n)) {
      throw new InputError(
        `${what}: "${n}" is a number; names must not be, so a class can be ` +
          "asked for by index or by name",
      );
    }
    seen.add(key);
  }
  return names;
}

export async function readClassNames(path: string): Promise<string[]> {
  let text: string;
  try {
    text = new TextDecoder().decode(await readRegularFile(path, MAX_JSON_FILE_BYTES));
  } catch (e) {
    throw new InputError(`cannot read names file ${path}: ${(e as Error).message}`);
  }
  return parseClassNames(text, path);
}

/** Writes a names file with a comment header (kept as a comment when read back). */
export async function writeClassNames(path: string, names: string[], header = ""): Promise<void> {
  const comment = header ? header.split("\n").map((l) => `# ${l}`.trimEnd()).join("\n") + "\n" : "";
  await Deno.writeTextFile(path, comment + names.join("\n") + "\n");
}

/** The names file beside `labelsPath`, if there is one. */
export async function namesBeside(labelsPath: string): Promise<string[] | undefined> {
  const path = namesFileFor(labelsPath);
  try {
    await Deno.stat(path);
  } catch {
    return undefined;
  }
  return await readClassNames(path);
}
