// GET /api/health: the service answers, which adapter it runs on, how busy the GPU queue is, the
// memory budget and what holds it. Answered from the worker's last stats, never by waiting for it,
// so it stays fast during any pass; 503 when the GPU worker has stopped.
import { json, route } from "./http.ts";

export const healthRoutes = [
  route("GET", "/api/health", (_req, ctx) => {
    const down = ctx.worker.down;
    const { queue, memory, trainingSteps } = ctx.worker.stats;
    return Promise.resolve(json({
      ok: !down,
      ...(down && { error: down }),
      adapter: ctx.adapter,
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
      queue,
      memory,
      trainingSteps,
      training: ctx.allowTrain,
      // What one sampling request may ask for: the page checks its fields against these.
      limits: {
        maxCount: ctx.limits.maxCount,
        maxPerClass: ctx.limits.maxPerClass,
        maxScale: ctx.limits.maxScale,
        maxWork: ctx.limits.maxWork,
      },
      job: ctx.worker.job?.status ?? "idle",
    }, down ? 503 : 200));
  }),
];
