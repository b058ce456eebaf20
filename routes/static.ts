// The page: files from static/ only, by name, with their content types. A name is one path
// segment without a leading dot, and one of the files static/ held when the server started, so
// nothing outside static/ (or hidden inside it) can be reached however the path is encoded, and no
// name a client makes up reaches the file system (a 300-character one used to fail there).
import { InputError } from "../errors.ts";
import { route } from "./http.ts";

export const STATIC_DIR = decodeURIComponent(new URL("../static/", import.meta.url).pathname);

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
  ico: "image/x-icon",
  json: "application/json; charset=utf-8",
};

let listing: Promise<Set<string>> | undefined;

/** The names of static/'s files, read once. */
function staticNames(): Promise<Set<string>> {
  listing ??= (async () => {
    const names = new Set<string>();
    for await (const e of Deno.readDir(STATIC_DIR)) if (e.isFile) names.add(e.name);
    return names;
  })();
  return listing;
}

async function serveFile(name: string): Promise<Response> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    throw new InputError(`bad file name "${name.slice(0, 100)}"`);
  }
  const type = TYPES[decoded.split(".").pop() ?? ""];
  if (
    !/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/.test(decoded) || decoded.includes("..") || !type ||
    !(await staticNames()).has(decoded)
  ) {
    throw new InputError(`no such file: ${decoded.slice(0, 100)}`, 404);
  }
  let body: Uint8Array;
  try {
    body = await Deno.readFile(STATIC_DIR + decoded);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputError(`no such file: ${decoded}`, 404);
    throw e;
  }
  return new Response(body as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": type, "cache-control": "no-cache" },
  });
}

export const staticRoutes = [
  route("GET", "/", () => serveFile("index.html")),
  // What browsers (and bookmarks, and feed readers) ask for without reading the page's <link>.
  route("GET", "/favicon.ico", () => serveFile("favicon.png")),
  route("GET", "/static/:name", (_req, _ctx, m) => serveFile(m.pathname.groups.name ?? "")),
];
