// GET /api/health: the service answers, which adapter it runs on, how busy the GPU queue is.
import { adapterLine } from "../gpu/runtime/device.ts";
import { json, route } from "./http.ts";

export const healthRoutes = [
  route("GET", "/api/health", (_req, ctx) =>
    Promise.resolve(json({
      ok: true,
      adapter: adapterLine(ctx.gpu),
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
      queue: ctx.queue.stats,
      training: ctx.allowTrain,
    }))),
];
