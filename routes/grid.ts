// GET /api/grid.png: the per-class figure, one row per class, `per_class` sprites each; the same
// layout and seeds as `deno task sample` without --class, so both give the same sprites.
import { oneHot, repeatVector } from "../gpu/sample/labels.ts";
import type { AppContext } from "./context.ts";
import { type SamplingOptions, samplingOptions, scaleOption, spritesResponse } from "./generate.ts";
import type { GenerationJob } from "./generation_queue.ts";
import { numberField, queryObject, route } from "./http.ts";

export function perClassJob(
  ctx: AppContext,
  o: SamplingOptions & { perClass: number },
): GenerationJob {
  const k = ctx.model.classNames.length;
  const labels = new Float32Array(k * o.perClass * k);
  for (let c = 0; c < k; c++) {
    labels.set(repeatVector(oneHot(k, c), o.perClass), c * o.perClass * k);
  }
  return { ...o, labels, count: k * o.perClass };
}

export const gridRoutes = [
  route("GET", "/api/grid.png", async (req, ctx) => {
    const q = queryObject(new URL(req.url));
    const perClass = numberField(q.per_class, "per_class", 4, {
      min: 1,
      max: ctx.limits.maxPerClass,
      integer: true,
    });
    const job = perClassJob(ctx, { ...samplingOptions(q), perClass });
    const rows = ctx.model.classNames.length;
    return await spritesResponse(ctx, job, { rows, cols: perClass, scale: scaleOption(q) }, "png");
  }),
];
