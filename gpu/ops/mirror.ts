// Mirrors: a texture copy of an f32 tensor, for kernels that read it in bulk. On llvmpipe a
// storage-buffer read compiles to a loop over the SIMD lanes with a branch and a bounds check per
// lane, a storage-texture read to one vectorised gather; the copy that refreshes the mirror is a
// memcpy (~6 GB/s on one core). Kernels bind a mirror as "mirror read" (gpu/runtime/kernel.ts) and
// read the i-th vec4 of the tensor with `load_<name>(i)`.
//
// Layout: rgba32float, MIRROR_WIDTH texels a row; texel i = tensor[4i .. 4i + 3] at
// (i % MIRROR_WIDTH, i / MIRROR_WIDTH). One texture per tensor (and device); every reader puts the
// mirror's refresh step before its own kernel, so it reads the tensor as it is at that point of
// the list (a refresh nobody needed costs one memcpy).
import type { Gpu } from "../runtime/device.ts";
import { copyStep, type Dispatch, MIRROR_WIDTH, registerTextureBytes } from "../runtime/kernel.ts";
import { type ScopedGpu, trackAllocation } from "../runtime/memory.ts";
import type { Tensor } from "../runtime/tensor.ts";

export interface Mirror {
  view: GPUTextureView;
  /** Copies the tensor into the texture: put it after the tensor's writers, before the readers. */
  refresh: Dispatch;
}

// By the context's allocation scope (the texture lives and dies with it; a model's parameters are
// mirrored once per program that reads them), else by device.
const mirrors = new WeakMap<object, WeakMap<GPUBuffer, Map<string, Mirror>>>();

/** The mirror texture of `t` (f32, a multiple of 4 elements), made on first use. */
export function mirror(gpu: Gpu, t: Tensor): Mirror {
  if (t.dtype !== "f32" || t.size % 4 !== 0) {
    throw new Error(`mirror: ${t.label} must be f32 with a multiple of 4 elements`);
  }
  const owner = (gpu as ScopedGpu).allocations ?? gpu.device;
  let byBuffer = mirrors.get(owner);
  if (!byBuffer) mirrors.set(owner, byBuffer = new WeakMap());
  let byView = byBuffer.get(t.buffer);
  if (!byView) byBuffer.set(t.buffer, byView = new Map());
  const key = `${t.offset}:${t.size}`;
  let m = byView.get(key);
  if (!m) byView.set(key, m = createMirror(gpu, t));
  return m;
}

function createMirror(gpu: Gpu, t: Tensor): Mirror {
  const texels = t.size / 4;
  const full = Math.floor(texels / MIRROR_WIDTH);
  const rest = texels - full * MIRROR_WIDTH;
  const rows = full + (rest ? 1 : 0);
  if (rows > gpu.limits.maxTextureDimension2D) {
    throw new Error(`mirror: ${t.label} [${t.shape}] exceeds the texture size limit`);
  }
  const texture = gpu.device.createTexture({
    size: [MIRROR_WIDTH, rows],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
    label: `mirror.${t.label}`,
  });
  trackAllocation(gpu, texture, MIRROR_WIDTH * rows * 16);
  const view = texture.createView();
  registerTextureBytes(view, t.size * 4);
  const bytesPerRow = MIRROR_WIDTH * 16;
  // It writes only its texture; what it reads lets a list drop it where nothing has changed.
  const effects = {
    writes: [],
    refreshes: { buffer: t.buffer, offset: t.offset, size: t.size * 4 },
  };
  const refresh = copyStep("copyToMirror", t.size * 4, (encoder) => {
    const source = { buffer: t.buffer, bytesPerRow };
    if (full) {
      encoder.copyBufferToTexture({ ...source, offset: t.offset }, { texture }, [
        MIRROR_WIDTH,
        full,
      ]);
    }
    if (rest) {
      encoder.copyBufferToTexture(
        { ...source, offset: t.offset + full * bytesPerRow },
        { texture, origin: [0, full] },
        [rest, 1],
      );
    }
  }, effects);
  return { view, refresh };
}
