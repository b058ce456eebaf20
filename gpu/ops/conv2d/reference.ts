// Plain conv2d kernels, one output element per invocation with the textbook loops: the reference the
// tests hold every technique of conv2d.ts to (besides the float64 CPU one). Same arguments as
// conv2dForward / conv2dBackward. Slow; never used by the model, and the same on every profile.
import type { Gpu } from "../../runtime/device.ts";
import { conv2dGeometry, type Conv2dShape, convParams } from "./geometry.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../../runtime/kernel.ts";
import type { Tensor } from "../../runtime/tensor.ts";

const WG = 64;

// Input read with zero padding outside the image.
const header = /* wgsl */ `
fn in_at(b: u32, c: u32, iy: i32, ix: i32) -> f32 {
  if (iy < 0 || ix < 0 || iy >= i32(p.inH) || ix >= i32(p.inW)) { return 0.0; }
  return x[((b * p.inC + c) * p.inH + u32(iy)) * p.inW + u32(ix)];
}`;

function referenceKernel(name: string, bindings: Record<string, string>, body: string): KernelSpec {
  return {
    name,
    params: { ...convParams, batch: "u32", K: "u32", S: "u32", PAD: "i32" },
    bindings,
    consts: { WG },
    code: (bindings.x ? header : "") + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.positions) { return; }
  ${body}
}`,
  };
}

const forwardKernel = (bias: boolean) =>
  referenceKernel(
    `conv2dForwardReference`,
    bias
      ? { x: "read", weight: "read", bias: "read", y: "write" }
      : { x: "read", weight: "read", y: "write" },
    /* wgsl */ `
  let ox = i32(i % p.outW);
  let oy = i32((i / p.outW) % p.outH);
  let o = (i / (p.outW * p.outH)) % p.outC;
  let b = i / (p.outW * p.outH * p.outC);
  var s = ${bias ? "bias[o]" : "0.0"};
  for (var c = 0u; c < p.inC; c++) {
    for (var ky = 0u; ky < p.K; ky++) {
      for (var kx = 0u; kx < p.K; kx++) {
        let w = weight[((o * p.inC + c) * p.K + ky) * p.K + kx];
        s += w * in_at(b, c, oy * i32(p.S) - p.PAD + i32(ky), ox * i32(p.S) - p.PAD + i32(kx));
      }
    }
  }
  y[i] = s;`,
  );

// dx[b, c, iy, ix] = sum over (o, ky, kx) with iy = oy*S - PAD + ky of w[o, c, ky, kx] dy[b, o, oy, ox].
const inputGradKernel = (accumulate: boolean) =>
  referenceKernel(
    "conv2dBackwardInputReference",
    { weight: "read", dy: "read", dx: "write" },
    /* wgsl */ `
  let ix = i32(i % p.inW);
  let iy = i32((i / p.inW) % p.inH);
  let c = (i / (p.inW * p.inH)) % p.inC;
  let b = i / (p.inW * p.inH * p.inC);
  var s = 0.0;
  for (var o = 0u; o < p.outC; o++) {
    for (var ky = 0; ky < i32(p.K); ky++) {
      for (var kx = 0; kx < i32(p.K); kx++) {
        let ty = iy + p.PAD - ky;
        let tx = ix + p.PAD - kx;
        let S = i32(p.S);
        if (ty < 0 || tx < 0 || ty % S != 0 || tx % S != 0) { continue; }
        let oy = ty / S;
        let ox = tx / S;
        if (oy >= i32(p.outH) || ox >= i32(p.outW)) { continue; }
        let w = weight[((o * p.inC + c) * p.K + u32(ky)) * p.K + u32(kx)];
        s += w * dy[((b * p.outC + o) * p.outH + u32(oy)) * p.outW + u32(ox)];
      }
    }
  }
  ${accumulate ? "dx[i] = dx[i] + s;" : "dx[i] = s;"}`,
  );

const weightGradKernel = referenceKernel(
  "conv2dBackwardWeightReference",
  { x: "read", dy: "read", dWeight: "write" },
  /* wgsl */ `
  let kx = i32(i % p.K);
  let ky = i32((i / p.K) % p.K);
  let c = (i / (p.K * p.K)) % p.inC;
  let o = i / (p.K * p.K * p.inC);
  var s = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    for (var oy = 0u; oy < p.outH; oy++) {
      for (var ox = 0u; ox < p.outW; ox++) {
        let g = dy[((b * p.outC + o) * p.outH + oy) * p.outW + ox];
        s += g * in_at(b, c, i32(oy * p.S) - p.PAD + ky, i32(ox * p.S) - p.PAD + kx);
      }
    }
  }
  dWeight[i] = s;`,
);

const biasGradKernel = referenceKernel(
  "conv2dBackwardBiasReference",
  { dy: "read", dBias: "write" },
  /* wgsl */ `
  var s = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    for (var k = 0u; k < p.outH * p.outW; k++) { s += dy[(b * p.outC + i) * p.outH * p.outW + k]; }
  }
  dBias[i] = s;`,
);

function params(shape: Conv2dShape, positions: number) {
  const g = conv2dGeometry(shape);
  return {
    inC: g.inChannels,
    outC: g.outChannels,
    inH: g.height,
    inW: g.width,
    outH: g.outHeight,
    outW: g.outWidth,
    positions,
    batch: g.batch,
    K: g.kernel,
    S: g.stride,
    PAD: g.padding,
  };
}

/** Plain-loop version of conv2dForward. */
export async function conv2dForwardReference(
  gpu: Gpu,
  args: { x: Tensor; weight: Tensor; bias?: Tensor; y: Tensor; shape: Conv2dShape },
): Promise<Dispatch> {
  const { x, weight, bias, y } = args;
  const buffers: Record<string, Tensor> = bias ? { x, weight, bias, y } : { x, weight, y };
  return await createDispatch(
    gpu,
    forwardKernel(!!bias),
    buffers,
    grid1d(y.size, WG),
    params(args.shape, y.size),
  );
}

/** Plain-loop version of conv2dBackward. */
export async function conv2dBackwardReference(
  gpu: Gpu,
  args: {
    x: Tensor;
    weight: Tensor;
    dy: Tensor;
    dx?: Tensor;
    dWeight: Tensor;
    dBias?: Tensor;
    shape: Conv2dShape;
    accumulateDx?: boolean;
  },
): Promise<Dispatch[]> {
  const { x, weight, dy, dx, dWeight, dBias, shape } = args;
  const out: Dispatch[] = [];
  if (dx) {
    out.push(
      await createDispatch(
        gpu,
        inputGradKernel(!!args.accumulateDx),
        { weight, dy, dx },
        grid1d(dx.size, WG),
        params(shape, dx.size),
      ),
    );
  }
  out.push(
    await createDispatch(
      gpu,
      weightGradKernel,
      { x, dy, dWeight },
      grid1d(dWeight.size, WG),
      params(shape, dWeight.size),
    ),
  );
  if (dBias) {
    out.push(
      await createDispatch(
        gpu,
        biasGradKernel,
        { dy, dBias },
        grid1d(dBias.size, WG),
        params(shape, dBias.size),
      ),
    );
  }
  return out;
}
