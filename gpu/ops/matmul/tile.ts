// The register tile of one texture GEMM (matmul's texture technique): the profile's `textureTile`,
// or one of its `textureTileChoices` where that pads N less. A workgroup's SIMD axis runs along N,
// WGX invocations of TN columns each, and lanes past N still run: on llvmpipe N = 96 (the compact
// UNet's attention at 96 channels) in 8-column tiles is two 64-column workgroups, the second with
// half its lanes idle, where 12-column tiles make one full workgroup. Padding along M costs little
// (a SIMD vector of rows past M returns at once), so only N decides.
import { type Gpu, operandPlan } from "../../runtime/device.ts";
import type { RegisterTile } from "../../runtime/profile.ts";

/** The tile for a GEMM of N columns; ties go to the profile's `textureTile`. */
export function gemmTile(gpu: Gpu, N: number): RegisterTile {
  const plan = operandPlan(gpu);
  const padded = (t: RegisterTile) => Math.ceil(N / (t.TN * t.WGX)) * t.TN * t.WGX;
  let best = plan.textureTile;
  for (const t of plan.textureTileChoices ?? []) if (padded(t) < padded(best)) best = t;
  return best;
}
