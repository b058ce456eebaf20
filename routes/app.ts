// The HTTP service as one function from Request to Response: the routes of every resource file,
// matched with URLPattern, and one error mapping (InputError -> its status, anything else -> 500 and
// a log line; the server keeps running either way). cli/serve.ts binds it to a socket; tests start it
// on a free port with a tiny model.
import { inputErrorStatus } from "../errors.ts";
import type { Gpu } from "../gpu/runtime/device.ts";
import { SpriteSampler } from "../gpu/sample/sampler.ts";
import type { SpriteModel } from "../gpu/model/sprite_model.ts";
import { classesRoutes } from "./classes.ts";
import { datasetRoutes } from "./dataset.ts";
import { generateRoutes } from "./generate.ts";
import { GenerationQueue } from "./generation_queue.ts";
import { gridRoutes, perClassRequest } from "./grid.ts";
import { healthRoutes } from "./health.ts";
import { type AppContext, DEFAULT_LIMITS, type Limits } from "./context.ts";
import { errorResponse, type Route } from "./http.ts";
import { modelRoutes } from "./model.ts";
import { modelFilesRoutes } from "./model_files.ts";
import { staticRoutes } from "./static.ts";
import { trainRoutes } from "./train.ts";

export interface AppOptions {
  gpu: Gpu;
  model: SpriteModel;
  /** Where the model came from (shown by /api/model; the training routes save next to it). */
  modelDir?: string;
  limits?: Partial<Limits>;
  allowTrain?: boolean;
  /** When set, the training routes need `Authorization: Bearer <token>` (or `?token=`). */
  token?: string;
  /** Where training jobs write their runs (default models/). */
  trainDir?: string;
  /** Compile the default grid program now rather than on the first request. */
  warm?: boolean;
}

export interface App {
  handler: (req: Request) => Promise<Response>;
  context: AppContext;
  /** Settles when the warm-up pass is done (at once without `warm`). */
  warmup: Promise<void>;
  close(): Promise<void>;
}

export function createApp(opts: AppOptions): App {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const context: AppContext = {
    gpu: opts.gpu,
    model: opts.model,
    modelDir: opts.modelDir,
    queue: new GenerationQueue(new SpriteSampler(opts.gpu, opts.model), limits.maxBatch),
    limits,
    allowTrain: opts.allowTrain ?? false,
    token: opts.token,
    trainDir: opts.trainDir ?? "models",
    startedAt: Date.now(),
    swapModel(model, dir) {
      this.model = model;
      this.modelDir = dir;
      this.queue.sampler = new SpriteSampler(this.gpu, model);
    },
    onClose: [],
  };
  const routes: Route[] = [
    ...healthRoutes,
    ...modelRoutes,
    ...modelFilesRoutes,
    ...classesRoutes,
    ...generateRoutes,
    ...gridRoutes,
    ...datasetRoutes,
    ...trainRoutes,
    ...staticRoutes,
  ];

  const handler = async (req: Request): Promise<Response> => {
    try {
      let allowed: string[] = [];
      for (const r of routes) {
        const match = r.pattern.exec(req.url);
        if (!match) continue;
        const method = req.method === "HEAD" ? "GET" : req.method;
        if (r.method === method) return await r.handle(req, context, match);
        allowed.push(r.method);
      }
      allowed = [...new Set(allowed)];
      if (allowed.length) {
        const res = errorResponse(
          405,
          `${req.method} is not allowed here; use ${allowed.join(", ")}`,
        );
        res.headers.set("allow", allowed.join(", "));
        return res;
      }
      return errorResponse(404, `no such route: ${new URL(req.url).pathname}`);
    } catch (e) {
      const status = inputErrorStatus(e);
      if (status !== undefined) return errorResponse(status, (e as Error).message);
      console.error(`${req.method} ${req.url}:`, e);
      return errorResponse(500, (e as Error)?.message ?? String(e));
    }
  };

  // The page's first request is the per-class grid: compile its program before anyone asks.
  const warmup = opts.warm
    ? context.queue.generate(perClassRequest(context).job)
      .then(() => {}, (e) => console.error("warm-up failed:", e))
    : Promise.resolve();

  return {
    handler,
    context,
    warmup,
    async close() {
      for (const hook of context.onClose) await hook();
      await warmup;
    },
  };
}
