// GET /api/grid.png: the per-class figure, one row per class, `per_class` sprites each; the same
// layout and seeds as `deno task sample` without --class, so both give the same sprites. Other query
// parameters are ignored (a cache-busting one, say), as they always were.
import { parseSamplingRequest, type SamplingRequest } from "../gpu/sample/request.ts";
import type { AppContext } from "./context.ts";
import { spritesResponse } from "./generate.ts";
import { queryObject, route } from "./http.ts";

/** The per-class grid a query asks for; with none, the default one (the server warms it up). */
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

export const gridRoutes = [
  route("GET", "/api/grid.png", async (req, ctx) => {
    const request = perClassRequest(ctx, queryObject(new URL(req.url)));
    return await spritesResponse(req, ctx, request, "png");
  }),
];
