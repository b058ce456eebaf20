// The whole model a checkpoint holds: the UNet and the class-embedding net, their parameters on the
// GPU, and what the checkpoint says about itself. It is built from a decoded checkpoint
// (gpu/formats/checkpoint.ts) and turned back into one; files are the front ends' business.
import {
  type CheckpointContents,
  checkTensors,
  type LoadedCheckpoint,
} from "../formats/checkpoint.ts";
import type { NamedTensor, SafetensorsMap } from "../formats/safetensors.ts";
import type { Gpu } from "../runtime/device.ts";
import { CheckpointError, EngineInputError } from "../runtime/errors.ts";
import { readback, upload } from "../runtime/tensor.ts";
import {
  type ClassEmbeddingOptions,
  classEmbeddingParamSpecs,
  defaultClassEmbedding,
} from "./class_embedding.ts";
import { encoderInputDim, parseUNetConfig, type UNetConfig } from "./config.ts";
import {
  createParamStore,
  initParamsHost,
  loadParams,
  type ParamStore,
  unetParamSpecs,
} from "./params.ts";

/** The DeepLearning.AI set's classes, in its label order: a model's names unless it has its own. */
export const DEFAULT_CLASS_NAMES = ["human", "non-human", "food", "spell", "side-facing"];

export interface SpriteModel {
  config: UNetConfig;
  embedding: ClassEmbeddingOptions;
  unetParams: ParamStore;
  /** Absent for a plain diffusers UNet folder (it can be checked, not sampled by class). */
  embeddingParams?: ParamStore;
  classNames: string[];
  /** sprite_diffusion.json: training recipe, epoch, ... */
  info: Record<string, unknown>;
}

/** The embedding net that feeds a UNet: label width = class count, output = encoder input. */
export function embeddingFor(config: UNetConfig, classes: number, dropout = 0.1) {
  return {
    ...defaultClassEmbedding,
    inFeatures: classes,
    outFeatures: encoderInputDim(config),
    dropout,
  };
}

/** A freshly initialised model (PyTorch's default init), seeded. */
export function randomSpriteModel(
  gpu: Gpu,
  config: UNetConfig,
  seed: number,
  classNames = DEFAULT_CLASS_NAMES,
): SpriteModel {
  const embedding = embeddingFor(config, classNames.length);
  const unetParams = createParamStore(gpu, unetParamSpecs(config), "unet");
  const embeddingParams = createParamStore(gpu, classEmbeddingParamSpecs(embedding), "emb");
  const random = seededUniform(seed);
  upload(gpu, unetParams.data, initParamsHost(unetParams.layout, random));
  upload(gpu, embeddingParams.data, initParamsHost(embeddingParams.layout, random));
  return { config, embedding, unetParams, embeddingParams, classNames: [...classNames], info: {} };
}

function seededUniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shapes and finiteness first: a NaN weight would otherwise sample blank sprites without a word. */
function loadInto(gpu: Gpu, store: ParamStore, tensors: SafetensorsMap, what: string) {
  checkTensors(store.layout.entries, tensors, what);
  for (const [name, t] of tensors) {
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new CheckpointError(`${what}: tensor ${name} holds ${t.data[bad]} at element ${bad}`);
    }
  }
  loadParams(gpu, store, tensors);
}

/**
 * The model of a decoded checkpoint folder `where` (ours, or a plain diffusers UNet folder without
 * an embedding net). Bad contents throw CheckpointError or ConfigError naming the file.
 */
export function spriteModelFromCheckpoint(
  gpu: Gpu,
  loaded: LoadedCheckpoint,
  where: string,
): SpriteModel {
  const dir = where.replace(/\/+$/, "");
  let config: UNetConfig;
  try {
    config = parseUNetConfig(loaded.config);
  } catch (e) {
    if (!(e instanceof EngineInputError)) throw e;
    throw new CheckpointError(`${dir}/config.json: ${e.message}`);
  }
  const info = loaded.info ?? {};
  const classNames = Array.isArray(info.class_names)
    ? (info.class_names as unknown[]).map(String)
    : DEFAULT_CLASS_NAMES;
  const unetParams = createParamStore(gpu, unetParamSpecs(config), "unet");
  loadInto(gpu, unetParams, loaded.unet, `${dir}/diffusion_pytorch_model.safetensors`);
  let embedding = embeddingFor(config, classNames.length);
  let embeddingParams: ParamStore | undefined;
  if (loaded.embedding) {
    // The hidden width is whatever the file says; the rest must fit the UNet and the classes.
    const first = loaded.embedding.get("0.weight");
    if (first && first.shape.length === 2) embedding = { ...embedding, hidden: first.shape[0] };
    embeddingParams = createParamStore(gpu, classEmbeddingParamSpecs(embedding), "emb");
    loadInto(gpu, embeddingParams, loaded.embedding, `${dir}/emb_net.safetensors`);
  }
  return { config, embedding, unetParams, embeddingParams, classNames, info };
}

/** A parameter store's tensors, read back, by name. */
export async function namedTensors(gpu: Gpu, store: ParamStore): Promise<NamedTensor[]> {
  const all = await readback(gpu, store.data);
  return store.layout.entries.map((e) => [e.name, e.shape, all.slice(e.offset, e.offset + e.size)]);
}

/**
 * What a checkpoint of the model holds: the diffusers folder's config and UNet, the embedding net
 * and our JSON (`info`, plus the class names and embedding options), and any `extraFiles`.
 */
export async function spriteModelCheckpoint(
  gpu: Gpu,
  model: SpriteModel,
  info: Record<string, unknown> = model.info,
  extraFiles?: Record<string, Uint8Array>,
): Promise<CheckpointContents> {
  return {
    extraFiles,
    config: { _class_name: "UNet2DConditionModel", ...model.config },
    unet: await namedTensors(gpu, model.unetParams),
    embedding: model.embeddingParams ? await namedTensors(gpu, model.embeddingParams) : undefined,
    info: { ...info, class_names: model.classNames, embedding: model.embedding },
  };
}
