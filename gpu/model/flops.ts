// The UNet's analytic FLOP count, derived from its config by walking the same plan the model is
// built from (gpu/model/plan.ts). A multiply-add counts as 2 FLOPs; only the GEMM-shaped work is
// counted (convolutions, linear layers, the two attention products): norms, activations and
// elementwise ops are memory-bound and add well under 1%.
//   conv k x k:   2 * Cin * Cout * k * k * Hout * Wout
//   linear:       2 * in * out * tokens
//   attention:    QK^T and PV, 2 * Nq * Nk * C each
// A training step is counted as 3 forwards (the backward computes both dX and dW: about 2x).
import type { UNetConfig } from "./config.ts";
import { type TransformerPlan, unetPlan } from "./plan.ts";

export interface FlopBreakdown {
  conv3x3: number;
  conv1x1: number;
  linear: number;
  attention: number;
  total: number;
}

export interface FlopOptions {
  /** Image size; default config.sample_size. */
  height?: number;
  width?: number;
  /** Tokens of encoder_hidden_states per item (1 for a class embedding). */
  contextLength?: number;
}

/** Forward FLOPs of one image through the UNet. */
export function unetForwardFlops(config: UNetConfig, o: FlopOptions = {}): FlopBreakdown {
  const plan = unetPlan(config);
  const H = o.height ?? config.sample_size;
  const W = o.width ?? config.sample_size;
  if (!H || !W) throw new Error("unetForwardFlops: no image size (config.sample_size is null)");
  const S = o.contextLength ?? 1;
  const f = { conv3x3: 0, conv1x1: 0, linear: 0, attention: 0 };
  const conv3 = (cin: number, cout: number, outPositions: number) =>
    f.conv3x3 += 2 * cin * cout * 9 * outPositions;
  const linear = (inF: number, outF: number, tokens: number) => f.linear += 2 * inF * outF * tokens;
  const temb = plan.timeEmbedDim;

  const resnet = (cin: number, cout: number, positions: number) => {
    conv3(cin, cout, positions);
    linear(temb, cout, 1); // time_emb_proj
    conv3(cout, cout, positions);
    if (cin !== cout) f.conv1x1 += 2 * cin * cout * positions; // conv_shortcut
  };
  const transformer = (t: TransformerPlan, N: number) => {
    const C = t.channels;
    f.conv1x1 += 2 * 2 * C * C * N; // proj_in, proj_out
    for (let l = 0; l < t.layers; l++) {
      linear(C, C, N); // attn1: q, k, v, out
      linear(C, C, N);
      linear(C, C, N);
      linear(C, C, N);
      f.attention += 4 * N * N * C;
      linear(C, C, N); // attn2: q from the image, k and v from the context, out
      linear(t.contextDim, C, S);
      linear(t.contextDim, C, S);
      linear(C, C, N);
      f.attention += 4 * N * S * C;
      linear(C, 8 * C, N); // GEGLU in (both halves)
      linear(4 * C, C, N); // ff out
    }
  };

  const c0 = config.block_out_channels[0];
  linear(plan.timeProjDim, temb, 1);
  linear(temb, temb, 1);
  if (plan.hasEncoderHidProj) linear(plan.encoderInputDim, plan.contextDim, S);
  let h = H, w = W;
  conv3(config.in_channels, c0, h * w);
  for (const block of plan.down) {
    block.resnets.forEach((r, j) => {
      resnet(r.inChannels, r.outChannels, h * w);
      if (block.attentions[j]) transformer(block.attentions[j], h * w);
    });
    if (block.downsample) {
      h /= 2;
      w /= 2;
      conv3(block.downsample.channels, block.downsample.channels, h * w); // stride 2
    }
  }
  for (const r of plan.mid.resnets) resnet(r.inChannels, r.outChannels, h * w);
  for (const t of plan.mid.attentions) transformer(t, h * w);
  for (const block of plan.up) {
    block.resnets.forEach((r, j) => {
      resnet(r.inChannels, r.outChannels, h * w);
      if (block.attentions[j]) transformer(block.attentions[j], h * w);
    });
    if (block.upsample) {
      h *= 2;
      w *= 2;
      conv3(block.upsample.channels, block.upsample.channels, h * w); // after the 2x upsample
    }
  }
  conv3(c0, config.out_channels, h * w);
  return { ...f, total: f.conv3x3 + f.conv1x1 + f.linear + f.attention };
}

/** FLOPs of one training step (forward + backward, ~3x forward) at a batch size. */
export function trainingStepFlops(config: UNetConfig, batch: number, o: FlopOptions = {}): number {
  return 3 * batch * unetForwardFlops(config, o).total;
}
