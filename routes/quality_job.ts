// An evaluation of the served model inside the GPU worker (POST /api/quality): the same measures,
// report and montages as `deno task eval` (data/eval_files.ts's measureQuality), judged by the
// classifier kept beside the model (never trained here: a missing one is a 409 naming the CLI).
//
// Its sprites are made by the worker's generation queue, as ordinary requests of `per_class`
// sprites, so requests from the page take turns with them (and a training job's steps too, by the
// queue's rules) instead of waiting for the whole evaluation; the judge's passes and the CPU
// stages run between, with the event loop let go after every stage. Its classifier and the host
// copies it keeps are reserved in the memory budget before they are built.
import {
  evalDataset,
  keptJudgeFor,
  measureQuality,
  type QualityReport,
  recordedDataSource,
} from "../data/eval_files.ts";
import type { DataSource } from "../data/training_set.ts";
import { InputError } from "../errors.ts";
import type { EvalSettings, SpriteGenerator } from "../gpu/eval/evaluate.ts";
import { judgeRunnerBytes } from "../gpu/eval/judge.ts";
import { reportTable } from "../gpu/eval/table.ts";
import type { Gpu } from "../gpu/runtime/device.ts";
import { AllocationScope, type MemoryBudget, withAllocations } from "../gpu/runtime/memory.ts";
import { type GenerationQueue, nextTask } from "./generation_queue.ts";
import type { QualityMontages, QualityView } from "./gpu_protocol.ts";
import { publicName } from "./serving_model.ts";

export const IDLE_QUALITY: QualityView = {
  status: "idle",
  settings: null,
  model: null,
  progress: null,
  report: null,
  table: null,
  error: null,
};

/** What an evaluation needs from the worker. */
export interface QualityDeps {
  gpu: Gpu;
  budget: MemoryBudget;
  queue: GenerationQueue;
  /** The served model's folder (undefined: a random init, which has no classifier). */
  servingDir?: string;
  servingName: string;
  classNames: string[];
  size: number;
  /** The server's training data: what a model without a run's record is measured against. */
  trainingData?: DataSource;
  /** Told of every stage and of the end (with the montages when done). */
  send: (event: "progress" | "end", view: QualityView, montages?: QualityMontages) => void;
  /** True once the worker closes: the evaluation stops at its next sprites. */
  closing: () => boolean;
}

/** The names of a data source's files, never their paths (a report is shown to clients). */
function publicData(src: DataSource) {
  const name = (p: string | null | undefined) => (p ? publicName(p) : null);
  return {
    sprites: name(src.sprites) ?? "the bundled set",
    labels: name(src.labels),
    clean: src.clean,
  };
}

/**
 * Checks the evaluation can run (a served folder, its classifier, sprites of the model's size),
 * then runs it in the background; returns the running view and the promise of its end.
 */
export async function startQuality(
  d: QualityDeps,
  settings: EvalSettings,
): Promise<{ view: QualityView; finished: Promise<void> }> {
  const dir = d.servingDir;
  if (dir === undefined) {
    throw new InputError(
      "the served model is a random init, with no folder for a classifier: serve a checkpoint " +
        "folder, and make its classifier with `deno task eval --model DIR`",
      409,
    );
  }
  const source = await recordedDataSource(
    dir,
    d.trainingData ?? { sprites: null, labels: null, clean: true },
  );
  const dataset = await evalDataset(source, d.classNames);
  if (dataset.height !== d.size || dataset.width !== d.size) {
    throw new InputError(
      `the model's training sprites are ${dataset.height}x${dataset.width}; it makes ` +
        `${d.size}x${d.size}`,
      409,
    );
  }
  const { judge } = await keptJudgeFor(dir, dataset);
  const K = d.classNames.length;
  const px = d.size * d.size * 3;
  // The classifier at its batch, its features and logits of every real and generated sprite, and
  // the generated sprites themselves (one set per guidance).
  const guidances = new Set([...settings.guidances, settings.mainGuidance]).size;
  const generated = K * settings.perClass * guidances;
  const hostBytes = (dataset.count + generated) * (judge.options.features + K) * 4 +
    generated * px;
  const owner = {};
  d.budget.reserve(owner, judgeRunnerBytes(judge.options) + hostBytes, "an evaluation");

  const view: QualityView = {
    ...IDLE_QUALITY,
    status: "running",
    settings,
    model: d.servingName,
    progress: { done: 0, total: 1, phase: "starting" },
  };
  const generator: SpriteGenerator = {
    generate: async (labels, count, guidance, seed) => {
      if (d.closing()) throw new InputError("the server is shutting down", 503);
      const made = await d.queue.generate({
        labels,
        count,
        steps: settings.steps,
        eta: 0,
        seed,
        guidance,
        scheduler: "ddim",
      });
      return made.sprites;
    },
  };
  const finished = (async () => {
    const scope = new AllocationScope("evaluation");
    let montages: QualityMontages | undefined;
    try {
      const run = await measureQuality(withAllocations(d.gpu, scope), {
        generator,
        judge,
        dataset,
        settings,
        describe: { model: d.servingName, data: publicData(source), classifier: "classifier/" },
        onProgress: (phase, done, total) => {
          view.progress = { done, total, phase };
          d.send("progress", view);
        },
        between: nextTask,
      });
      view.report = run.report as QualityReport;
      view.table = reportTable(run.result.report, `quality of ${d.servingName}`);
      view.status = "done";
      montages = run.montages;
    } catch (e) {
      view.status = "failed";
      view.error = (e as Error).message;
      if (!(e instanceof InputError)) console.error("evaluation failed:", e);
    } finally {
      scope.destroy();
      d.budget.release(owner);
    }
    d.send("end", view, montages);
  })();
  return { view, finished };
}
