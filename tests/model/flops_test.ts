// The analytic FLOP count: the reference config lands on the figures, and for other configs
// the plan walk agrees with an independent count from the parameter list (every weight used once
// per output position or token at its level's resolution).
import assert from "node:assert/strict";
import { trainingStepFlops, unetForwardFlops } from "../../gpu/model/flops.ts";
import { parseUNetConfig, type UNetConfig } from "../../gpu/model/config.ts";
import { compactConfig, referenceConfig } from "../../gpu/model/presets.ts";
import { unetParamSpecs } from "../../gpu/model/params.ts";

Deno.test("reference config: 1.28 GFLOP forward per image, 491 GFLOP per step at batch 128", () => {
  const f = unetForwardFlops(referenceConfig);
  const near = (actual: number, expected: number, tolerance: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, want ${expected}`);
  near(f.total / 1e9, 1.28, 0.02, "GFLOP per image");
  near(f.conv3x3 / f.total, 0.76, 0.01, "3x3 conv share");
  near(f.linear / f.total, 0.18, 0.01, "linear share");
  near(f.conv1x1 / f.total, 0.05, 0.01, "1x1 conv share");
  assert.ok(f.attention / f.total < 0.01, "attention share");
  assert.equal(f.total, f.conv3x3 + f.conv1x1 + f.linear + f.attention);
  near(trainingStepFlops(referenceConfig, 128) / 1e9, 491, 491 * 0.02, "GFLOP per step");
});

/** GEMM FLOPs from the weights alone: 2 * weight elements * positions (or tokens) it runs over. */
function flopsFromParams(config: UNetConfig): number {
  const size = config.sample_size!;
  const n = config.block_out_channels.length;
  let total = 0;
  for (const { name, shape } of unetParamSpecs(config)) {
    if (!name.endsWith(".weight") || shape.length < 2) continue; // norms, biases
    const elements = shape.reduce((a, b) => a * b, 1);
    const level = (m: RegExpMatchArray | null, up: boolean) =>
      m ? (up ? n - 1 - Number(m[1]) : Number(m[1])) : 0;
    let side = size;
    const down = name.match(/^down_blocks\.(\d+)\./);
    const upBlock = name.match(/^up_blocks\.(\d+)\./);
    if (down) side = size / 2 ** level(down, false);
    if (upBlock) side = size / 2 ** level(upBlock, true);
    if (name.startsWith("mid_block.")) side = size / 2 ** (n - 1);
    if (name.includes(".downsamplers.")) side /= 2;
    if (name.includes(".upsamplers.")) side *= 2;
    const perToken = name.startsWith("time_embedding.") || name.includes("time_emb_proj") ||
      name.startsWith("encoder_hid_proj") || /attn2\.to_[kv]\./.test(name);
    total += 2 * elements * (perToken ? 1 : side * side);
  }
  return total;
}

const SMALL = parseUNetConfig({
  sample_size: 8,
  in_channels: 3,
  out_channels: 3,
  layers_per_block: 2,
  block_out_channels: [8, 12],
  down_block_types: ["CrossAttnDownBlock2D", "DownBlock2D"],
  up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D"],
  norm_num_groups: 4,
  cross_attention_dim: 6,
  attention_head_dim: 2,
  transformer_layers_per_block: 2,
  encoder_hid_dim: 5,
});

Deno.test("plan walk equals the count from the parameter list (attention products aside)", () => {
  for (const config of [referenceConfig, compactConfig, SMALL]) {
    const f = unetForwardFlops(config);
    assert.equal(f.total - f.attention, flopsFromParams(config));
  }
});

Deno.test("attention FLOPs: 4 N^2 C self plus 4 N C cross per transformer layer", () => {
  // SMALL: level 0 (8x8, C 8) has 2 transformers down and 3 up, the mid block one at 4x4 (C 12);
  // every transformer is 2 layers deep.
  const perLayer = (N: number, C: number) => 4 * N * N * C + 4 * N * 1 * C;
  assert.equal(unetForwardFlops(SMALL).attention, 5 * 2 * perLayer(64, 8) + 2 * perLayer(16, 12));
});
