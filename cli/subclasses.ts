// `deno task subclasses --k K`: the tutorial's closing idea, built. k-means (k-means++ seeding,
// seeded restarts) on the UNet's mid-block features of the training sprites at a fixed timestep
// (gpu/eval/features.ts, gpu/eval/kmeans.ts); a montage per cluster; and a data set that `deno task
// train` takes as it is: the sprites, labels of width K (or C + K with --keep-classes) and a names
// file beside them, with a default name per cluster for the person to edit.
import { writeClassNames } from "../data/class_names.ts";
import { evalDataset, recordedDataSource } from "../data/eval_files.ts";
import { joinPath, loadSpriteModel } from "../data/model_folder.ts";
import { DEFAULT_MODEL_DIR, resolveModelDir } from "../data/model_source.ts";
import { writeNpy } from "../data/npy.ts";
import { encodePng, spriteGrid } from "../data/png.ts";
import { InputError } from "../errors.ts";
import { midBlockFeatures } from "../gpu/eval/features.ts";
import { kmeans } from "../gpu/eval/kmeans.ts";
import { describeClusters, subclassLabels } from "../gpu/eval/subclasses.ts";
import { adapterLine, getGpu } from "../gpu/runtime/device.ts";
import { classIndices } from "../gpu/train/dataset.ts";
import { numberFlag, parseFlags } from "./args.ts";

const help = `usage: deno task subclasses --k K [--model DIR] [--sprites F.npy --labels G.npy]
    [--keep-classes] [--timestep 300] [--restarts 8] [--seed 0] [--out DIR]
  Clusters the model's training sprites (default: the data its run recorded, else the bundled set,
  cleaned) by the UNet's mid-block features at one timestep, conditioned on "no class", and
  writes into --out (default out/subclasses-k<K>):
    sprites.npy, labels.npy     the sprites and one-hot cluster labels [N, K] (with
                                --keep-classes: the class vector first, [N, classes + K])
    labels.names.txt            a name per label column: edit it, train reads it
    cluster_<i>.png, clusters.png   each cluster, closest to its centre first; all, a row each
    clusters.json               sizes, classes per cluster, inertia of every restart
  Then: deno task train --config compact --sprites DIR/sprites.npy --labels DIR/labels.npy ...
  --timestep T    the noise level the sprites are encoded at (0-999; default 300: the coarse
                  shape survives, exact colours do not, so clusters follow what the object is)
  --restarts R    k-means++ seedings, the lowest inertia kept (default 8)`;

export async function subclassesCommand(argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    k: { type: "string" },
    model: { type: "string" },
    sprites: { type: "string" },
    labels: { type: "string" },
    names: { type: "string" },
    "no-clean": { type: "boolean" },
    "keep-classes": { type: "boolean" },
    timestep: { type: "string" },
    restarts: { type: "string" },
    seed: { type: "string" },
    "per-cluster": { type: "string" },
    out: { type: "string" },
    help: { type: "boolean" },
  }, "subclasses");
  if (f.help) return console.log(help);
  if (f.k === undefined) throw new InputError("subclasses: --k K is required (the clusters)");
  const k = numberFlag(f.k, "k", 0, { min: 1, max: 256, integer: true });
  const timestep = numberFlag(f.timestep, "timestep", 300, { min: 0, max: 999, integer: true });
  const restarts = numberFlag(f.restarts, "restarts", 8, { min: 1, max: 1000, integer: true });
  const seed = numberFlag(f.seed, "seed", 0, { min: 0, max: 2 ** 32 - 1, integer: true });
  const perCluster = numberFlag(f["per-cluster"], "per-cluster", 64, {
    min: 1,
    max: 4096,
    integer: true,
  });
  if ((f.sprites === undefined) !== (f.labels === undefined)) {
    throw new InputError("give both --sprites and --labels, or neither (the model's own data)");
  }
  const out = f.out ?? `out/subclasses-k${k}`;
  const modelDir = await resolveModelDir(f.model ?? DEFAULT_MODEL_DIR);
  const source = f.sprites !== undefined
    ? { sprites: f.sprites, labels: f.labels!, names: f.names ?? null, clean: !f["no-clean"] }
    : await recordedDataSource(modelDir);

  const gpu = await getGpu();
  console.error(adapterLine(gpu));
  const model = await loadSpriteModel(gpu, modelDir);
  const ds = await evalDataset(source, model.classNames);
  if (ds.height !== model.config.sample_size) {
    throw new InputError(
      `the sprites are ${ds.height}x${ds.width}; the model's are ` +
        `${model.config.sample_size}x${model.config.sample_size}`,
    );
  }
  if (k > ds.count) throw new InputError(`--k ${k}: there are only ${ds.count} sprites`);
  console.error(`encoding ${ds.count} sprites at timestep ${timestep} with ${modelDir}`);
  const started = performance.now();
  const { features, dim, shape } = await midBlockFeatures(gpu, model, ds.images, ds.count, {
    timestep,
    seed,
    onProgress: (done, total) => {
      if (done === total || done % 640 === 0) console.error(`  ${done}/${total} sprites`);
    },
  });
  console.error(`mid-block features [${shape}] = ${dim} values per sprite; k-means, k = ${k}`);
  const result = kmeans(features, ds.count, dim, { k, restarts, seed });
  const classes = classIndices(ds);
  const clusters = describeClusters(result, classes, ds.classNames);

  const px = ds.height * ds.width * 3;
  const sprite = (i: number) => ds.images.subarray(i * px, (i + 1) * px);
  const grid = { spriteHeight: ds.height, spriteWidth: ds.width };
  const png = (cells: Uint8Array[], rows: number, cols: number) => {
    const g = spriteGrid(cells, rows, cols, 3, grid);
    return encodePng(g.rgb, g.width, g.height);
  };
  const names = f["keep-classes"]
    ? [...ds.classNames, ...clusters.map((c) => c.name)]
    : clusters.map((c) => c.name);
  const labels = subclassLabels(
    result.assignment,
    k,
    f["keep-classes"] ? { values: ds.labels, width: ds.classNames.length } : undefined,
  );
  const width = labels.length / ds.count;
  const digits = String(k - 1).length;
  try {
    await Deno.mkdir(out, { recursive: true });
    await writeNpy(joinPath(out, "sprites.npy"), ds.images.slice(0, ds.count * px), [
      ds.count,
      ds.height,
      ds.width,
      3,
    ]);
    await writeNpy(joinPath(out, "labels.npy"), labels, [ds.count, width]);
    const summary = clusters.map((c) =>
      `${c.name}: cluster ${c.index}, ${c.size} sprites (` +
      c.classes.flatMap((n, j) => (n ? [`${n} ${ds.classNames[j]}`] : [])).join(", ") + ")"
    );
    await writeClassNames(
      joinPath(out, "labels.names.txt"),
      names,
      `Class names of labels.npy, one per column, in order: edit them, keep the order.\n` +
        `k-means on ${modelDir}'s mid-block features at timestep ${timestep}, k = ${k}:\n` +
        summary.join("\n"),
    );
    for (const c of clusters) {
      const cells = Array.from(c.members.subarray(0, perCluster), sprite);
      const cols = Math.min(16, Math.max(1, cells.length));
      const file = `cluster_${String(c.index).padStart(digits, "0")}.png`;
      await Deno.writeFile(
        joinPath(out, file),
        png(cells, Math.ceil(cells.length / cols) || 1, cols),
      );
    }
    const overview: Uint8Array[] = [];
    const blank = new Uint8Array(px).fill(128);
    for (const c of clusters) {
      for (let j = 0; j < 16; j++) {
        overview.push(j < c.members.length ? sprite(c.members[j]) : blank);
      }
    }
    await Deno.writeFile(joinPath(out, "clusters.png"), png(overview, k, 16));
    await Deno.writeTextFile(
      joinPath(out, "clusters.json"),
      JSON.stringify(
        {
          model: modelDir,
          data: source,
          k,
          timestep,
          seed,
          features: shape,
          inertia: result.inertia,
          restarts: result.restarts,
          best_restart: result.best,
          labels_width: width,
          clusters: clusters.map((c) => ({
            index: c.index,
            name: c.name,
            size: c.size,
            classes: Object.fromEntries(c.classes.map((n, j) => [ds.classNames[j], n])),
          })),
        },
        null,
        2,
      ) + "\n",
    );
  } catch (e) {
    throw new InputError(`cannot write into ${out}: ${(e as Error).message}`);
  }
  for (const c of clusters) {
    const mix = c.classes.flatMap((n, j) => (n ? [`${ds.classNames[j]} ${n}`] : [])).join(", ");
    console.log(
      `${String(c.index).padStart(digits)}  ${c.name.padEnd(16)} ${
        String(c.size).padStart(5)
      }  ${mix}`,
    );
  }
  console.error(
    `wrote ${out}/ in ${((performance.now() - started) / 1000).toFixed(0)} s: sprites.npy, ` +
      `labels.npy [${ds.count}, ${width}], labels.names.txt (edit the names), ` +
      `cluster_*.png, clusters.png, clusters.json\n` +
      `train on it: deno task train --config compact --sprites ${out}/sprites.npy ` +
      `--labels ${out}/labels.npy`,
  );
}
