// GET /api/grid.png: the per-class figure, one row per class, `per_class` sprites each; the same
// layout and seeds as `deno task sample` without --class, so both give the same sprites. Other query
// parameters are ignored (a cache-busting one, say), as they always were.
import {
  GRID_DEFAULTS,
  parseSamplingRequest,
  type SamplingRequest,
} from "../gpu/sample/request.ts";
import type { AppContext } from "./context.ts";
import { spritesResponse } from "./generate.ts";
import { queryObject, route } from "./http.ts";

/** The per-class grid a query asks for; with none, the default one. */
export function perClassRequest(
  ctx: AppContext,
  query: Record<string, unknown> = {},
): SamplingRequest {
  return parseSamplingRequest(query, {
    classNames: ctx.model.classNames,
    limits: ctx.limits,
    forms: ["per_class"],
  });
}

/**
 * The requests of the page's first view: a grid a class at the sprites tab's defaults, as its
 * `POST /api/generate`s ask for them (the service prepares them while it starts).
 */
export function pageGridJobs(ctx: AppContext): SamplingRequest["job"][] {
  return ctx.model.classNames.map((_, i) =>
    parseSamplingRequest({ class: i, ...GRID_DEFAULTS }, {
      classNames: ctx.model.classNames,
      limits: ctx.limits,
      forms: ["class"],
    }).job
  );
}

export const gridRoutes = [
  route("GET", "/api/grid.png", async (req, ctx) => {
    const request = perClassRequest(ctx, queryObject(new URL(req.url)));
    return await spritesResponse(req, ctx, request, "png");
  }),
];
