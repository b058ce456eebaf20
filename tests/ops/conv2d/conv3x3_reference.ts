// float64 3x3 conv (padding 1, stride 1) and its weight gradient: the reference of the tests of
// producers that write a conv's packed input themselves (GroupNorm+SiLU, nearest upsampling).
import type { Conv2dShape } from "../../../gpu/ops/conv2d/conv2d.ts";

/** y = conv3x3(x) + bias and dWeight = the sum over positions of dy times x's windows. */
export function conv3x3Reference(
  x: Float64Array,
  w: Float64Array,
  bias: Float64Array,
  dy: Float64Array,
  s: Conv2dShape,
): { y: Float64Array; dWeight: Float64Array } {
  const { batch: B, inChannels: C, outChannels: O, height: H, width: W } = s;
  const y = new Float64Array(B * O * H * W);
  const dWeight = new Float64Array(w.length);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < H; oy++) {
        for (let ox = 0; ox < W; ox++) {
          const yi = ((b * O + o) * H + oy) * W + ox;
          y[yi] += bias[o];
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < 3; ky++) {
              const iy = oy + ky - 1;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < 3; kx++) {
                const ix = ox + kx - 1;
                if (ix < 0 || ix >= W) continue;
                const wi = ((o * C + c) * 3 + ky) * 3 + kx;
                const xi = ((b * C + c) * H + iy) * W + ix;
                y[yi] += w[wi] * x[xi];
                dWeight[wi] += dy[yi] * x[xi];
              }
            }
          }
        }
      }
    }
  }
  return { y, dWeight };
}
