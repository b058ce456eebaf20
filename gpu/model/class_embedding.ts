// The class-embedding net that turns multi-hot labels into the UNet's encoder_hidden_states:
//   nn.Sequential(Linear(in, hidden), Dropout(p), GELU(), Linear(hidden, out), Unsqueeze(1))
// so its parameters are "0.weight", "0.bias", "3.weight", "3.bias" (optionally prefixed, to share
// one parameter buffer, and one AdamW dispatch, with the UNet).
import { geluBackward, geluForward } from "../ops/activation.ts";
import type { Gpu } from "../runtime/device.ts";
import { dropoutBackward, dropoutForward } from "../ops/dropout.ts";
import type { Dispatch } from "../runtime/kernel.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import { createTensor, type Tensor } from "../runtime/tensor.ts";
import { createParamStore, type ParamSpec, type ParamStore } from "./params.ts";

/** Default random stream of this net's dropout (the UNet's dropouts start at 0x10000). */
export const CLASS_EMBEDDING_DROPOUT_STREAM = 0xffff;

export interface ClassEmbeddingOptions {
  /** Label vector width (5 sprite classes). */
  inFeatures: number;
  hidden: number;
  /** The UNet's encoder_hid_dim. */
  outFeatures: number;
  dropout: number;
}

export const defaultClassEmbedding: ClassEmbeddingOptions = {
  inFeatures: 5,
  hidden: 32,
  outFeatures: 64,
  dropout: 0.1,
};

export function classEmbeddingParamSpecs(o: ClassEmbeddingOptions, prefix = ""): ParamSpec[] {
  return [
    { name: `${prefix}0.weight`, shape: [o.hidden, o.inFeatures] },
    { name: `${prefix}0.bias`, shape: [o.hidden] },
    { name: `${prefix}3.weight`, shape: [o.outFeatures, o.hidden] },
    { name: `${prefix}3.bias`, shape: [o.outFeatures] },
  ];
}

export interface ClassEmbeddingBuild {
  batch: number;
  training: boolean;
  /** u32 [2] = [seed, step] for the dropout (required when training with dropout > 0). */
  seed?: Tensor;
  /** Dropout stream; default CLASS_EMBEDDING_DROPOUT_STREAM, below the UNet's dropout streams. */
  stream?: number;
  /** A store holding this net's parameters under `prefix`; default: a store of its own. */
  params?: ParamStore;
  prefix?: string;
  /** Where to write the output [B, 1, out] (e.g. the UNet's encoderHiddenStates). */
  output?: Tensor;
  /** Gradient of the output (e.g. the UNet's dEncoderHiddenStates); default allocated here. */
  dOutput?: Tensor;
  /** Also compute d loss / d labels (tests only: the labels are data). */
  withInputGrad?: boolean;
}

export interface ClassEmbedding {
  params: ParamStore;
  /** Labels [B, in]. */
  input: Tensor;
  /** After Linear 0 and after GELU: [B, hidden]. */
  hidden: Tensor;
  /** After the dropout (the same tensor as `hidden` when dropout is off). */
  dropped: Tensor;
  activated: Tensor;
  output: Tensor;
  dOutput: Tensor;
  dInput?: Tensor;
  forward: Dispatch[];
  backward: Dispatch[];
}

export async function buildClassEmbedding(
  gpu: Gpu,
  o: ClassEmbeddingOptions,
  b: ClassEmbeddingBuild,
): Promise<ClassEmbedding> {
  const B = b.batch;
  const prefix = b.prefix ?? "";
  const params = b.params ?? createParamStore(gpu, classEmbeddingParamSpecs(o, prefix), "emb");
  const name = (n: string) => `${prefix}${n}`;
  const t = (shape: number[], label: string) => createTensor(gpu, shape, "f32", `emb.${label}`);
  const input = t([B, o.inFeatures], "input");
  const hidden = t([B, o.hidden], "hidden");
  const useDropout = b.training && o.dropout > 0;
  if (useDropout && !b.seed) throw new Error("class embedding: dropout needs a seed tensor");
  const stream = b.stream ?? CLASS_EMBEDDING_DROPOUT_STREAM;
  const dropped = useDropout ? t([B, o.hidden], "dropped") : hidden;
  const activated = t([B, o.hidden], "gelu");
  const output = b.output ?? t([B, 1, o.outFeatures], "output");
  if (output.size !== B * o.outFeatures) throw new Error("class embedding: output size mismatch");
  const dOutput = b.dOutput ?? t([B, 1, o.outFeatures], "dOutput");

  const s0 = { rows: B, inFeatures: o.inFeatures, outFeatures: o.hidden };
  const s3 = { rows: B, inFeatures: o.hidden, outFeatures: o.outFeatures };
  const w0 = params.param(name("0.weight"));
  const w3 = params.param(name("3.weight"));
  const forward: Dispatch[] = [];
  const backward: Dispatch[] = [];
  const push = (list: Dispatch[], d: Dispatch | Dispatch[]) =>
    list.push(...(Array.isArray(d) ? d : [d]));

  push(
    forward,
    await linearForward(gpu, {
      x: input,
      weight: w0,
      bias: params.param(name("0.bias")),
      y: hidden,
      ...s0,
    }),
  );
  if (useDropout) {
    push(
      forward,
      await dropoutForward(gpu, { x: hidden, y: dropped, p: o.dropout, seed: b.seed!, stream }),
    );
  }
  push(forward, await geluForward(gpu, dropped, activated));
  push(
    forward,
    await linearForward(gpu, {
      x: activated,
      weight: w3,
      bias: params.param(name("3.bias")),
      y: output,
      ...s3,
    }),
  );

  const dActivated = t([B, o.hidden], "dGelu");
  const dDropped = t([B, o.hidden], "dDropped");
  const dHidden = useDropout ? t([B, o.hidden], "dHidden") : dDropped;
  const dInput = b.withInputGrad ? t([B, o.inFeatures], "dInput") : undefined;
  push(
    backward,
    await linearBackward(gpu, {
      x: activated,
      weight: w3,
      dy: dOutput,
      dx: dActivated,
      dWeight: params.grad(name("3.weight")),
      dBias: params.grad(name("3.bias")),
      ...s3,
    }),
  );
  push(backward, await geluBackward(gpu, dropped, dActivated, dDropped));
  if (useDropout) {
    push(
      backward,
      await dropoutBackward(gpu, {
        dy: dDropped,
        dx: dHidden,
        p: o.dropout,
        seed: b.seed!,
        stream,
      }),
    );
  }
  push(
    backward,
    await linearBackward(gpu, {
      x: input,
      weight: w0,
      dy: dHidden,
      dx: dInput,
      dWeight: params.grad(name("0.weight")),
      dBias: params.grad(name("0.bias")),
      ...s0,
    }),
  );
  return { params, input, hidden, dropped, activated, output, dOutput, dInput, forward, backward };
}
