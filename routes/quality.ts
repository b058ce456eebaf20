// Measured quality of the served model over HTTP, the page's Quality tab: POST /api/quality starts
// the evaluation `deno task eval` runs (in the GPU worker, routes/quality_job.ts; one at a time),
// GET /api/quality shows its state (with report.json's contents once done), /api/quality/events
// streams its progress (Server-Sent Events, as /api/train/events does), and the two montages of
// the last finished one are PNGs. The body is read by the CLI's own parser (gpu/eval/settings.ts),
// with a smaller per-class bound; mixtures are off unless asked for.
import { InputError } from "../errors.ts";
import { DEFAULT_EVAL_SETTINGS } from "../gpu/eval/evaluate.ts";
import { EVAL_FIELD_NAMES, parseEvalSettings } from "../gpu/eval/settings.ts";
import { refuseUnknownFields } from "../gpu/runtime/fields.ts";
import type { AppContext } from "./context.ts";
import type { QualityView } from "./gpu_protocol.ts";
import { checkToken } from "./guard.ts";
import { IDLE_QUALITY } from "./quality_job.ts";
import { jobEvents, json, png, readJsonObject, type Route, route } from "./http.ts";

/** The page's defaults: a quick look (16 per class, no mixtures), at most 64 per class. */
export const QUALITY_DEFAULTS = { ...DEFAULT_EVAL_SETTINGS, perClass: 16, perPair: 0 };
export const QUALITY_MAX_PER_CLASS = 64;

const view = (ctx: AppContext): QualityView => ctx.worker.quality ?? IDLE_QUALITY;

async function start(req: Request, ctx: AppContext): Promise<Response> {
  checkToken(req, ctx, "an evaluation");
  const body = await readJsonObject(req, ctx.limits.maxBodyBytes, ctx.limits.bodyTimeoutMs);
  refuseUnknownFields(body, EVAL_FIELD_NAMES);
  // Each class's sprites are one generation request, which one pass must hold.
  const maxPerClass = Math.min(QUALITY_MAX_PER_CLASS, ctx.limits.maxBatch);
  const settings = parseEvalSettings(body, { maxPerClass }, QUALITY_DEFAULTS);
  if (view(ctx).status === "running") {
    throw new InputError("an evaluation is already running (one at a time)", 409);
  }
  return json(await ctx.worker.measure(settings), 202);
}

function events(ctx: AppContext): Response {
  const now = view(ctx);
  return jobEvents(
    now,
    now.status === "running",
    (event) => ctx.worker.onQuality((name, v) => event(name, name === "end" ? v : v.progress)),
  );
}

function montage(ctx: AppContext, which: "samples" | "nearest"): Response {
  const m = ctx.worker.montages;
  if (!m) {
    throw new InputError("no evaluation has finished yet (POST /api/quality starts one)", 404);
  }
  return png(m[which]);
}

export const qualityRoutes: Route[] = [
  route("GET", "/api/quality", (_req, ctx) => Promise.resolve(json(view(ctx)))),
  route("POST", "/api/quality", start),
  route("GET", "/api/quality/events", (_req, ctx) => Promise.resolve(events(ctx))),
  route("GET", "/api/quality/samples.png", (_req, ctx) => Promise.resolve(montage(ctx, "samples"))),
  route("GET", "/api/quality/nearest.png", (_req, ctx) => Promise.resolve(montage(ctx, "nearest"))),
];
