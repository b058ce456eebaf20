// llvmpipe (Mesa's CPU rasteriser, via lavapipe) and the other CPU adapters: texture-packed operands,
// narrow workgroups, no barriers. Measured on llvmpipe (Mesa 22.3, LLVM 15, 256-bit vectors), 2 cores.
//
// Why: llvmpipe runs a workgroup as loops of 8-lane SIMD vectors on a few cores. It compiles every
// storage-buffer access as a loop over the lanes with a branch and a bounds check per lane, whatever
// the index pattern, while a read-only storage-texture load is one vectorised gather: a 512^3 GEMM
// reads ~3 GFLOP/s from buffers, ~30-40 from storage textures (gpu/ops/matmul/texture.ts). A
// workgroup barrier ends a SIMD loop and starts the next, and every workgroup costs a launch.
import { type BackendProfile, isCpuAdapter, type OperandPlan } from "../profile.ts";

// f16 operands cost the same per texel as f32 here, so both precisions take the same plan.
const operands: OperandPlan = {
  tuning: "measured",
  // 16x12 outputs per invocation in 8x8 workgroups, or 16x8 where that pads N less (N = 64, 128,
  // im2col's 292): in one process on an AMD EPYC (2 cores), the compact step's GEMMs took 283 ms
  // against 312 with 16x8 everywhere (N = 96: 1.46x forward, 1.62x dX), im2col's the same.
  // 16x8 was the best of 4x4..16x16 measured alone on a 512^3 GEMM.
  textureTile: { TM: 16, TN: 12, WGX: 8, WGY: 8 },
  textureTileChoices: [{ TM: 16, TN: 8, WGX: 8, WGY: 8 }],
  matmul: {
    technique: "texture",
    // 64 invocations give 2+ cores work; a chunk under 512 of K is not worth a pass.
    splitK: { wantTiles: 64, minChunk: 512 },
    // A pack of an aligned operand is a copy of its mirror into another layout: the GEMM reads the
    // mirror instead, for three integer ops a texel load.
    mirrorOperands: true,
    // Past the texture size limit: 16x16 outputs per invocation, 8 invocations along x.
    bufferKernel: { kind: "registerTile", tile: { TM: 16, TN: 16, WGX: 8, WGY: 1 } },
  },
  conv2d: {
    forward: "texture",
    inputGrad: "texture",
    weightGrad: "texture",
    implicitGemmSplitK: { wantTiles: 64, minChunk: 512 },
  },
};

export const LLVMPIPE: BackendProfile = {
  name: "llvmpipe",
  summary: "CPU adapters (llvmpipe, lavapipe, SwiftShader, fallback): texture-packed operands",
  matches: ({ description, isFallback }) => isCpuAdapter(description, isFallback),
  // f16 bought nothing: compact batch 32 trained at 2,362 ms a step in f16, 2,165 in f32.
  autoPrecision: "f32",
  operands: { f32: operands, f16: operands },
  // One 256-bit vector of f32 lanes; a few chunks per core.
  conv2d: { laneWidth: 8, weightGradSplitTarget: 1024 },
  // Narrow workgroups win where x is the SIMD axis.
  softmax: { laneWidth: 16 },
  attention: { laneWidth: 16, mirrors: true },
  // One invocation walks a whole group: the workgroup tree's seven barriers cost GroupNorm about
  // 40 % of its time here. 8 invocations: one SIMD vector.
  groupNorm: { reducer: "invocation", workgroupSize: 8 },
  bench: { timing: "wall-clock", matmulGflops: 30 },
};
