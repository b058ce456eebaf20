// The sprite classifier that judges a model (gpu/eval/judge.ts), on disk beside the model: a
// `classifier/` folder next to a run's checkpoint/ (so the checkpoint's atomic swap leaves it
// alone), or inside a model folder that is not a run's (the shipped models/sprite-compact/).
import { type Judge, JUDGE_FILES, judgeFiles, judgeFromFiles } from "../gpu/eval/judge.ts";
import { joinPath, readFolderFiles, writeFolderFiles } from "./model_folder.ts";

export const JUDGE_DIR = "classifier";

/** Where the judge of the model in `modelDir` lives. */
export function judgeDirFor(modelDir: string): string {
  const trimmed = modelDir.replace(/\/+$/, "");
  if (/(^|\/)checkpoint$/.test(trimmed)) {
    const parent = trimmed.slice(0, -"checkpoint".length).replace(/\/+$/, "") || ".";
    return joinPath(parent, JUDGE_DIR);
  }
  return joinPath(trimmed, JUDGE_DIR);
}

/** The judge in `dir`, or undefined when there is none. */
export async function loadJudge(dir: string): Promise<Judge | undefined> {
  try {
    await Deno.stat(joinPath(dir, JUDGE_FILES.info));
  } catch {
    return undefined;
  }
  return judgeFromFiles(dir, await readFolderFiles(dir, Object.values(JUDGE_FILES)));
}

/** Writes the judge's folder atomically. */
export async function saveJudge(dir: string, judge: Judge): Promise<void> {
  await writeFolderFiles(dir, judgeFiles(judge));
}
