// GET /api/dataset: the report of the serving model's training data (counts per class before and
// after cleaning); GET /api/dataset/examples.png: sprites the cleaning removed or kept. The files
// are the ones the checkpoint names, else the bundled set, shown by name. Loaded once per file pair;
// files that do not fit the model (other classes) are a 409 naming them, never where they are.
import { type DatasetReport, datasetReport } from "../data/clean.ts";
import { classIndex } from "../gpu/sample/labels.ts";
import { encodePng, spriteGrid } from "../data/png.ts";
import { reportJson } from "../data/report.ts";
import { classIndices, loadSpriteDataset, type SpriteDataset } from "../data/sprites.ts";
import { InputError, inputErrorStatus } from "../errors.ts";
import type { ServingModel } from "./gpu_protocol.ts";
import { publicName } from "./serving_model.ts";
import { json, numberField, png, queryObject, route } from "./http.ts";

interface Loaded {
  files: { sprites: string; labels: string };
  dataset: SpriteDataset;
  report: DatasetReport;
  classes: Uint8Array;
}

const cache = new Map<string, Promise<Loaded>>();

function load(model: ServingModel): Promise<Loaded> {
  const files = model.trainingFiles;
  const key = `${files.sprites}\n${files.labels}\n${model.classNames.join(",")}`;
  let loaded = cache.get(key);
  if (!loaded) {
    loaded = (async () => {
      let dataset: SpriteDataset;
      try {
        dataset = await loadSpriteDataset(files.sprites, files.labels, model.classNames);
      } catch (e) {
        // Data that does not fit the model (other classes, say) is said so, by the files' names.
        if (inputErrorStatus(e) === undefined) throw e;
        let message = (e as Error).message;
        for (const f of [files.sprites, files.labels]) {
          message = message.replaceAll(f, publicName(f));
        }
        throw new InputError(`the served model's training data does not fit it: ${message}`, 409);
      }
      return { files, dataset, report: datasetReport(dataset), classes: classIndices(dataset) };
    })();
    cache.set(key, loaded);
    loaded.catch(() => cache.delete(key));
  }
  return loaded;
}

export const datasetRoutes = [
  route("GET", "/api/dataset", async (_req, ctx) => {
    const { report, files } = await load(ctx.model);
    // By name: where the server keeps its files is not the client's business.
    return json(reportJson(report, {
      sprites: publicName(files.sprites),
      labels: publicName(files.labels),
    }));
  }),
  route("GET", "/api/dataset/examples.png", async (req, ctx) => {
    const q = queryObject(new URL(req.url));
    const kind = q.kind ?? "removed";
    if (kind !== "removed" && kind !== "kept") {
      throw new InputError(`kind must be "removed" or "kept", got "${kind}"`);
    }
    const count = numberField(q.count, "count", 32, { min: 1, max: 256, integer: true });
    const scale = numberField(q.scale, "scale", 4, { min: 1, max: 16, integer: true });
    const { dataset, report, classes } = await load(ctx.model);
    const cls = q.class === undefined ? -1 : classIndex(dataset.classNames, q.class);
    const removed = new Set(report.removedIndices);
    const picked: number[] = [];
    for (let i = 0; i < dataset.count && picked.length < count; i++) {
      if (removed.has(i) === (kind === "removed") && (cls < 0 || classes[i] === cls)) {
        picked.push(i);
      }
    }
    const px = dataset.height * dataset.width * 3;
    const sprites = picked.map((i) => dataset.images.subarray(i * px, (i + 1) * px));
    const cols = Math.max(1, Math.min(sprites.length, 8));
    const rows = Math.max(1, Math.ceil(sprites.length / cols));
    const grid = spriteGrid(sprites, rows, cols, scale, {
      spriteHeight: dataset.height,
      spriteWidth: dataset.width,
    });
    return png(encodePng(grid.rgb, grid.width, grid.height), {
      "x-sprites": String(picked.length),
    });
  }),
];
