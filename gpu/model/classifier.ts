// The sprite classifier that judges generated sprites (gpu/eval/): a small CNN made of the engine's
// own layers, forward and backward, as a flat list like the class-embedding net.
//   x [B, 3, S, S] in [-1, 1]
//   -> conv1 3x3 (3 -> c0) -> SiLU -> conv2 3x3 stride 2 (c0 -> c1) -> SiLU
//   -> conv3 3x3 stride 2 (c1 -> c2) -> SiLU -> flatten [B, c2 (S/4)^2]
//   -> fc (-> F) -> SiLU = the features (the "penultimate" layer the FID reads)
//   -> head (F -> classes) = the logits.
// Parameter names are a torch module's ("conv1.weight", ..., "head.bias"), in one ParamStore.
import { siluBackward, siluForward } from "../ops/activation.ts";
import { conv2dBackward, conv2dForward, type Conv2dShape } from "../ops/conv2d/conv2d.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import type { Gpu } from "../runtime/device.ts";
import type { Dispatch } from "../runtime/kernel.ts";
import { createTensor, type Tensor } from "../runtime/tensor.ts";
import { createParamStore, type ParamSpec, type ParamStore } from "./params.ts";

export interface ClassifierOptions {
  classes: number;
  /** Sprites are size x size RGB; a multiple of 4. */
  size: number;
  /** Output channels of conv1, conv2, conv3. */
  channels: [number, number, number];
  /** Width of the feature layer. */
  features: number;
}

export const defaultClassifier = (classes: number, size = 16): ClassifierOptions => ({
  classes,
  size,
  channels: [32, 64, 64],
  features: 64,
});

const flatWidth = (o: ClassifierOptions) => o.channels[2] * (o.size / 4) ** 2;

export function classifierParamSpecs(o: ClassifierOptions): ParamSpec[] {
  const [c0, c1, c2] = o.channels;
  const conv = (name: string, cout: number, cin: number): ParamSpec[] => [
    { name: `${name}.weight`, shape: [cout, cin, 3, 3] },
    { name: `${name}.bias`, shape: [cout] },
  ];
  return [
    ...conv("conv1", c0, 3),
    ...conv("conv2", c1, c0),
    ...conv("conv3", c2, c1),
    { name: "fc.weight", shape: [o.features, flatWidth(o)] },
    { name: "fc.bias", shape: [o.features] },
    { name: "head.weight", shape: [o.classes, o.features] },
    { name: "head.bias", shape: [o.classes] },
  ];
}

/** Checks the options a file or a caller gives; throws Error naming the bad one. */
export function checkClassifierOptions(o: ClassifierOptions): void {
  const ints = [o.classes, o.size, ...o.channels, o.features];
  if (!ints.every((v) => Number.isInteger(v) && v >= 1) || o.channels.length !== 3) {
    throw new Error(`classifier: bad options ${JSON.stringify(o)}`);
  }
  if (o.size % 4) throw new Error(`classifier: sprite size ${o.size} is not a multiple of 4`);
}

export interface ClassifierBuild {
  batch: number;
  /** Build the backward list (training); default false. */
  withBackward?: boolean;
  /** Share parameters with another instance (e.g. the trainer's, at another batch). */
  params?: ParamStore;
}

export interface Classifier {
  options: ClassifierOptions;
  batch: number;
  params: ParamStore;
  /** [B, 3, S, S], written by the caller. */
  input: Tensor;
  /** After each conv's SiLU: [B, c_i, ...]. */
  activations: Tensor[];
  /** [B, features]: silu(fc(...)). */
  features: Tensor;
  /** [B, classes]. */
  logits: Tensor;
  /** d loss / d logits, written by the loss before `backward` runs. */
  dLogits: Tensor;
  forward: Dispatch[];
  backward: Dispatch[];
}

export async function buildClassifier(
  gpu: Gpu,
  o: ClassifierOptions,
  b: ClassifierBuild,
): Promise<Classifier> {
  checkClassifierOptions(o);
  const B = b.batch;
  const params = b.params ?? createParamStore(gpu, classifierParamSpecs(o), "classifier");
  const t = (shape: number[], label: string) =>
    createTensor(gpu, shape, "f32", `classifier.${label}`);
  const forward: Dispatch[] = [];
  const backward: Dispatch[] = [];
  const input = t([B, 3, o.size, o.size], "input");

  // Three convs; each output goes through SiLU.
  const shapes: Conv2dShape[] = [];
  let [c, h] = [3, o.size];
  for (let i = 0; i < 3; i++) {
    const stride = i === 0 ? 1 : 2;
    shapes.push({
      batch: B,
      inChannels: c,
      outChannels: o.channels[i],
      height: h,
      width: h,
      kernel: 3,
      stride,
    });
    c = o.channels[i];
    h = h / stride;
  }
  const pre = shapes.map((s, i) =>
    t([B, s.outChannels, s.height / s.stride, s.width / s.stride], `conv${i + 1}`)
  );
  const activations = pre.map((p, i) => t(p.shape, `conv${i + 1}.silu`));
  const flat = { rows: B, inFeatures: flatWidth(o), outFeatures: o.features };
  const head = { rows: B, inFeatures: o.features, outFeatures: o.classes };
  const fcOut = t([B, o.features], "fc");
  const features = t([B, o.features], "features");
  const logits = t([B, o.classes], "logits");
  const dLogits = t([B, o.classes], "dLogits");

  let x = input;
  for (let i = 0; i < 3; i++) {
    const name = `conv${i + 1}`;
    forward.push(
      ...await conv2dForward(gpu, {
        x,
        weight: params.param(`${name}.weight`),
        bias: params.param(`${name}.bias`),
        y: pre[i],
        shape: shapes[i],
      }),
      await siluForward(gpu, pre[i], activations[i]),
    );
    x = activations[i];
  }
  forward.push(
    ...await linearForward(gpu, {
      x: activations[2],
      weight: params.param("fc.weight"),
      bias: params.param("fc.bias"),
      y: fcOut,
      ...flat,
    }),
    await siluForward(gpu, fcOut, features),
    ...await linearForward(gpu, {
      x: features,
      weight: params.param("head.weight"),
      bias: params.param("head.bias"),
      y: logits,
      ...head,
    }),
  );

  if (b.withBackward) {
    const dFeatures = t([B, o.features], "dFeatures");
    const dFc = t([B, o.features], "dFc");
    const dAct = activations.map((a, i) => t(a.shape, `dConv${i + 1}.silu`));
    const dPre = pre.map((p, i) => t(p.shape, `dConv${i + 1}`));
    backward.push(
      ...await linearBackward(gpu, {
        x: features,
        weight: params.param("head.weight"),
        dy: dLogits,
        dx: dFeatures,
        dWeight: params.grad("head.weight"),
        dBias: params.grad("head.bias"),
        ...head,
      }),
      await siluBackward(gpu, fcOut, dFeatures, dFc),
      ...await linearBackward(gpu, {
        x: activations[2],
        weight: params.param("fc.weight"),
        dy: dFc,
        dx: dAct[2],
        dWeight: params.grad("fc.weight"),
        dBias: params.grad("fc.bias"),
        ...flat,
      }),
    );
    for (let i = 2; i >= 0; i--) {
      const name = `conv${i + 1}`;
      backward.push(
        await siluBackward(gpu, pre[i], dAct[i], dPre[i]),
        ...await conv2dBackward(gpu, {
          x: i === 0 ? input : activations[i - 1],
          weight: params.param(`${name}.weight`),
          dy: dPre[i],
          // The input is data: its gradient is never needed.
          dx: i === 0 ? undefined : dAct[i - 1],
          dWeight: params.grad(`${name}.weight`),
          dBias: params.grad(`${name}.bias`),
          shape: shapes[i],
        }),
      );
    }
  }
  return {
    options: o,
    batch: B,
    params,
    input,
    activations,
    features,
    logits,
    dLogits,
    forward,
    backward,
  };
}
