// A server that serves a tiny model folder trained on nothing, with the toy sprite set
// (tests/eval/toy_sprites.ts) as its training data: what the quality routes and the Quality tab are
// tested on. `judge: true` makes the classifier beside the model first, as `deno task eval` does.
import { writeClassNames } from "../../data/class_names.ts";
import { evalDataset, judgeFor } from "../../data/eval_files.ts";
import { saveSpriteModel } from "../../data/model_folder.ts";
import { writeNpy } from "../../data/npy.ts";
import type { Judge } from "../../gpu/eval/judge.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import type { SpriteDataset } from "../../gpu/train/dataset.ts";
import { TOY_CLASSES, toySprites } from "../eval/toy_sprites.ts";
import { getGpu, tinyConfig } from "../util.ts";
import { startTestServer, type TestServer } from "./helpers.ts";

export interface ToyServer {
  server: TestServer;
  dir: string;
  modelDir: string;
  /** The toy set as the server loads it (cleaned, the model's class names). */
  dataset: SpriteDataset;
  /** Makes the classifier beside the model (2 epochs) and returns it. */
  makeJudge: () => Promise<Judge>;
}

export async function withToyServer(fn: (t: ToyServer) => Promise<void>): Promise<void> {
  const gpu = await getGpu();
  const dir = await Deno.makeTempDir({ prefix: "quality_toy_" });
  const ds = toySprites(24);
  await writeNpy(`${dir}/sprites.npy`, ds.images, [ds.count, 16, 16, 3]);
  await writeNpy(`${dir}/labels.npy`, Float64Array.from(ds.labels), [ds.count, 4]);
  await writeClassNames(`${dir}/labels.names.txt`, TOY_CLASSES);
  const modelDir = `${dir}/model`;
  await saveSpriteModel(gpu, modelDir, randomSpriteModel(gpu, tinyConfig, 2, TOY_CLASSES));
  const data = { sprites: `${dir}/sprites.npy`, labels: `${dir}/labels.npy`, clean: true };
  const dataset = await evalDataset(data, TOY_CLASSES);
  const server = await startTestServer({
    model: { kind: "folder", dir: modelDir },
    trainingData: data,
  });
  const makeJudge = async () =>
    (await judgeFor(gpu, modelDir, dataset, { recipe: { epochs: 2 } })).judge;
  try {
    await fn({ server, dir, modelDir, dataset, makeJudge });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}
