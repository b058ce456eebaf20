// POST /api/generate: sprites of one class, of several classes (a row each), or of explicit class
// vectors (mixtures), as a PNG grid or as JSON with one PNG data URL per sprite, or (Accept:
// text/event-stream) as a stream of progress events ending in that JSON. The body is read by
// gpu/sample/request.ts, as `deno task sample`'s flags are, `latents` (the starting noise) included;
// what is left here is HTTP: the body, the response format, and the answer. Its times are the
// generation's own (its GPU pass) and, apart, the wait before it.
import { encodePng, spriteGrid } from "../data/png.ts";
import { ClientGoneError, InputError, inputErrorStatus } from "../errors.ts";
import { refuseUnknownFields } from "../gpu/runtime/fields.ts";
import type { NoiseShape } from "../gpu/sample/latents.ts";
import {
  parseSamplingRequest,
  samplingFields,
  type SamplingForm,
  type SamplingRequest,
} from "../gpu/sample/request.ts";
import type { AppContext } from "./context.ts";
import type { Generated } from "./generation_queue.ts";
import { EVENT_STREAM_HEADERS, json, png, readJsonObject, route, STATUS_TEXT } from "./http.ts";

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

/** Whether the client asked for a stream of progress events (Accept: text/event-stream). */
export function wantsEvents(req: Request): boolean {
  return (req.headers.get("accept") ?? "").includes("text/event-stream");
}

/** The answer's parts: the grid PNG, each sprite's PNG, and the request's timing headers. */
function answer(request: SamplingRequest, made: Generated) {
  const { job, rows, cols, scale } = request;
  const { sprites } = made;
  // The size of the sprites themselves ([count, size, size, 3]), not ctx.model's: a model swapped in
  // while this job waited may have been trained at another sample_size.
  const size = Math.round(Math.sqrt(sprites.length / (job.count * 3)));
  const sprite = { spriteHeight: size, spriteWidth: size };
  const grid = spriteGrid(sprites, rows, cols, scale, sprite);
  const gridPng = encodePng(grid.rgb, grid.width, grid.height);
  // The generation's own time (its GPU pass), and apart from it the time spent waiting for it.
  const headers: Record<string, string> = {
    "x-generation-ms": String(made.pass.ms),
    "x-queue-ms": String(made.waitedMs),
    "x-seed": String(job.seed),
  };
  // Made while the service started (the page's first grids): ms is that pass's.
  if (made.prepared) headers["x-prepared"] = "1";
  const px = size * size * 3;
  const body = () => ({
    count: job.count,
    rows,
    cols,
    steps: job.steps,
    eta: job.eta,
    seed: job.seed,
    guidance: job.guidance,
    scheduler: job.scheduler,
    noise: job.latents ? "latents" : "seed",
    ms: made.pass.ms,
    queue_ms: made.waitedMs,
    pass: { requests: made.pass.requests, sprites: made.pass.sprites },
    prepared: made.prepared ?? false,
    grid: dataUrl(gridPng),
    sprites: Array.from({ length: job.count }, (_, i) => {
      const g = spriteGrid(sprites.subarray(i * px, (i + 1) * px), 1, 1, scale, {
        ...sprite,
        gap: 0,
      });
      return dataUrl(encodePng(g.rgb, g.width, g.height));
    }),
  });
  return { gridPng, headers, body };
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
  const made = await ctx.worker.generate(request.job, req.signal);
  const { gridPng, headers, body } = answer(request, made);
  if (format === "png") return png(gridPng, headers);
  return json(body(), 200, headers);
}

/**
 * The same request as Server-Sent Events: `queued` at once, `progress` {done, total} when its pass
 * begins (done 0) and after every denoising step, then `result` (the JSON answer) or `error`
 * ({error, detail, status}). A client that closes the stream cancels a request still waiting.
 */
export function spritesEvents(
  req: Request,
  ctx: AppContext,
  request: SamplingRequest,
): Response {
  const encoder = new TextEncoder();
  const gone = new AbortController();
  req.signal.addEventListener("abort", () => gone.abort(), { once: true });
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const event = (name: string, data: unknown) => {
        if (gone.signal.aborted) return;
        try {
          controller.enqueue(encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`));
        } catch { /* the client went away */ }
      };
      event("queued", { waiting: ctx.worker.stats.queue.waiting, steps: request.job.steps });
      try {
        const made = await ctx.worker.generate(
          request.job,
          gone.signal,
          (done, total) => event("progress", { done, total }),
        );
        event("result", answer(request, made).body());
      } catch (e) {
        const status = inputErrorStatus(e);
        if (status === undefined && !(e instanceof ClientGoneError)) {
          console.error("POST /api/generate (events):", e);
        }
        event("error", {
          error: STATUS_TEXT[status ?? 500] ?? `status ${status}`,
          detail: status === undefined
            ? "internal error (logged on the server)"
            : (e as Error).message,
          status: status ?? 500,
        });
      }
      try {
        controller.close();
      } catch { /* closed already */ }
    },
    cancel() {
      gone.abort();
    },
  });
  return new Response(body, { headers: EVENT_STREAM_HEADERS });
}

/** /api/generate's layouts: exactly one of class, classes or labels (no per-class grid here). */
const FORMS: readonly SamplingForm[] = ["class", "classes", "labels"];
const FIELDS = [...samplingFields(FORMS, { latents: true }), "format"];

/** One sprite's starting noise for the serving model: [in_channels, sample_size, sample_size]. */
export function noiseShape(ctx: AppContext): NoiseShape {
  const c = ctx.model.config;
  return [c.in_channels, c.sample_size ?? 0, c.sample_size ?? 0];
}

export const generateRoutes = [
  route("POST", "/api/generate", async (req, ctx) => {
    const body = await readJsonObject(req, ctx.limits.maxBodyBytes, ctx.limits.bodyTimeoutMs);
    refuseUnknownFields(body, FIELDS);
    const format = responseFormat(req, body);
    const request = parseSamplingRequest(body, {
      classNames: ctx.model.classNames,
      limits: ctx.limits,
      forms: FORMS,
      noiseShape: noiseShape(ctx),
    });
    if (wantsEvents(req)) return spritesEvents(req, ctx, request);
    return await spritesResponse(req, ctx, request, format);
  }),
];
