// GET /api/classes: the model's classes, by index.
import { json, route } from "./http.ts";

export const classesRoutes = [
  route("GET", "/api/classes", (_req, ctx) =>
    Promise.resolve(json({
      classes: ctx.model.classNames.map((name, index) => ({ index, name })),
    }))),
];
