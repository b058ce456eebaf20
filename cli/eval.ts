// `deno task eval`: measured quality of a model (gpu/eval/evaluate.ts), judged by a sprite
// classifier trained by the project on the model's own training data (gpu/eval/judge.ts), which is
// kept beside the model and trained here when it is missing. Prints the table (or JSON with
// --json) and writes report.json and the montages into --out.
import { evalDataset, judgeFor, measureQuality, recordedDataSource } from "../data/eval_files.ts";
import { DEFAULT_MODEL_DIR, resolveModelDir } from "../data/model_source.ts";
import { loadSpriteModel } from "../data/model_folder.ts";
import { joinPath } from "../data/model_folder.ts";
import { InputError } from "../errors.ts";
import { DEFAULT_EVAL_SETTINGS, samplerGenerator } from "../gpu/eval/evaluate.ts";
import { EVAL_FIELD_NAMES, parseEvalSettings } from "../gpu/eval/settings.ts";
import { reportTable } from "../gpu/eval/table.ts";
import { adapterLine, getGpu } from "../gpu/runtime/device.ts";
import { SpriteSampler } from "../gpu/sample/sampler.ts";
import { flagFields, flagName, numberFlag, parseFlags } from "./args.ts";

const D = DEFAULT_EVAL_SETTINGS;
const help = `usage: deno task eval [--model DIR] [--sprites F.npy --labels G.npy [--names FILE]]
    [--json] [--out DIR]
  Measures a model against the real sprites it trained on (default: the data its run recorded,
  else the bundled set, cleaned), judged by a sprite classifier trained by this project on them,
  kept in classifier/ beside the model (trained here, in a few minutes, when missing).
  --per-class ${D.perClass}     sprites generated per class (fixed seeds)
  --per-pair ${D.perPair}      sprites per 50/50 mixture of two classes (0: no mixtures)
  --guidances ${D.guidances.join(",")}    consistency is measured at each guidance
  --guidance ${D.mainGuidance}       FID, near-copies, diversity and backgrounds at this guidance
                     (default: the page's)
  --steps ${D.steps}         DDIM steps (eta 0)
  --seed ${D.seed}           the sprites' noise
  --no-clean         keep the sprites the cleaning rule removes (with --sprites/--labels)
  --classifier DIR   the classifier's folder (default <model>/classifier, or <run>/classifier)
  --retrain-classifier   train a new classifier even if one is there
  --classifier-epochs N  its training length (default 20)
  --out DIR          where report.json, samples.png and nearest.png go (default out/eval)
  --json             print the report as JSON instead of the table`;

export async function evalCommand(argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    model: { type: "string" },
    sprites: { type: "string" },
    labels: { type: "string" },
    names: { type: "string" },
    "no-clean": { type: "boolean" },
    "per-class": { type: "string" },
    "per-pair": { type: "string" },
    guidances: { type: "string" },
    guidance: { type: "string" },
    steps: { type: "string" },
    seed: { type: "string" },
    classifier: { type: "string" },
    "retrain-classifier": { type: "boolean" },
    "classifier-epochs": { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  }, "eval");
  if (f.help) return console.log(help);
  if ((f.sprites === undefined) !== (f.labels === undefined)) {
    throw new InputError("give both --sprites and --labels, or neither (the model's own data)");
  }
  const settings = parseEvalSettings(
    flagFields(f, EVAL_FIELD_NAMES),
    { maxPerClass: 1024 },
    D,
    flagName,
  );
  const classifierEpochs = numberFlag(f["classifier-epochs"], "classifier-epochs", 20, {
    min: 1,
    max: 1000,
    integer: true,
  });
  const out = f.out ?? "out/eval";
  const modelDir = await resolveModelDir(f.model ?? DEFAULT_MODEL_DIR);
  const source = f.sprites !== undefined
    ? { sprites: f.sprites, labels: f.labels!, names: f.names ?? null, clean: !f["no-clean"] }
    : await recordedDataSource(modelDir);

  const gpu = await getGpu();
  console.error(adapterLine(gpu));
  const model = await loadSpriteModel(gpu, modelDir);
  const sampler = new SpriteSampler(gpu, model);
  const dataset = await evalDataset(source, model.classNames);
  if (dataset.height !== sampler.size || dataset.width !== sampler.size) {
    throw new InputError(
      `the sprites are ${dataset.height}x${dataset.width}; the model makes ${sampler.size}x` +
        `${sampler.size}`,
    );
  }
  console.error(
    `model: ${modelDir} (${model.classNames.length} classes: ${model.classNames.join(", ")})\n` +
      `data: ${source.sprites ?? "the bundled set"}, ${dataset.count} sprites` +
      `${source.clean ? " after cleaning" : ""}`,
  );
  const { judge, dir: judgeDir, trained } = await judgeFor(gpu, modelDir, dataset, {
    dir: f.classifier,
    retrain: f["retrain-classifier"],
    recipe: { epochs: classifierEpochs },
    onNote: (m) => console.error(m),
    onEpoch: (p) =>
      console.error(`classifier epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}`),
  });
  const acc = judge.heldOut.perClass.map((c) => `${c.name} ${(100 * c.accuracy).toFixed(1)}%`);
  console.error(
    `classifier: ${judgeDir}${trained ? " (trained now)" : ""}; held-out accuracy ` +
      `${(100 * judge.heldOut.accuracy).toFixed(1)}% (${acc.join(", ")})`,
  );

  const started = performance.now();
  const { report, result, montages } = await measureQuality(gpu, {
    generator: samplerGenerator(sampler, settings.steps),
    judge,
    dataset,
    settings,
    describe: { model: modelDir, data: source, classifier: judgeDir },
    onProgress: (stage, done, total) => {
      const s = ((performance.now() - started) / 1000).toFixed(0);
      console.error(`[${done}/${total}, ${s} s] ${stage}`);
    },
  });
  try {
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(joinPath(out, "report.json"), JSON.stringify(report, null, 2) + "\n");
    await Deno.writeFile(joinPath(out, "samples.png"), montages.samples);
    await Deno.writeFile(joinPath(out, "nearest.png"), montages.nearest);
  } catch (e) {
    throw new InputError(`cannot write into ${out}: ${(e as Error).message}`);
  }
  if (f.json) console.log(JSON.stringify(report, null, 2));
  else console.log(reportTable(result.report, `quality of ${relative(modelDir)}`));
  console.error(
    `wrote ${out}/report.json, ${out}/samples.png (a row per class) and ${out}/nearest.png ` +
      `(generated over nearest training sprite, closest first) in ` +
      `${result.report.seconds.toFixed(0)} s`,
  );
}

/** A path under the working folder without it (the shipped model's default is absolute). */
function relative(path: string): string {
  const cwd = `${Deno.cwd().replace(/\/+$/, "")}/`;
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}
