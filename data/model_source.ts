// Which model a command or the service runs: a checkpoint folder (the shipped one by default), or
// a freshly initialised one when asked for explicitly.
import { InputError } from "../errors.ts";
import type { Gpu } from "../gpu/runtime/device.ts";
import { loadSpriteModel, randomSpriteModel, type SpriteModel } from "../gpu/model/sprite_model.ts";
import { compactConfig, referenceConfig, type UNetConfig } from "../gpu/model/config.ts";

/** The shipped checkpoint, relative to the project root. */
export const DEFAULT_MODEL_DIR = new URL("../models/sprite-compact", import.meta.url).pathname;

export const presets: Record<string, UNetConfig> = {
  compact: compactConfig,
  reference: referenceConfig,
};

export function presetConfig(name: string): UNetConfig {
  const config = presets[name];
  if (!config) {
    throw new InputError(
      `unknown config preset "${name}": use ${Object.keys(presets).join(" or ")}`,
    );
  }
  return config;
}

export interface ModelChoice {
  model?: string;
  randomInit?: boolean;
  preset?: string;
  seed?: number;
}

export async function openModel(gpu: Gpu, choice: ModelChoice): Promise<SpriteModel> {
  if (choice.randomInit) {
    return randomSpriteModel(gpu, presetConfig(choice.preset ?? "compact"), choice.seed ?? 0);
  }
  const dir = choice.model ?? DEFAULT_MODEL_DIR;
  try {
    await Deno.stat(dir);
  } catch {
    throw new InputError(
      `no model at ${dir}: pass --model DIR (a checkpoint folder), train one with ` +
        "`deno task train`, or use --random-init for an untrained model",
    );
  }
  return await loadSpriteModel(gpu, dir);
}
