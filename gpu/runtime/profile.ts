// What a backend profile is: every tuning choice of the kernels for one kind of adapter, as data.
//
// What wins on llvmpipe loses on a discrete GPU: llvmpipe runs a workgroup's invocations as 8-wide
// SIMD loops on a few CPU cores, compiles every storage-buffer access as a per-lane loop (so the
// texture-packed kernels win there), and pays for every workgroup barrier; a GPU wants full warps,
// thousands of workgroups in flight and operands staged through workgroup memory. The ops never ask
// what the adapter is: they read `gpu.profile` (and `operandPlan(gpu)` for the choices that depend
// on the operands' precision). A new backend is one file in profiles/ that fills this interface,
// listed in PROFILES (device.ts); a new kernel variant is needed only where a kernel really differs.
//
// Words: a technique is how an op is computed. "texture": the operands are first packed into
// storage textures and the kernels read only those (built for llvmpipe, and the only place f16
// operands exist); "buffer": the kernels read the storage buffers directly.

export type Precision = "f32" | "f16";
export type Technique = "texture" | "buffer";

/**
 * A register tile: every invocation owns TM x TN outputs (TN a multiple of 4: accumulators are vec4
 * along n); workgroups are WGX x WGY invocations, x the SIMD axis.
 */
export interface RegisterTile {
  TM: number;
  TN: number;
  WGX: number;
  WGY: number;
}

/**
 * When a GEMM's K is split (split-K: partial products to scratch, one more pass sums them): only
 * when the output tiles alone are fewer than `wantTiles`, and into chunks of at least `minChunk`
 * (elements of K), at most 32. The tiles are those of the kernel that runs the GEMM: an invocation's
 * register tile, or the workgroup tile of the workgroup-tile kernel.
 */
export interface SplitK {
  /** Parallel work the adapter needs: invocations for a few CPU cores, workgroups for waves of SMs. */
  wantTiles: number;
  /** The shortest K chunk worth a pass of its own. */
  minChunk: number;
}

/** The GEMM kernel that reads buffers (gpu/ops/matmul/buffer.ts). */
export type BufferGemmKernel =
  /** Registers only, no workgroup memory and no barriers: for llvmpipe (and its fallback). */
  | { kind: "registerTile"; tile: RegisterTile }
  /**
   * `tile` x `tile` outputs per workgroup of 16 x 16 threads (4 x 4 each, so the tile is 64),
   * operands staged through workgroup memory `kTile` values of K at a time: for GPUs.
   */
  | { kind: "workgroupTile"; tile: number; kTile: number };

/**
 * The choices that depend on how the GEMM and convolution operands are stored, f32 or f16
 * (`withPrecision`). f16 operands exist only in textures (rgba16float): a plan for f16 that
 * chose "buffer" for an op would run that op on the unrounded f32 values.
 */
export interface OperandPlan {
  /** "measured" on this backend, or "untuned": borrowed numbers nobody has timed here yet. */
  tuning: "measured" | "untuned";
  /** The texture GEMM's tile (matmul's texture technique and conv2d's implicit GEMMs). */
  textureTile: RegisterTile;
  /**
   * Other tiles matmul's texture technique may take: the one that pads N least across a
   * workgroup's width wins, `textureTile` on a tie (gpu/ops/matmul/tile.ts).
   */
  textureTileChoices?: RegisterTile[];
  matmul: {
    technique: Technique;
    /** Split-K of the technique's kernel (the buffer fallback keeps the texture technique's). */
    splitK: SplitK;
    /**
     * The texture technique reads an f32 operand whose rows are whole texels straight from its
     * mirror (gpu/ops/mirror.ts) instead of packing it (matmul/texture.ts, `operandReads`).
     */
    mirrorOperands?: boolean;
    /**
     * The buffer kernel: the technique itself when it is "buffer", else the fallback for shapes
     * whose packed operands exceed the texture size limit.
     */
    bufferKernel: BufferGemmKernel;
  };
  conv2d: {
    /** conv2d/direct_texture.ts, or conv2d/direct_buffer.ts. */
    forward: Technique;
    /**
     * texture: direct_texture.ts (stride 1) and implicit_gemm_texture.ts (stride 2); buffer:
     * direct_buffer.ts (stride 1) and gradient_buffer.ts (stride 2).
     */
    inputGrad: Technique;
    /** texture: implicit_gemm_texture.ts; buffer: gradient_buffer.ts. */
    weightGrad: Technique;
    /** Split-K of the implicit GEMMs (their tiles are `textureTile`). */
    implicitGemmSplitK: SplitK;
  };
}

/** Who reduces a GroupNorm group (gpu/ops/group_norm.ts, `Reducer`). */
export type GroupNormReducer = "workgroup" | "invocation";

export interface BackendProfile {
  /** Named in the adapter line and the bench report, e.g. "llvmpipe". */
  name: string;
  /** One line: which adapters, and the gist of the choices. */
  summary: string;
  /** Whether an adapter gets this profile (PROFILES are tried in order; the last takes any). */
  matches(adapter: { description: string; isFallback: boolean }): boolean;
  /** `--precision auto`: the operand precision that trains fastest here. */
  autoPrecision: Precision;
  /** Techniques and GEMM tiles per operand precision. */
  operands: Record<Precision, OperandPlan>;
  /** The buffer conv kernels (direct_buffer.ts, gradient_buffer.ts). */
  conv2d: {
    /** Workgroup width along the SIMD axis. */
    laneWidth: number;
    /**
     * Invocations x chunks the buffer weight-gradient reduction aims at: its rows are split into
     * chunks (summed by a second pass) until small layers give the adapter this much work.
     */
    weightGradSplitTarget: number;
  };
  /** One invocation per row; the workgroup's width along the SIMD axis. */
  softmax: { laneWidth: number };
  /**
   * One invocation per row; `mirrors`: read q, k, v and dOut through mirror textures (llvmpipe,
   * where a storage-buffer read is a per-lane loop) rather than from their buffers.
   */
  attention: { laneWidth: number; mirrors: boolean };
  /**
   * GroupNorm (and LayerNorm): the reducer, and the invocations per workgroup (for "workgroup" a
   * power of two, the width of its tree).
   */
  groupNorm: { reducer: GroupNormReducer; workgroupSize: number };
  /** How bench/ times kernels. */
  bench: {
    /**
     * "timestamps": timestamp queries (the wall clock when the adapter has none); "wall-clock"
     * always, for adapters whose timestamps do not bracket the work (llvmpipe writes one when a
     * dispatch is launched, not when it has finished).
     */
    timing: "timestamps" | "wall-clock";
    /** Rough GEMM GFLOP/s, to size the op table's repeats (about 0.3 s a shape). */
    matmulGflops: number;
  };
}

/**
 * Software rasterisers that run WebGPU on the CPU: Mesa's llvmpipe (lavapipe, its Vulkan driver),
 * SwiftShader, and whatever the browser calls its fallback adapter.
 */
export function isCpuAdapter(description: string, isFallback: boolean): boolean {
  return isFallback || /llvmpipe|lavapipe|swiftshader|software/i.test(description);
}
