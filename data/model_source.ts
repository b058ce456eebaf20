// Which model a command or the service runs, and which UNet config a new one gets: a checkpoint
// folder (the shipped one by default) or a freshly initialised model; a preset name or a diffusers
// config.json. The one place the front ends turn such a choice into files read.
import { InputError } from "../errors.ts";
import { CHECKPOINT_FILES } from "../gpu/formats/checkpoint.ts";
import { parseUNetConfig, type UNetConfig } from "../gpu/model/config.ts";
import { PRESET_NAMES, presetConfig } from "../gpu/model/presets.ts";
import { randomSpriteModel, type SpriteModel } from "../gpu/model/sprite_model.ts";
import type { Gpu } from "../gpu/runtime/device.ts";
import { MAX_JSON_FILE_BYTES, readRegularFile } from "./files.ts";
import { joinPath, loadSpriteModel, recoverCheckpointFolder } from "./model_folder.ts";

/** The shipped checkpoint, relative to the project root. */
export const DEFAULT_MODEL_DIR = decodeURIComponent(
  new URL("../models/sprite-compact", import.meta.url).pathname,
);

/**
 * A preset name (`reference`, `compact`) or the path of a diffusers config.json; `flag` names the
 * flag or field in errors.
 */
export async function configFromSource(source: string, flag = "--config"): Promise<UNetConfig> {
  if (!source.endsWith(".json") && !source.includes("/")) {
    try {
      return presetConfig(source);
    } catch {
      throw new InputError(
        `${flag}: unknown config "${source}" (known: ${PRESET_NAMES.join(", ")}, or a path to ` +
          "a config.json)",
      );
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await readRegularFile(source, MAX_JSON_FILE_BYTES)));
  } catch (e) {
    throw new InputError(`${flag} ${source}: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError(`${flag} ${source}: not a JSON object`);
  }
  try {
    return parseUNetConfig(json as Record<string, unknown>);
  } catch (e) {
    throw new InputError(`${flag} ${source}: ${(e as Error).message}`);
  }
}

export interface ModelChoice {
  model?: string;
  randomInit?: boolean;
  preset?: string;
  seed?: number;
}

export async function openModel(gpu: Gpu, choice: ModelChoice): Promise<SpriteModel> {
  if (choice.randomInit) {
    const config = await configFromSource(choice.preset ?? "compact");
    return randomSpriteModel(gpu, config, choice.seed ?? 0);
  }
  return await loadSpriteModel(gpu, await resolveModelDir(choice.model ?? DEFAULT_MODEL_DIR));
}

/**
 * The checkpoint folder `dir` names: itself, or the checkpoint/ inside a training run's folder
 * (what `--resume` takes), so both spellings work wherever a model is asked for. A checkpoint
 * whose swap a kill cut short is repaired first (its complete copy promoted).
 */
export async function resolveModelDir(dir: string): Promise<string> {
  await recoverCheckpointFolder(dir);
  if (!(await exists(dir))) {
    throw new InputError(
      `no model at ${dir}: pass --model DIR (a checkpoint folder), train one with ` +
        "`deno task train`, or use --random-init for an untrained model",
    );
  }
  if (await exists(joinPath(dir, CHECKPOINT_FILES.config))) return dir;
  const nested = joinPath(dir, "checkpoint");
  await recoverCheckpointFolder(nested);
  return (await exists(nested)) ? nested : dir;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
