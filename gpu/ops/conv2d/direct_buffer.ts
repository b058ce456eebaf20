// The direct buffer technique of conv2d (shapes in geometry.ts): forward, and the input gradient of
// a stride-1 conv (a conv of dy with the flipped, transposed weights), on one kernel that reads the
// storage buffers directly. Each invocation computes a ROWS x COLS x OC block of outputs from one
// (window + OC*k*k) load per input channel, with the loops unrolled into scalar registers by the
// generator below; no workgroup memory. The workgroup width is the profile's `conv2d.laneWidth`.
// It is the discrete-GPU profile's technique (an implicit GEMM with workgroup tiles would be the
// better fit there) and the texture technique's fallback past the texture size limit.
import type { Gpu } from "../../runtime/device.ts";
import { createDispatch, type Dispatch, type KernelSpec } from "../../runtime/kernel.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import { each, pairs, range } from "../../runtime/wgsl.ts";
import { type ConvDims, convParams } from "./geometry.ts";

/**
 * Output tile per invocation: ROWS x COLS positions x OC channels. Stride 2 takes half the rows:
 * its input window grows twice as fast, and so does LLVM's compile time for the unrolled body.
 */
const tileRows = (stride: number) => stride === 1 ? 4 : 2;
const COLS = 4;
const OC = 8;

interface DirectConvConfig {
  kernel: 1 | 3;
  stride: 1 | 2;
  /** Input gradient of a stride-1 conv: weight is read as [in, out, k, k] with the taps flipped. */
  transposed: boolean;
  bias: boolean;
  accumulate: boolean;
  wg: number;
}

/** The direct conv kernel: ROWS x COLS output positions x OC output channels per invocation. */
function directConvKernel(c: DirectConvConfig): KernelSpec {
  const K = c.kernel, S = c.stride, P = (K - 1) / 2, KK = K * K, ROWS = tileRows(S);
  const inRows = (ROWS - 1) * S + K;
  const inCols = (COLS - 1) * S + K;
  const window = pairs(inRows, inCols); // [input row r, input column t] of the loaded window
  const outputs = pairs(ROWS, COLS);
  const weightOffset = (j: number, ky: number, kx: number) =>
    c.transposed ? `wb${j} + wo + ${KK - 1 - (ky * K + kx)}u` : `wb${j} + wo + ${ky * K + kx}u`;
  const bindings: Record<string, string> = { x: "read", weight: "read" };
  if (c.bias) bindings.bias = "read";
  bindings.y = "write";
  return {
    name: `conv2dDirect${K}x${K}s${S}${c.transposed ? "T" : ""}`,
    params: { ...convParams, tilesX: "u32", tilesY: "u32" },
    bindings,
    consts: { WG: c.wg, ROWS, COLS, OC, S, KK, ACCUMULATE: c.accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  // Lanes run over (tile, batch) so that small feature maps still fill the SIMD width.
  if (gid.x >= p.positions) { return; }
  let ox0 = (gid.x % p.tilesX) * COLS;
  let oy0 = (gid.x / p.tilesX % p.tilesY) * ROWS;
  let b = gid.x / (p.tilesX * p.tilesY);
  let ocBase = wid.y * OC;
  let ix0 = i32(ox0 * S) - ${P};
  let iy0 = i32(oy0 * S) - ${P};
  let inW = i32(p.inW);
  let inH = i32(p.inH);
  // Padding: out-of-range taps read element 0 and are masked to zero.
  ${each(range(inCols), (t) => `let cm${t} = ix0 + ${t} >= 0 && ix0 + ${t} < inW;`)}
  ${each(range(inRows), (r) => `let rm${r} = iy0 + ${r} >= 0 && iy0 + ${r} < inH;`)}
  ${
      each(window, ([r, t]) =>
        `let m${r}_${t} = rm${r} && cm${t};
  let o${r}_${t} = select(0u, u32((iy0 + ${r}) * inW + ix0 + ${t}), m${r}_${t});`)
    }
  // Channels past the end of a partial tile compute a clamped channel and are not stored.
  ${each(range(OC), (j) => `let oc${j} = min(ocBase + ${j}u, p.outC - 1u);`)}
  ${
      each(
        range(OC),
        (j) => c.transposed ? `let wb${j} = oc${j} * KK;` : `let wb${j} = oc${j} * p.inC * KK;`,
      )
    }
  ${each(range(OC), (j) => each(outputs, ([q, u]) => `var a${j}_${q}_${u} = 0.0;`))}
  let plane = p.inH * p.inW;
  var base = b * p.inC * plane;
  for (var ic = 0u; ic < p.inC; ic++) {
    ${each(window, ([r, t]) => `let v${r}_${t} = select(0.0, x[base + o${r}_${t}], m${r}_${t});`)}
    let wo = ${c.transposed ? "ic * p.outC * KK" : "ic * KK"};
    ${
      each(range(OC), (j) =>
        each(pairs(K, K), ([ky, kx]) =>
          `{ let w = weight[${weightOffset(j, ky, kx)}];
      ${
            each(outputs, ([q, u]) =>
              `a${j}_${q}_${u} = fma(w, v${q * S + ky}_${u * S + kx}, a${j}_${q}_${u});`)
          } }`))
    }
    base += plane;
  }
  ${
      each(range(OC), (j) =>
        each(outputs, ([q, u]) =>
          `if (oy0 + ${q}u < p.outH && ox0 + ${u}u < p.outW && ocBase + ${j}u < p.outC) {
    let i = ((b * p.outC + oc${j}) * p.outH + oy0 + ${q}u) * p.outW + ox0 + ${u}u;
    let v = a${j}_${q}_${u}${c.bias ? ` + bias[oc${j}]` : ""};
    if (ACCUMULATE) { y[i] = y[i] + v; } else { y[i] = v; }
  }`))
    }
}`,
  };
}

/**
 * y (=|+=) conv(x, weight) (+ bias) over an output of [batch, outC, outH, outW], one dispatch.
 * `transposed`: the stride-1 input gradient (x = dy, y = dx, weight read as [in, out, k, k] with
 * the taps flipped). Buffers: x, weight, y, and bias when `bias`.
 */
export function directConvBuffer(
  gpu: Gpu,
  d: ConvDims,
  buffers: Record<string, Tensor>,
  flags: { transposed: boolean; bias: boolean; accumulate: boolean },
): Promise<Dispatch> {
  const wg = gpu.profile.conv2d.laneWidth;
  const tilesX = Math.ceil(d.outW / COLS);
  const tilesY = Math.ceil(d.outH / tileRows(d.stride));
  const positions = tilesX * tilesY * d.batch;
  const params = { inC: d.inC, outC: d.outC, inH: d.inH, inW: d.inW, outH: d.outH, outW: d.outW };
  return createDispatch(
    gpu,
    directConvKernel({ kernel: d.kernel, stride: d.stride, ...flags, wg }),
    buffers,
    [Math.ceil(positions / wg), Math.ceil(d.outC / OC), 1],
    { ...params, positions, tilesX, tilesY },
  );
}
