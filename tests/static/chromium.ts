// What the browser tests share: Debian's Chromium, headless through playwright-core, with a fresh
// profile each run and WebGPU on where a test asks for it (SwiftShader, a CPU adapter, on a machine
// without a GPU); and a plain static file server on loopback (the folder's files by path, content
// types by extension, nothing else), the kind of host an exported site is published on.
import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";

export const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
export const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
const inCi = Boolean(Deno.env.get("CI"));
/** Skip where there is no Chromium, except in CI, where its absence fails the test. */
export const skipBrowser = !hasChromium && !inCi;
if (skipBrowser) {
  console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh profile; `webgpu` exposes navigator.gpu (a SwiftShader adapter here). */
export async function launchChromium(
  { webgpu = false, viewport = { width: 1200, height: 900 } } = {},
): Promise<Browser> {
  if (!hasChromium) throw new Error(`CI is set but there is no Chromium at ${CHROMIUM}`);
  const profile = await Deno.makeTempDir({ prefix: "sprite-chromium-" });
  // A fresh profile each run (Playwright's persistent context is its --user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      ...(webgpu ? ["--enable-unsafe-webgpu"] : ["--disable-gpu"]),
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport,
  });
  return {
    context,
    async close() {
      await context.close();
      await Deno.remove(profile, { recursive: true });
    },
  };
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  png: "image/png",
};

export interface StaticServer {
  url: string;
  /** Every request's path and status, in order. */
  log: { path: string; status: number }[];
  close(): Promise<void>;
}

/**
 * Serves `mounts` (URL prefix -> folder) on a free loopback port, as a plain static host does: a
 * file by its path ("/" adds index.html), 404 for anything else, no API. GET and HEAD only.
 */
export function serveFolders(mounts: Record<string, string>): StaticServer {
  const log: StaticServer["log"] = [];
  const answer = async (req: Request): Promise<Response> => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (req.method !== "GET" && req.method !== "HEAD") return new Response(null, { status: 405 });
    if (path.split("/").includes("..")) return new Response(null, { status: 404 });
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      const file = `${dir.replace(/\/+$/, "")}/${
        rest === "" || rest.endsWith("/") ? `${rest}index.html` : rest
      }`;
      try {
        const body = await Deno.readFile(file);
        const type = TYPES[file.split(".").pop() ?? ""] ?? "application/octet-stream";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    }
    return new Response("not found", { status: 404 });
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const res = await answer(req);
    log.push({ path: new URL(req.url).pathname, status: res.status });
    return res;
  });
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`,
    log,
    close: () => server.shutdown(),
  };
}

/** Levels of 255 by which two WebGPU implementations may round a sprite's value apart. */
export const TOLERANCE = 2;

/**
 * Every sprite's RGBA pixels (img.sprite, decoded by the page itself), in page order: the class
 * cards' sprites, then the mixture's; `name` is "class/index".
 */
export function spritePixels(page: Page): Promise<{ name: string; rgba: number[] }[]> {
  return page.locator("img.sprite").evaluateAll((imgs) =>
    Promise.all(imgs.map(async (el) => {
      const img = el as HTMLImageElement;
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const context = canvas.getContext("2d")!;
      context.drawImage(img, 0, 0);
      const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
      return { name: `${img.dataset.class}/${img.dataset.index}`, rgba: Array.from(data) };
    }))
  );
}
