// `deno task eval` and `deno task subclasses` end to end on a tiny model and the toy sprite set:
// the table and JSON, the files, the classifier kept beside the model and reused; sub-classes that
// `deno task train` takes with their edited names, and that the trained model samples by name.
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { evalCommand } from "../../cli/eval.ts";
import { sampleCommand } from "../../cli/sample.ts";
import { subclassesCommand } from "../../cli/subclasses.ts";
import { trainCommand } from "../../cli/train.ts";
import { readClassNames, writeClassNames } from "../../data/class_names.ts";
import { loadSpriteModel, saveSpriteModel } from "../../data/model_folder.ts";
import { readNpy, writeNpy } from "../../data/npy.ts";
import { decodePngRgb } from "../../data/png.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { getGpu, tinyConfig } from "../util.ts";
import { TOY_CLASSES, toySprites } from "../eval/toy_sprites.ts";

const gpu = await getGpu();

async function withToyModel(fn: (dir: string, data: string[]) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cli_eval_" });
  try {
    const ds = toySprites(24);
    await writeNpy(`${dir}/sprites.npy`, ds.images, [ds.count, 16, 16, 3]);
    await writeNpy(`${dir}/labels.npy`, Float64Array.from(ds.labels), [ds.count, 4]);
    await writeClassNames(`${dir}/labels.names.txt`, TOY_CLASSES);
    await saveSpriteModel(gpu, `${dir}/model`, randomSpriteModel(gpu, tinyConfig, 2, TOY_CLASSES));
    await fn(dir, ["--sprites", `${dir}/sprites.npy`, "--labels", `${dir}/labels.npy`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs a command with console.log and console.error captured. */
async function captured(run: () => Promise<void>) {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    await run();
  } finally {
    Object.assign(console, { log, error });
  }
  return { out: out.join("\n"), err: err.join("\n") };
}

Deno.test("eval command: table, JSON and montages; the classifier is trained once, beside the model", async () => {
  await withToyModel(async (dir, data) => {
    const flags = [
      "--model",
      `${dir}/model`,
      ...data,
      "--per-class",
      "4",
      "--per-pair",
      "2",
      "--guidances",
      "1,2",
      "--steps",
      "2",
      "--classifier-epochs",
      "2",
      "--out",
      `${dir}/out`,
    ];
    const first = await captured(() => evalCommand(flags));
    ok(first.err.includes(`no classifier in ${dir}/model/classifier; training one`), first.err);
    ok(
      first.out.includes("0 red") && first.out.includes("cons g2") &&
        first.out.includes("red + green"),
    );
    const report = JSON.parse(await Deno.readTextFile(`${dir}/out/report.json`));
    assertEquals(report.classNames, TOY_CLASSES);
    assertEquals(report.consistency.map((c: { guidance: number }) => c.guidance), [1, 2]);
    assertEquals(report.mixtures[0].pairs.length, 6);
    const samples = decodePngRgb(await Deno.readFile(`${dir}/out/samples.png`));
    assertEquals([samples.width, samples.height], [4 * 50 + 2, 4 * 50 + 2]); // 16 px x 3 + 2
    const nearest = decodePngRgb(await Deno.readFile(`${dir}/out/nearest.png`));
    assertEquals([nearest.width, nearest.height], [16 * 50 + 2, 2 * 50 + 2]); // 16 pairs, 2 rows
    ok((await Deno.stat(`${dir}/model/classifier/classifier.safetensors`)).isFile);

    const again = await captured(() => evalCommand([...flags, "--json"]));
    ok(!/training one|trained now/.test(again.err), again.err);
    const json = JSON.parse(again.out);
    assertEquals(json.judge, report.judge);
    assertEquals(json.consistency, report.consistency, "same seeds, same sprites, same judge");

    await rejects(
      () => evalCommand(["--model", `${dir}/model`, "--sprites", "x.npy"]),
      /give both/,
    );
    await rejects(
      () => evalCommand(["--model", `${dir}/model`, ...data, "--guidances", "1,x"]),
      /--guidances must be a number/,
    );
  });
});

Deno.test("subclasses command: clusters as a data set that train takes, names as edited", async () => {
  await withToyModel(async (dir, data) => {
    const out = `${dir}/sub`;
    const printed = await captured(() =>
      subclassesCommand([
        "--model",
        `${dir}/model`,
        ...data,
        "--k",
        "3",
        "--restarts",
        "2",
        "--out",
        out,
      ])
    );
    ok(printed.err.includes("k-means, k = 3"), printed.err);
    const labels = await readNpy(`${out}/labels.npy`);
    assertEquals(labels.shape, [96, 3]);
    assertEquals(labels.dtype, "f8");
    const values = labels.data as Float64Array;
    for (let i = 0; i < 96; i++) {
      const row = Array.from(values.subarray(i * 3, i * 3 + 3));
      ok(row.filter((v) => v === 1).length === 1 && row.reduce((a, b) => a + b) === 1, `row ${i}`);
    }
    assertEquals((await readNpy(`${out}/sprites.npy`)).shape, [96, 16, 16, 3]);
    const names = await readClassNames(`${out}/labels.names.txt`);
    assertEquals(names.length, 3);
    for (let i = 0; i < 3; i++) ok((await Deno.stat(`${out}/cluster_${i}.png`)).isFile);
    const overview = decodePngRgb(await Deno.readFile(`${out}/clusters.png`));
    assertEquals([overview.width, overview.height], [16 * 50 + 2, 3 * 50 + 2]);
    const info = JSON.parse(await Deno.readTextFile(`${out}/clusters.json`));
    assertEquals(
      info.clusters.map((c: { size: number }) => c.size).reduce((a: number, b: number) => a + b),
      96,
    );

    // The person renames the clusters; train reads the names beside the labels.
    await writeClassNames(`${out}/labels.names.txt`, ["round", "long", "pointy"]);
    await Deno.writeTextFile(`${dir}/tiny.json`, JSON.stringify(tinyConfig));
    await captured(() =>
      trainCommand([
        "--config",
        `${dir}/tiny.json`,
        "--sprites",
        `${out}/sprites.npy`,
        "--labels",
        `${out}/labels.npy`,
        "--batch",
        "4",
        "--epochs",
        "1",
        "--freeze-epoch",
        "0",
        "--max-steps",
        "1",
        "--out",
        `${dir}/run`,
      ])
    );
    const model = await loadSpriteModel(gpu, `${dir}/run/checkpoint`);
    assertEquals(model.classNames, ["round", "long", "pointy"]);
    assertEquals(model.embedding.inFeatures, 3);
    await captured(() =>
      sampleCommand([
        "--model",
        `${dir}/run`,
        "--class",
        "long",
        "--count",
        "2",
        "--steps",
        "1",
        "--out",
        `${dir}/long.png`,
      ])
    );
    ok((await Deno.stat(`${dir}/long.png`)).isFile);

    // With --keep-classes the labels carry the class vector first.
    await captured(() =>
      subclassesCommand([
        "--model",
        `${dir}/model`,
        ...data,
        "--k",
        "2",
        "--restarts",
        "1",
        "--keep-classes",
        "--out",
        `${dir}/keep`,
      ])
    );
    assertEquals((await readNpy(`${dir}/keep/labels.npy`)).shape, [96, 6]);
    assertEquals((await readClassNames(`${dir}/keep/labels.names.txt`)).slice(0, 4), TOY_CLASSES);
    await rejects(() => subclassesCommand(["--model", `${dir}/model`]), /--k K is required/);
  });
});
