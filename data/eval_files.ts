// What `deno task eval` (and the page's Quality tab) needs from disk besides the model: the real
// sprites the model trained on, the judge beside the model (trained and saved when missing or made
// for other data), and the montages of an evaluation as PNG.
import {
  type EvalReport,
  type EvalResult,
  type EvalSettings,
  evaluate,
  type SpriteGenerator,
} from "../gpu/eval/evaluate.ts";
import {
  datasetFingerprint,
  DEFAULT_JUDGE_RECIPE,
  type Judge,
  type JudgeProgress,
  type JudgeRecipe,
  judgeSplit,
  trainJudge,
} from "../gpu/eval/judge.ts";
import type { Gpu } from "../gpu/runtime/device.ts";
import type { SpriteDataset } from "../gpu/train/dataset.ts";
import { TRAINING_STATE_FILE } from "../gpu/train/checkpoint.ts";
import { isBadSprite } from "./clean.ts";
import { InputError } from "../errors.ts";
import { JUDGE_DIR, judgeDirFor, loadJudge, saveJudge } from "./judge_folder.ts";
import { joinPath } from "./model_folder.ts";
import { encodePng, spriteGrid } from "./png.ts";
import { readTrainingState } from "./run_folder.ts";
import { type DataSource, dataSourceOf, loadTrainingSet } from "./training_set.ts";

/**
 * The data a model folder records it trained on (a run's training_state.json), else `fallback`
 * (the bundled set, cleaned, unless told another).
 */
export async function recordedDataSource(
  modelDir: string,
  fallback: DataSource = { sprites: null, labels: null, clean: true },
): Promise<DataSource> {
  try {
    await Deno.stat(joinPath(modelDir, TRAINING_STATE_FILE));
  } catch {
    return fallback;
  }
  return dataSourceOf((await readTrainingState(modelDir)).extra.data);
}

/** The cleaned (unless told otherwise) real sprites, named with the model's classes. */
export async function evalDataset(src: DataSource, classNames: string[]): Promise<SpriteDataset> {
  return (await loadTrainingSet(src, classNames)).dataset;
}

export interface JudgeChoice {
  /** Where the judge lives; default beside the model. */
  dir?: string;
  /** Train a new one even if one is there. */
  retrain?: boolean;
  recipe?: Partial<JudgeRecipe>;
  onEpoch?: (p: JudgeProgress) => void;
  /** Told why a judge is (re)trained. */
  onNote?: (message: string) => void;
}

/**
 * The judge for `dataset`: the one in the folder if it was trained on these very sprites with
 * these class names, else a new one, trained here and saved there.
 */
export async function judgeFor(
  gpu: Gpu,
  modelDir: string,
  dataset: SpriteDataset,
  choice: JudgeChoice = {},
): Promise<{ judge: Judge; dir: string; trained: boolean }> {
  const dir = choice.dir ?? judgeDirFor(modelDir);
  const note = choice.onNote ?? (() => {});
  const existing = choice.retrain ? undefined : await loadJudge(dir);
  const fingerprint = datasetFingerprint(dataset);
  if (existing) {
    const sameNames = existing.classNames.join("\n") === dataset.classNames.join("\n");
    if (existing.data.fingerprint === fingerprint && sameNames) {
      return { judge: existing, dir, trained: false };
    }
    note(
      `the classifier in ${dir} was trained on other data (${existing.data.fingerprint}, ` +
        `classes ${existing.classNames.join(", ")}); training a new one`,
    );
  } else if (!choice.retrain) note(`no classifier in ${dir}; training one`);
  const judge = await trainJudge(
    gpu,
    dataset,
    { ...DEFAULT_JUDGE_RECIPE, ...choice.recipe },
    choice.onEpoch,
  );
  await saveJudge(dir, judge);
  return { judge, dir, trained: true };
}

/**
 * The judge kept beside the model for `dataset`, never trained here (the service's case): a missing
 * one, or one made for other sprites, is a 409 that says how to make it.
 */
export async function keptJudgeFor(
  modelDir: string,
  dataset: SpriteDataset,
): Promise<{ judge: Judge; dir: string }> {
  const dir = judgeDirFor(modelDir);
  const judge = await loadJudge(dir);
  const make = "make one with `deno task eval --model DIR` (it trains one there in a few minutes)";
  if (!judge) {
    throw new InputError(
      `the served model has no classifier (${JUDGE_DIR}/ beside it): ${make}`,
      409,
    );
  }
  const sameNames = judge.classNames.join("\n") === dataset.classNames.join("\n");
  if (judge.data.fingerprint !== datasetFingerprint(dataset) || !sameNames) {
    throw new InputError(
      `the served model's classifier was trained on other sprites than the model's own: ${make}`,
      409,
    );
  }
  return { judge, dir };
}

/** The held-out split the judge was measured on (the same seeded split). */
export function heldOutOf(dataset: SpriteDataset, judge: Judge): Uint32Array {
  return judgeSplit(dataset, judge.recipe).heldOut;
}

/** The cleaning rule as the evaluation's background check. */
export function passesCleaningFor(size: number) {
  return (images: Uint8Array, i: number) => !isBadSprite(images, i, size, size);
}

export interface Montages {
  /** One row per class: the first `perRow` generated sprites at the main guidance. */
  samples: Uint8Array;
  /** Generated sprites (upper row of each pair of rows) over their nearest training sprite. */
  nearest: Uint8Array;
}

/** The evaluation's montages as PNG bytes. */
export function evalMontages(
  result: EvalResult,
  dataset: SpriteDataset,
  o: { perRow?: number; pairs?: number; scale?: number } = {},
): Montages {
  const size = dataset.height;
  const px = size * size * 3;
  const K = result.report.classNames.length;
  const N = result.report.settings.perClass;
  const perRow = Math.min(o.perRow ?? 16, N);
  const scale = o.scale ?? 3;
  const grid = { spriteHeight: size, spriteWidth: size };
  const rows: Uint8Array[] = [];
  for (let c = 0; c < K; c++) {
    for (let i = 0; i < perRow; i++) {
      const at = (c * N + i) * px;
      rows.push(result.samples.subarray(at, at + px));
    }
  }
  const s = spriteGrid(rows, K, perRow, scale, grid);
  const pairs = result.nearest.slice(0, o.pairs ?? 48);
  const cols = 16;
  const cells: Uint8Array[] = [];
  const blank = new Uint8Array(px).fill(128);
  for (let start = 0; start < pairs.length; start += cols) {
    const block = pairs.slice(start, start + cols);
    const pad = (list: Uint8Array[]) => [...list, ...Array(cols - list.length).fill(blank)];
    cells.push(
      ...pad(block.map((p) => result.samples.subarray(p.sample * px, (p.sample + 1) * px))),
    );
    cells.push(
      ...pad(block.map((p) => dataset.images.subarray(p.training * px, (p.training + 1) * px))),
    );
  }
  const n = spriteGrid(cells, cells.length / cols, cols, scale, grid);
  return {
    samples: encodePng(s.rgb, s.width, s.height),
    nearest: encodePng(n.rgb, n.width, n.height),
  };
}

/** What a report says it measured: the model, its data and its judge, as the front end names them. */
export interface QualityLabels {
  model: string;
  data: unknown;
  classifier: string;
}

export type QualityReport = QualityLabels & EvalReport;

export interface QualityInputs {
  generator: SpriteGenerator;
  judge: Judge;
  dataset: SpriteDataset;
  settings: EvalSettings;
  describe: QualityLabels;
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Awaited between the evaluation's stages (the service lets other work run there). */
  between?: () => Promise<void>;
}

/**
 * The one evaluation both front ends run (`deno task eval`, POST /api/quality): the measures of
 * gpu/eval/evaluate.ts on the judge's held-out split with the cleaning rule as the background
 * check, the report as report.json holds it, and the montages as PNG.
 */
export async function measureQuality(
  gpu: Gpu,
  i: QualityInputs,
): Promise<{ report: QualityReport; result: EvalResult; montages: Montages }> {
  const result = await evaluate(gpu, {
    generator: i.generator,
    judge: i.judge,
    dataset: i.dataset,
    heldOut: heldOutOf(i.dataset, i.judge),
    settings: i.settings,
    passesCleaning: passesCleaningFor(i.dataset.height),
    onProgress: i.onProgress,
    between: i.between,
  });
  const report = { ...i.describe, ...result.report };
  return { report, result, montages: evalMontages(result, i.dataset) };
}
