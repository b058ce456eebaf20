// POST /api/generate: sprites of one class, of several classes (a row each), or of explicit class
// vectors (mixtures), as a PNG grid or as JSON with one PNG data URL per sprite. The body is read by
// gpu/sample/request.ts, as `deno task sample`'s flags are; what is left here is HTTP: the body, the
// response format, and the answer.
import { encodePng, spriteGrid } from "../data/png.ts";
import { InputError } from "../errors.ts";
import { refuseUnknownFields } from "../gpu/runtime/fields.ts";
import {
  parseSamplingRequest,
  samplingFields,
  type SamplingForm,
  type SamplingRequest,
} from "../gpu/sample/request.ts";
import type { AppContext } from "./context.ts";
import { json, png, readJsonObject, route } from "./http.ts";

/** "png" or "json": the `format` field wins, then the Accept header; PNG by default. */
export function responseFormat(req: Request, o: Record<string, unknown>): "png" | "json" {
  if (o.format !== undefined) {
    if (o.format !== "png" && o.format !== "json") {
      throw new InputError(`format must be "png" or "json", got ${JSON.stringify(o.format)}`);
    }
    return o.format;
  }
  const accept = req.headers.get("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("image/png") ? "json" : "png";
}

export function dataUrl(png: Uint8Array): string {
  let s = "";
  for (let i = 0; i < png.length; i += 0x8000) {
    s += String.fromCharCode(...png.subarray(i, i + 0x8000));
  }
  return `data:image/png;base64,${btoa(s)}`;
}

/**
 * Runs a parsed request through the GPU worker's queue; answers with the grid PNG or JSON, timed.
 * A client that goes away while its request waits cancels it (`req.signal`).
 */
export async function spritesResponse(
  req: Request,
  ctx: AppContext,
  request: SamplingRequest,
  format: "png" | "json",
): Promise<Response> {
  const { job, rows, cols, scale } = request;
  const started = performance.now();
  const sprites = await ctx.worker.generate(job, req.signal);
  const ms = Math.round(performance.now() - started);
  // The size of the sprites themselves ([count, size, size, 3]), not ctx.model's: a model swapped in
  // while this job waited may have been trained at another sample_size.
  const size = Math.round(Math.sqrt(sprites.length / (job.count * 3)));
  const sprite = { spriteHeight: size, spriteWidth: size };
  const grid = spriteGrid(sprites, rows, cols, scale, sprite);
  const gridPng = encodePng(grid.rgb, grid.width, grid.height);
  const headers = { "x-generation-ms": String(ms), "x-seed": String(job.seed) };
  if (format === "png") return png(gridPng, headers);
  const px = size * size * 3;
  const one = (i: number) => {
    const g = spriteGrid(sprites.subarray(i * px, (i + 1) * px), 1, 1, scale, {
      ...sprite,
      gap: 0,
    });
    return dataUrl(encodePng(g.rgb, g.width, g.height));
  };
  return json(
    {
      count: job.count,
      rows,
      cols,
      steps: job.steps,
      eta: job.eta,
      seed: job.seed,
      guidance: job.guidance,
      scheduler: job.scheduler,
      ms,
      grid: dataUrl(gridPng),
      sprites: Array.from({ length: job.count }, (_, i) => one(i)),
    },
    200,
    headers,
  );
}

/** /api/generate's layouts: exactly one of class, classes or labels (no per-class grid here). */
const FORMS: readonly SamplingForm[] = ["class", "classes", "labels"];
const FIELDS = [...samplingFields(FORMS), "format"];

export const generateRoutes = [
  route("POST", "/api/generate", async (req, ctx) => {
    const body = await readJsonObject(req, ctx.limits.maxBodyBytes, ctx.limits.bodyTimeoutMs);
    refuseUnknownFields(body, FIELDS);
    const format = responseFormat(req, body);
    const request = parseSamplingRequest(body, {
      classNames: ctx.model.classNames,
      limits: ctx.limits,
      forms: FORMS,
    });
    return await spritesResponse(req, ctx, request, format);
  }),
];
