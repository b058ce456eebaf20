// GET /api/model/files/:name: the serving checkpoint's own files, for the page that generates on
// the visitor's GPU (static/engine.ts). Exactly the four files a checkpoint is made of
// (CHECKPOINT_FILES: config, UNet and embedding weights, our JSON); any other name is a 404, and
// the name only picks one of the four, so no path reaches the disk. Read from the folder the model
// was loaded from (ctx.servingDir; a random-init model has none: 404, and the page uses the server).
// A strong ETag of the content and `cache-control: no-cache`: the browser keeps the files and on
// the next visit only revalidates them (304, no body), and a swapped model gets new tags.
import { CHECKPOINT_FILES } from "../gpu/formats/checkpoint.ts";
import { InputError } from "../errors.ts";
import { route } from "./http.ts";

export const MODEL_FILES_PATH = "/api/model/files/";

const TYPES: Record<string, string> = {
  [CHECKPOINT_FILES.config]: "application/json; charset=utf-8",
  [CHECKPOINT_FILES.unet]: "application/octet-stream",
  [CHECKPOINT_FILES.embedding]: "application/octet-stream",
  [CHECKPOINT_FILES.info]: "application/json; charset=utf-8",
};

/** ETags by path, valid while the file's size and modification time stay the same. */
const tags = new Map<string, { size: number; mtime: number; etag: string }>();

async function etagOf(path: string, body: Uint8Array, info: Deno.FileInfo): Promise<string> {
  const mtime = info.mtime?.getTime() ?? 0;
  const known = tags.get(path);
  if (known && known.size === info.size && known.mtime === mtime) return known.etag;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>),
  );
  const hex = [...digest.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const etag = `"${hex}"`;
  tags.set(path, { size: info.size, mtime, etag });
  return etag;
}

/** If-None-Match: "*", or a list of tags (weak ones compare by their value, as RFC 9110 says). */
function matches(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === "*" || tag === etag;
  });
}

export const modelFilesRoutes = [
  route("GET", `${MODEL_FILES_PATH}:name`, async (req, ctx, m) => {
    const name = m.pathname.groups.name ?? "";
    const type = Object.hasOwn(TYPES, name) ? TYPES[name] : undefined;
    if (!type) {
      throw new InputError(
        `no such model file: the files are ${Object.keys(TYPES).join(", ")}`,
        404,
      );
    }
    if (!ctx.servingDir) {
      throw new InputError("the served model is a random init: it has no files", 404);
    }
    const path = `${ctx.servingDir.replace(/\/+$/, "")}/${name}`;
    let body: Uint8Array;
    let info: Deno.FileInfo;
    try {
      [body, info] = await Promise.all([Deno.readFile(path), Deno.stat(path)]);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new InputError(`the served model has no ${name}`, 404);
      }
      throw e;
    }
    const etag = await etagOf(path, body, info);
    const headers = { etag, "cache-control": "no-cache", "x-content-type-options": "nosniff" };
    if (matches(req.headers.get("if-none-match"), etag)) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(body as Uint8Array<ArrayBuffer>, {
      headers: { ...headers, "content-type": type },
    });
  }),
];
