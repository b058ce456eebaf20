// Discrete GPUs (any adapter that is not a CPU one): buffer kernels with full-warp workgroups and
// workgroup-memory tiles for f32. No GPU has run this code yet: the numbers are reasoned (an H100's
// 132 SMs), not measured, and the f16 plan borrows llvmpipe's texture numbers outright.
import type { BackendProfile, OperandPlan } from "../profile.ts";

const f32: OperandPlan = {
  tuning: "untuned",
  // Unused by f32 (every technique is "buffer"); the texture kernels' tile if a plan takes them.
  textureTile: { TM: 16, TN: 8, WGX: 8, WGY: 8 },
  matmul: {
    technique: "buffer",
    // 264 workgroups: two waves of an H100's 132 SMs.
    splitK: { wantTiles: 264, minChunk: 256 },
    bufferKernel: { kind: "workgroupTile", tile: 64, kTile: 16 },
  },
  conv2d: {
    forward: "buffer",
    inputGrad: "buffer",
    weightGrad: "buffer",
    implicitGemmSplitK: { wantTiles: 64, minChunk: 512 },
  },
};

// f16 operands live in rgba16float textures, so f16 takes the texture kernels, with llvmpipe's
// tiles, splits and register-tile fallback until someone measures them on a GPU (an f16 GEMM with
// workgroup tiles would be the better fit there).
const f16: OperandPlan = {
  tuning: "untuned",
  textureTile: { TM: 16, TN: 8, WGX: 8, WGY: 8 },
  matmul: {
    technique: "texture",
    splitK: { wantTiles: 64, minChunk: 512 },
    bufferKernel: { kind: "registerTile", tile: { TM: 16, TN: 16, WGX: 8, WGY: 1 } },
  },
  conv2d: {
    forward: "texture",
    inputGrad: "texture",
    weightGrad: "texture",
    implicitGemmSplitK: { wantTiles: 64, minChunk: 512 },
  },
};

export const DISCRETE_GPU: BackendProfile = {
  name: "discrete-gpu",
  summary: "GPUs: buffer kernels, 64-wide workgroups, 64x64 workgroup-memory GEMM tiles (f32)",
  matches: () => true,
  // f32 until the f16 texture kernels are measured against the f32 workgroup tiles on a GPU.
  autoPrecision: "f32",
  operands: { f32, f16 },
  // Two warps wide; tens of thousands of invocations in flight.
  conv2d: { laneWidth: 64, weightGradSplitTarget: 65536 },
  softmax: { laneWidth: 64 },
  attention: { laneWidth: 64, mirrors: false },
  groupNorm: { reducer: "workgroup", workgroupSize: 256 },
  bench: { timing: "timestamps", matmulGflops: 3000 },
};
