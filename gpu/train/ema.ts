// An exponential moving average of the weights, as diffusers' EMAModel keeps it for its training
// scripts: after every optimizer step, shadow -= (1 - decay) (shadow - param), over each parameter
// store's whole buffer in one dispatch; the decay (schedule.ts) is a one-value tensor the host
// writes per step, so the recorded dispatches never change. The shadow starts as the weights.
import type { ParamStore } from "../model/params.ts";
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { createTensor, type Tensor, upload } from "../runtime/tensor.ts";

const WG = 64;

const emaKernel: KernelSpec = {
  name: "emaUpdate",
  params: { n: "u32" },
  bindings: { decay: "read", param: "read array<vec4<f32>>", shadow: "write array<vec4<f32>>" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let s = shadow[i];
  shadow[i] = s - (1.0 - decay[0]) * (s - param[i]);
}`,
};

const copyKernel: KernelSpec = {
  name: "emaCopy",
  params: { n: "u32" },
  bindings: { src: "read array<vec4<f32>>", dst: "write array<vec4<f32>>" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i < p.n) { dst[i] = src[i]; }
}`,
};

export interface EmaWeights {
  /** f32 [1]: the decay of the next update (written by the host). */
  decay: Tensor;
  /** Per store: the averaged parameters, in the store's layout. */
  shadows: Tensor[];
  /** The stores with their data swapped for the shadows: what a checkpoint of the EMA reads. */
  views: ParamStore[];
  /** One update per store (record after the optimizer step). */
  update: Dispatch[];
  /** shadow = param, per store (the start, and a restart from other weights). */
  reset: Dispatch[];
}

/** The EMA of `stores` (parameter buffers are padded to 64 elements, so vec4s fit exactly). */
export async function createEma(gpu: Gpu, stores: ParamStore[]): Promise<EmaWeights> {
  const decay = createTensor(gpu, [1], "f32", "ema.decay");
  upload(gpu, decay, new Float32Array(1));
  const shadows = stores.map((s) =>
    createTensor(gpu, [s.layout.totalElements], "f32", "ema.shadow")
  );
  const update: Dispatch[] = [];
  const reset: Dispatch[] = [];
  for (const [i, store] of stores.entries()) {
    const n = store.layout.totalElements / 4;
    update.push(
      await createDispatch(
        gpu,
        emaKernel,
        { decay, param: store.data, shadow: shadows[i] },
        grid1d(n, WG),
        { n },
      ),
    );
    reset.push(
      await createDispatch(gpu, copyKernel, { src: store.data, dst: shadows[i] }, grid1d(n, WG), {
        n,
      }),
    );
  }
  const views = stores.map((s, i) => ({ ...s, data: shadows[i] }));
  return { decay, shadows, views, update, reset };
}
