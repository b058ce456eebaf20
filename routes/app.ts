// The HTTP service as one function from Request to Response: the request checks of routes/guard.ts,
// the routes of every resource file matched with URLPattern, and one error mapping (InputError ->
// its status, a client that went away -> nothing, anything else -> 500 and a log line; the server
// keeps running either way). The GPU work happens in a worker (routes/gpu_worker.ts) that the app
// starts; routes/server.ts binds the handler to a socket; tests start it on a free port.
import { ClientGoneError, inputErrorStatus } from "../errors.ts";
import { classesRoutes } from "./classes.ts";
import { datasetRoutes } from "./dataset.ts";
import { generateRoutes } from "./generate.ts";
import { GpuWorker } from "./gpu_client.ts";
import type { ModelSpec, WorkerInit } from "./gpu_protocol.ts";
import { gridRoutes, pageGridJobs } from "./grid.ts";
import { checkRequest } from "./guard.ts";
import { healthRoutes } from "./health.ts";
import {
  type AppContext,
  DEFAULT_LIMITS,
  DEFAULT_MAX_WORK,
  type Limits,
  LOOPBACK_HOSTS,
} from "./context.ts";
import { errorResponse, type Route } from "./http.ts";
import { modelRoutes } from "./model.ts";
import { modelFilesRoutes } from "./model_files.ts";
import { qualityRoutes } from "./quality.ts";
import { staticRoutes } from "./static.ts";
import { trainRoutes } from "./train.ts";

export interface AppOptions {
  /** The model to serve: a checkpoint folder, or a random init of a config. */
  model: ModelSpec;
  /** GEMM/conv operand precision of generation (default f32). */
  precision?: "f32" | "f16";
  /** Limits; maxWork defaults by adapter class (DEFAULT_MAX_WORK). */
  limits?: Partial<Limits>;
  allowTrain?: boolean;
  /** When set, the training routes need `Authorization: Bearer <token>`. */
  token?: string;
  /** Where training jobs write their runs (default runs/, which git ignores). */
  trainDir?: string;
  /** What training jobs train on (default: the bundled set, cleaned). */
  trainingData?: WorkerInit["trainingData"];
  /** Host names the server answers to besides loopback's (its own bind address, say). */
  allowedHosts?: readonly string[];
  /** The memory budget in bytes (default: from the adapter and the host, gpu/runtime/memory.ts). */
  memoryBudgetBytes?: number;
  /** Compile the default grid program now rather than on the first request. */
  warm?: boolean;
}

export interface App {
  handler: (req: Request) => Promise<Response>;
  context: AppContext;
  /** Settles when the warm-up pass is done (at once without `warm`). */
  warmup: Promise<void>;
  /**
   * Stops the training job (after its checkpoint), then the worker; `exiting`: the caller exits
   * the process next (GpuWorker.close).
   */
  close(options?: { exiting?: boolean }): Promise<void>;
}

/** Starts the GPU worker, loads the model and returns the app; bad input throws InputError. */
export async function createApp(opts: AppOptions): Promise<App> {
  const trainDir = opts.trainDir ?? "runs";
  const worker = await GpuWorker.start({
    model: opts.model,
    precision: opts.precision ?? "f32",
    maxBatch: opts.limits?.maxBatch ?? DEFAULT_LIMITS.maxBatch,
    memoryBudgetBytes: opts.memoryBudgetBytes,
    trainDir,
    trainingData: opts.trainingData,
  });
  const limits: Limits = {
    ...DEFAULT_LIMITS,
    maxWork: DEFAULT_MAX_WORK[worker.adapterKind],
    ...opts.limits,
  };
  const context: AppContext = {
    worker,
    get model() {
      return worker.model;
    },
    adapter: worker.adapter,
    limits,
    allowTrain: opts.allowTrain ?? false,
    token: opts.token,
    trainDir,
    servingDir: opts.model.kind === "folder" ? opts.model.dir : undefined,
    allowedHosts: [...new Set([...LOOPBACK_HOSTS, ...(opts.allowedHosts ?? [])])]
      .map((h) => h.toLowerCase().replace(/^\[|\]$/g, "")),
    startedAt: Date.now(),
    trainingStarting: false,
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
    ...qualityRoutes,
    ...staticRoutes,
  ];

  const handler = async (req: Request): Promise<Response> => {
    try {
      checkRequest(req, context);
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
      return errorResponse(404, `no such route: ${new URL(req.url).pathname.slice(0, 200)}`);
    } catch (e) {
      // Nobody is there to read an answer, or a log line about it.
      if (e instanceof ClientGoneError || req.signal.aborted) {
        return new Response(null, { status: 499 });
      }
      const status = inputErrorStatus(e);
      if (status !== undefined) {
        const res = errorResponse(status, (e as Error).message);
        // The rest of a body that timed out is not read: the connection cannot be reused.
        if (status === 408) res.headers.set("connection", "close");
        if (status === 503) res.headers.set("retry-after", "10");
        return res;
      }
      // The path only: a query string may hold what a client did not mean to have logged.
      console.error(`${req.method} ${new URL(req.url).pathname}:`, e);
      return errorResponse(500, "internal error (logged on the server)");
    }
  };

  // The page's first requests are a grid a class at its defaults (merged into one pass): run them
  // before anyone asks, which compiles that program, and keep their sprites, so that a visitor's
  // first view is answered at once.
  const warmup = opts.warm
    ? Promise.all(pageGridJobs(context).map((job) => worker.prepare(job)))
      .then(() => {}, (e) => console.error("warm-up failed:", (e as Error).message))
    : Promise.resolve();

  let closing: Promise<void> | undefined;
  return {
    handler,
    context,
    warmup,
    close(options) {
      closing ??= (async () => {
        for (const hook of context.onClose) await hook();
        await worker.close(options);
        await warmup;
      })();
      return closing;
    },
  };
}
