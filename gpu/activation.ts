// Pointwise activations: SiLU, forward and backward.
import type { Gpu } from "./device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "./kernel.ts";
import type { Tensor } from "./tensor.ts";

const WG = 64;

const siluForwardKernel: KernelSpec = {
  name: "siluForward",
  params: { n: "u32" },
  bindings: { x: "read", y: "write" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = v / (1.0 + exp(-v));
}`,
};

/** y = x * sigmoid(x). */
export function siluForward(gpu: Gpu, x: Tensor, y: Tensor): Promise<Dispatch> {
  return createDispatch(gpu, siluForwardKernel, { x, y }, grid1d(x.size, WG), { n: x.size });
}

function siluBackwardKernel(accumulate: boolean): KernelSpec {
  return {
    name: "siluBackward",
    params: { n: "u32" },
    bindings: { x: "read", dy: "read", dx: "write" },
    consts: { WG, ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let v = x[i];
  let s = 1.0 / (1.0 + exp(-v));
  let g = dy[i] * s * (1.0 + v * (1.0 - s));
  if (ACCUMULATE) { dx[i] = dx[i] + g; } else { dx[i] = g; }
}`,
  };
}

/** dx (=|+=) dy * silu'(x), with silu'(x) = s(x) (1 + x (1 - s(x))). */
export function siluBackward(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  dx: Tensor,
  accumulate = false,
): Promise<Dispatch> {
  return createDispatch(gpu, siluBackwardKernel(accumulate), { x, dy, dx }, grid1d(x.size, WG), {
    n: x.size,
  });
}
