// The sprite classifier against a float64 forward of the same net: features, logits, and every
// parameter gradient of the cross-entropy against central finite differences of that forward.
import {
  buildClassifier,
  type ClassifierOptions,
  classifierParamSpecs,
} from "../../gpu/model/classifier.ts";
import { initParamsHost, paramLayout } from "../../gpu/model/params.ts";
import { crossEntropyLoss } from "../../gpu/ops/cross_entropy.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { createTensor, upload } from "../../gpu/runtime/tensor.ts";
import { assertClose, getGpu, gpuTensor, makeRng, read, uniform } from "../util.ts";

const silu = (v: number) => v / (1 + Math.exp(-v));

/** y [B, O, H/s, W/s] = conv3x3(x [B, C, H, W], padding 1, stride s) + bias. */
function conv3(
  x: Float64Array,
  w: Float64Array,
  bias: Float64Array,
  B: number,
  C: number,
  O: number,
  H: number,
  s: number,
): Float64Array {
  const OH = H / s;
  const y = new Float64Array(B * O * OH * OH);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OH; ox++) {
          let acc = bias[o];
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < 3; ky++) {
              const iy = oy * s - 1 + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < 3; kx++) {
                const ix = ox * s - 1 + kx;
                if (ix < 0 || ix >= H) continue;
                acc += w[((o * C + c) * 3 + ky) * 3 + kx] * x[((b * C + c) * H + iy) * H + ix];
              }
            }
          }
          y[((b * O + o) * OH + oy) * OH + ox] = acc;
        }
      }
    }
  }
  return y;
}

function linear(x: Float64Array, w: Float64Array, bias: Float64Array, rows: number, out: number) {
  const inF = x.length / rows;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let acc = bias[o];
      for (let i = 0; i < inF; i++) acc += w[o * inF + i] * x[r * inF + i];
      y[r * out + o] = acc;
    }
  }
  return y;
}

/** The classifier in float64: features, logits and the mean cross-entropy against `labels`. */
function forward64(o: ClassifierOptions, p: Float64Array, x: Float64Array, labels: number[]) {
  const layout = paramLayout(classifierParamSpecs(o));
  const get = (name: string) => {
    const e = layout.byName.get(name)!;
    return p.subarray(e.offset, e.offset + e.size);
  };
  const B = labels.length;
  let h = x;
  let [c, size] = [3, o.size];
  for (let i = 0; i < 3; i++) {
    const s = i === 0 ? 1 : 2;
    h = conv3(h, get(`conv${i + 1}.weight`), get(`conv${i + 1}.bias`), B, c, o.channels[i], size, s)
      .map(silu);
    c = o.channels[i];
    size /= s;
  }
  const features = linear(h, get("fc.weight"), get("fc.bias"), B, o.features).map(silu);
  const logits = linear(features, get("head.weight"), get("head.bias"), B, o.classes);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const row = logits.subarray(b * o.classes, (b + 1) * o.classes);
    const m = Math.max(...row);
    loss += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[labels[b]];
  }
  return { features, logits, loss: loss / B };
}

Deno.test("classifier: forward vs float64, every parameter gradient vs finite differences", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const o: ClassifierOptions = { classes: 3, size: 8, channels: [4, 6, 5], features: 7 };
  const B = 3;
  const net = await buildClassifier(gpu, o, { batch: B, withBackward: true });
  const layout = net.params.layout;
  // PyTorch's default init, then biases made non-zero so their gradients are exercised.
  const params32 = initParamsHost(layout, rng.next);
  for (const e of layout.entries) {
    if (e.name.endsWith(".bias")) {
      for (let i = 0; i < e.size; i++) params32[e.offset + i] = Math.fround(rng.next() - 0.5);
    }
  }
  const params = Float64Array.from(params32);
  const x = uniform(rng, B * 3 * o.size * o.size, -1, 1);
  const labels = [0, 2, 1];
  upload(gpu, net.params.data, params32);
  upload(gpu, net.input, Float32Array.from(x));
  const target = new Float32Array(B * o.classes);
  labels.forEach((c, b) => target[b * o.classes + c] = 1);
  const loss = createTensor(gpu, [1]);
  await runNow(gpu, [
    ...net.forward,
    ...await crossEntropyLoss(gpu, {
      logits: net.logits,
      target: gpuTensor(gpu, target, [B, o.classes]),
      dLogits: net.dLogits,
      loss,
      rows: B,
      classes: o.classes,
    }),
    ...net.backward,
  ]);
  const ref = forward64(o, params, x, labels);
  assertClose(await read(gpu, net.features), ref.features, 1e-5, "features", rng.seed);
  assertClose(await read(gpu, net.logits), ref.logits, 1e-5, "logits", rng.seed);
  assertClose(await read(gpu, loss), [ref.loss], 1e-5, "loss", rng.seed);

  const grads = await read(gpu, net.params.grads);
  const eps = 1e-6;
  for (const e of layout.entries) {
    const gpuGrad = grads.subarray(e.offset, e.offset + e.size);
    const numeric: number[] = [];
    const analytic: number[] = [];
    for (let k = 0; k < Math.min(8, e.size); k++) {
      const i = e.offset + Math.floor(rng.next() * e.size);
      const saved = params[i];
      params[i] = saved + eps;
      const up = forward64(o, params, x, labels).loss;
      params[i] = saved - eps;
      const down = forward64(o, params, x, labels).loss;
      params[i] = saved;
      numeric.push((up - down) / (2 * eps));
      analytic.push(gpuGrad[i - e.offset]);
    }
    // f32 gradients against float64 differences: relative to the tensor's largest gradient.
    const scale = Math.max(...Array.from(gpuGrad, Math.abs), 1e-9);
    const worst = Math.max(...numeric.map((n, k) => Math.abs(n - analytic[k]) / scale));
    if (!(worst < 2e-4)) {
      throw new Error(
        `grad ${e.name}: GPU ${analytic} vs finite differences ${numeric} (relative ${worst}, ` +
          `seed ${rng.seed})`,
      );
    }
  }
});

Deno.test("classifier: a batch of identical sprites gives identical features and logits", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const o: ClassifierOptions = { classes: 5, size: 16, channels: [8, 8, 8], features: 16 };
  const net = await buildClassifier(gpu, o, { batch: 4 });
  upload(gpu, net.params.data, initParamsHost(net.params.layout, rng.next));
  const one = uniform(rng, 3 * 16 * 16, -1, 1);
  const x = new Float32Array(4 * one.length);
  for (let b = 0; b < 4; b++) x.set(one, b * one.length);
  upload(gpu, net.input, x);
  await runNow(gpu, net.forward);
  const logits = await read(gpu, net.logits);
  for (let b = 1; b < 4; b++) {
    assertClose(logits.subarray(b * 5, b * 5 + 5), logits.subarray(0, 5), 1e-6, `row ${b}`);
  }
});
