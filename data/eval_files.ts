// What `deno task eval` (and the page's Quality tab) needs from disk besides the model: the real
// sprites the model trained on, the judge beside the model (trained and saved when missing or made
// for other data), and the montages of an evaluation as PNG.
import type { EvalResult } from "../gpu/eval/evaluate.ts";
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
import { judgeDirFor, loadJudge, saveJudge } from "./judge_folder.ts";
import { joinPath } from "./model_folder.ts";
import { encodePng, spriteGrid } from "./png.ts";
import { readTrainingState } from "./run_folder.ts";
import { type DataSource, dataSourceOf, loadTrainingSet } from "./training_set.ts";

/** The data a model folder records it trained on (a run's training_state.json), else the bundled set. */
export async function recordedDataSource(modelDir: string): Promise<DataSource> {
  try {
    await Deno.stat(joinPath(modelDir, TRAINING_STATE_FILE));
  } catch {
    return { sprites: null, labels: null, clean: true };
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
