import {
  conv2dBackward,
  conv2dForward,
  conv2dGeometry,
  type Conv2dShape,
  type ConvInputSlot,
} from "../../../gpu/ops/conv2d/conv2d.ts";
import {
  conv2dBackwardReference,
  conv2dForwardReference,
} from "../../../gpu/ops/conv2d/reference.ts";
import {
  type Gpu,
  type Precision,
  PROFILES,
  withPrecision,
  withProfile,
} from "../../../gpu/runtime/device.ts";
import type { BackendProfile } from "../../../gpu/runtime/profile.ts";
import { runNow } from "../../../gpu/runtime/kernel.ts";
import { fill } from "../../../gpu/runtime/tensor.ts";
import {
  assertClose,
  assertGradientMatchesFD,
  dot,
  getGpu,
  gpuTensor,
  makeRng,
  poisoned,
  randn,
  read,
  relativeError,
} from "../../util.ts";

// float64 reference: y[b,o,oy,ox] = bias[o] + sum_{c,ky,kx} w[o,c,ky,kx] x[b,c,oy*s-p+ky,ox*s-p+kx].
// `visit` enumerates every (output, weight, input) triple that contributes, so the forward and
// the analytic backward are the same loop read two ways.
function visit(
  shape: Conv2dShape,
  f: (yi: number, wi: number, xi: number) => void,
): void {
  const g = conv2dGeometry(shape);
  const { batch: B, inChannels: C, outChannels: O, height: H, width: W, kernel: K } = g;
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < g.outHeight; oy++) {
        for (let ox = 0; ox < g.outWidth; ox++) {
          const yi = ((b * O + o) * g.outHeight + oy) * g.outWidth + ox;
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < K; ky++) {
              const iy = oy * g.stride - g.padding + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < K; kx++) {
                const ix = ox * g.stride - g.padding + kx;
                if (ix < 0 || ix >= W) continue;
                f(yi, ((o * C + c) * K + ky) * K + kx, ((b * C + c) * H + iy) * W + ix);
              }
            }
          }
        }
      }
    }
  }
}

function ySize(shape: Conv2dShape): number {
  const g = conv2dGeometry(shape);
  return g.batch * g.outChannels * g.outHeight * g.outWidth;
}

function convForward64(
  shape: Conv2dShape,
  x: Float64Array,
  w: Float64Array,
  bias?: Float64Array,
): Float64Array {
  const y = new Float64Array(ySize(shape));
  visit(shape, (yi, wi, xi) => y[yi] += w[wi] * x[xi]);
  if (bias) {
    const plane = y.length / (shape.batch * shape.outChannels);
    for (let i = 0; i < y.length; i++) y[i] += bias[Math.floor(i / plane) % shape.outChannels];
  }
  return y;
}

function convBackward64(shape: Conv2dShape, x: Float64Array, w: Float64Array, dy: Float64Array) {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  visit(shape, (yi, wi, xi) => {
    dx[xi] += w[wi] * dy[yi];
    dw[wi] += x[xi] * dy[yi];
  });
  const db = new Float64Array(shape.outChannels);
  const plane = dy.length / (shape.batch * shape.outChannels);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / plane) % shape.outChannels] += dy[i];
  return { dx, dw, db };
}

const TOL = 1e-5;

/** The profile's conv2d techniques (forward, dx, dWeight) for the precision. */
const techniquesOf = (p: BackendProfile, precision: Precision) => {
  const c = p.operands[precision].conv2d;
  return [c.forward, c.inputGrad, c.weightGrad];
};

/** For the test names: "texture", "buffer", or each op's when they differ. */
function techniqueName(p: BackendProfile, precision: Precision): string {
  const [forward, dx, dWeight] = techniquesOf(p, precision);
  const name = forward === dx && dx === dWeight
    ? forward
    : `forward ${forward}, dx ${dx}, dWeight ${dWeight}`;
  return `${name}, ${p.name} profile`;
}

/** `textureLimit`: pretend the device's textures are this small (the texture technique's fallbacks). */
async function checkConv(
  shape: Conv2dShape,
  withBias: boolean,
  profile: BackendProfile,
  textureLimit?: number,
) {
  const device = withProfile(await getGpu(), profile);
  const { limits } = device;
  const gpu: Gpu = textureLimit === undefined ? device : {
    ...device,
    limits: {
      maxTextureDimension2D: textureLimit,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    } as GPUSupportedLimits,
  };
  const rng = makeRng();
  const { batch: B, inChannels: C, outChannels: O, height: H, width: W, kernel: K } = shape;
  const what = `conv2d [${techniqueName(profile, "f32")}] ${
    JSON.stringify(shape)
  } bias=${withBias}`;
  const x = randn(rng, B * C * H * W);
  const w = randn(rng, O * C * K * K, 1 / Math.sqrt(C * K * K));
  const bias = withBias ? randn(rng, O) : undefined;
  const n = ySize(shape);
  const r = randn(rng, n);

  const xt = gpuTensor(gpu, x, [B, C, H, W], "x");
  const wt = gpuTensor(gpu, w, [O, C, K, K], "weight");
  const bt = bias ? gpuTensor(gpu, bias, [O], "bias") : undefined;
  const dyt = gpuTensor(gpu, r, [n], "dy");
  const y = poisoned(gpu, [n]);
  const yRef = poisoned(gpu, [n]);
  const dx = poisoned(gpu, [x.length]);
  const dxRef = poisoned(gpu, [x.length]);
  const dw = poisoned(gpu, [w.length]);
  const dwRef = poisoned(gpu, [w.length]);
  const db = poisoned(gpu, [O]);
  const dbRef = poisoned(gpu, [O]);
  const grads = (dx: typeof y, dWeight: typeof y, dBias: typeof y, accumulateDx = false) => ({
    x: xt,
    weight: wt,
    dy: dyt,
    dx,
    dWeight,
    dBias: bt ? dBias : undefined,
    shape,
    accumulateDx,
  });
  await runNow(gpu, [
    ...await conv2dForward(gpu, { x: xt, weight: wt, bias: bt, y, shape }),
    await conv2dForwardReference(gpu, { x: xt, weight: wt, bias: bt, y: yRef, shape }),
    ...await conv2dBackward(gpu, grads(dx, dw, db)),
    ...await conv2dBackwardReference(gpu, grads(dxRef, dwRef, dbRef)),
  ]);

  const yWant = convForward64(shape, x, w, bias);
  assertClose(await read(gpu, yRef), yWant, TOL, `${what} reference forward`, rng.seed);
  assertClose(await read(gpu, y), yWant, TOL, `${what} forward`, rng.seed);

  const want = convBackward64(shape, x, w, r);
  const objective = (xv: Float64Array, wv: Float64Array, bv?: Float64Array) =>
    dot(convForward64(shape, xv, wv, bv), r);
  assertGradientMatchesFD((v) => objective(v, w, bias), x, want.dx, rng, `${what} float64 dx`);
  assertGradientMatchesFD((v) => objective(x, v, bias), w, want.dw, rng, `${what} float64 dw`);
  if (bias) {
    assertGradientMatchesFD((v) => objective(x, w, v), bias, want.db, rng, `${what} float64 db`);
  }

  for (const [t, ref, label] of [[dx, dxRef, "dx"], [dw, dwRef, "dWeight"]] as const) {
    const got = await read(gpu, t);
    assertClose(
      await read(gpu, ref),
      want[label === "dx" ? "dx" : "dw"],
      TOL,
      `${what} ref ${label}`,
    );
    assertClose(got, want[label === "dx" ? "dx" : "dw"], TOL, `${what} ${label}`, rng.seed);
  }
  if (bias) {
    assertClose(await read(gpu, dbRef), want.db, TOL, `${what} reference dBias`, rng.seed);
    assertClose(await read(gpu, db), want.db, TOL, `${what} dBias`, rng.seed);
  }

  // accumulateDx adds onto dx (which holds the gradient once) while parameter gradients overwrite.
  fill(gpu, dw, NaN);
  fill(gpu, db, NaN);
  fill(gpu, dxRef, NaN);
  fill(gpu, dwRef, NaN);
  await runNow(gpu, [
    ...await conv2dBackward(gpu, grads(dx, dw, db, true)),
    ...await conv2dBackward(gpu, { ...grads(dxRef, dwRef, dbRef), dx: undefined }),
  ]);
  assertClose(await read(gpu, dx), want.dx.map((v) => 2 * v), TOL, `${what} dx +=`, rng.seed);
  assertClose(await read(gpu, dw), want.dw, TOL, `${what} dWeight after +=`, rng.seed);
  if (bias) assertClose(await read(gpu, db), want.db, TOL, `${what} dBias after +=`, rng.seed);
  // Without dx, dx is not touched and the weight gradient is still right.
  assertClose(await read(gpu, dwRef), want.dw, TOL, `${what} dWeight without dx`, rng.seed);
  const untouched = await read(gpu, dxRef);
  if (!untouched.every(Number.isNaN)) throw new Error(`${what}: dx written though not given`);
}

const cases: [string, Conv2dShape, boolean][] = [
  ["3x3 stride 1, odd channels and spatial", {
    batch: 2,
    inChannels: 3,
    outChannels: 13,
    height: 5,
    width: 7,
    kernel: 3,
    stride: 1,
  }, true],
  ["3x3 stride 1, no bias", {
    batch: 3,
    inChannels: 13,
    outChannels: 5,
    height: 9,
    width: 9,
    kernel: 3,
    stride: 1,
  }, false],
  ["3x3 stride 2, odd spatial 9x9", {
    batch: 3,
    inChannels: 13,
    outChannels: 5,
    height: 9,
    width: 9,
    kernel: 3,
    stride: 2,
  }, true],
  ["3x3 stride 2, odd spatial 5x7", {
    batch: 2,
    inChannels: 5,
    outChannels: 13,
    height: 5,
    width: 7,
    kernel: 3,
    stride: 2,
  }, false],
  ["3x3 stride 2, even spatial 6x8", {
    batch: 2,
    inChannels: 9,
    outChannels: 3,
    height: 6,
    width: 8,
    kernel: 3,
    stride: 2,
  }, true],
  [
    "1x1",
    { batch: 3, inChannels: 13, outChannels: 5, height: 9, width: 7, kernel: 1, stride: 1 },
    true,
  ],
  ["1x1, no bias", {
    batch: 2,
    inChannels: 5,
    outChannels: 17,
    height: 5,
    width: 5,
    kernel: 1,
    stride: 1,
  }, false],
  // Enough output channels x input channels that the weight gradient is not split into chunks.
  ["3x3 stride 1, unsplit weight gradient", {
    batch: 2,
    inChannels: 37,
    outChannels: 120,
    height: 5,
    width: 5,
    kernel: 3,
    stride: 1,
  }, true],
  // Enough positions (K4 >= 256) and few enough GEMM tiles that the texture technique's implicit
  // GEMMs split K.
  // (the second K chunk of the weight gradient starts mid-row: item 2, row 7, column 11)
  ["3x3 stride 1, split implicit GEMMs", {
    batch: 5,
    inChannels: 3,
    outChannels: 5,
    height: 15,
    width: 17,
    kernel: 3,
    stride: 1,
  }, true],
  ["3x3 stride 2, split implicit GEMMs", {
    batch: 5,
    inChannels: 2,
    outChannels: 1030,
    height: 3,
    width: 5,
    kernel: 3,
    stride: 2,
  }, true],
  // Widths that are multiples of 4 take the vec4 input pack (pad 1 and pad 0).
  ["3x3 stride 1, width a multiple of 4", {
    batch: 2,
    inChannels: 5,
    outChannels: 6,
    height: 7,
    width: 8,
    kernel: 3,
    stride: 1,
  }, true],
  ["3x3 stride 2, width 12", {
    batch: 1,
    inChannels: 6,
    outChannels: 4,
    height: 5,
    width: 12,
    kernel: 3,
    stride: 2,
  }, false],
  ["1x1, width 4", {
    batch: 2,
    inChannels: 6,
    outChannels: 3,
    height: 3,
    width: 4,
    kernel: 1,
    stride: 1,
  }, true],
  // Channels in whole texels both ways (the forward's and the input gradient's weight packs, and
  // the weight gradient's own store, take every texel whole); then only the forward's (in 8,
  // out 6).
  ["3x3 stride 1, channels multiples of 4", {
    batch: 2,
    inChannels: 8,
    outChannels: 12,
    height: 6,
    width: 5,
    kernel: 3,
    stride: 1,
  }, true],
  ["3x3 stride 1, in channels a multiple of 4", {
    batch: 2,
    inChannels: 8,
    outChannels: 6,
    height: 5,
    width: 5,
    kernel: 3,
    stride: 1,
  }, false],
  ["1x1, channels multiples of 4", {
    batch: 2,
    inChannels: 8,
    outChannels: 4,
    height: 5,
    width: 3,
    kernel: 1,
    stride: 1,
  }, true],
];

for (const [name, shape, bias] of cases) {
  for (const profile of PROFILES) {
    Deno.test(`conv2d (${techniqueName(profile, "f32")}) ${name}: forward and backward match float64, finite differences and the plain kernels`, () =>
      checkConv(shape, bias, profile));
  }
}

for (const profile of PROFILES.filter((p) => techniquesOf(p, "f32").includes("texture"))) {
  Deno.test(`conv2d (${techniqueName(profile, "f32")}) falls back to the buffer kernels where a packed texture exceeds the limit`, async () => {
    for (const [, shape, bias] of cases.slice(0, 5)) await checkConv(shape, bias, profile, 12);
  });
}

// Mixed precision: every packed operand (x, weight, dy) is rounded to f16 and the sums run in f32,
// so the result is the float64 convolution of the rounded operands (and not of the originals).
for (const profile of PROFILES) {
  Deno.test(`conv2d with f16 operands (${techniqueName(profile, "f16")}): forward, dx and dWeight are f32 sums of the rounded operands`, () =>
    checkF16(profile));
}

async function checkF16(profile: BackendProfile) {
  const gpu = withPrecision(withProfile(await getGpu(), profile), "f16");
  const rng = makeRng();
  const f16 = (v: Float64Array) => v.map(Math.f16round);
  for (const [name, shape] of [cases[0], cases[2], cases[5], cases[8]]) {
    const { batch: B, inChannels: C, outChannels: O, height: H, width: W, kernel: K } = shape;
    const x = randn(rng, B * C * H * W);
    const w = randn(rng, O * C * K * K, 1 / Math.sqrt(C * K * K));
    const r = randn(rng, ySize(shape));
    const [xt, wt, dyt] = [gpuTensor(gpu, x, [x.length]), gpuTensor(gpu, w, [w.length])]
      .concat(gpuTensor(gpu, r, [r.length]));
    const y = poisoned(gpu, [r.length]);
    const dx = poisoned(gpu, [x.length]);
    const dw = poisoned(gpu, [w.length]);
    await runNow(gpu, [
      ...await conv2dForward(gpu, { x: xt, weight: wt, y, shape }),
      ...await conv2dBackward(gpu, { x: xt, weight: wt, dy: dyt, dx, dWeight: dw, shape }),
    ]);
    const want = convBackward64(shape, f16(x), f16(w), f16(r));
    const checks = [
      [y, convForward64(shape, f16(x), f16(w)), convForward64(shape, x, w), "forward"],
      [dx, want.dx, convBackward64(shape, x, w, r).dx, "dx"],
      [dw, want.dw, convBackward64(shape, x, w, r).dw, "dWeight"],
    ] as const;
    for (const [t, rounded, exact, label] of checks) {
      const got = await read(gpu, t);
      assertClose(got, rounded, 1e-5, `f16 conv2d ${name} ${label}`, rng.seed);
      const err = relativeError(got, exact);
      if (!(err > 3e-5)) throw new Error(`f16 conv2d ${name} ${label}: ${err} from f32 operands`);
    }
  }
}

// A ResNet's conv1 and conv2: the time embedding's projection as itemBias [B, O] (every position of
// its item and channel), and the residual as accumulate (y holds the shortcut beforehand).
for (const profile of PROFILES) {
  Deno.test(`conv2d (${techniqueName(profile, "f32")}) forward: itemBias and accumulate`, async () => {
    const gpu = withProfile(await getGpu(), profile);
    const rng = makeRng();
    for (const [name, shape] of [cases[0], cases[2], cases[8]]) {
      const { batch: B, inChannels: C, outChannels: O, height: H, width: W, kernel: K } = shape;
      const x = randn(rng, B * C * H * W);
      const w = randn(rng, O * C * K * K, 1 / Math.sqrt(C * K * K));
      const bias = randn(rng, O), itemBias = randn(rng, B * O), y0 = randn(rng, ySize(shape));
      const args = {
        x: gpuTensor(gpu, x, [x.length]),
        weight: gpuTensor(gpu, w, [w.length]),
        bias: gpuTensor(gpu, bias, [O]),
        itemBias: gpuTensor(gpu, itemBias, [B * O]),
        shape,
      };
      const y = gpuTensor(gpu, y0, [y0.length]);
      const fresh = poisoned(gpu, [y0.length]);
      await runNow(gpu, [
        ...await conv2dForward(gpu, { ...args, y, accumulate: true }),
        ...await conv2dForward(gpu, { ...args, y: fresh }),
      ]);
      const plane = y0.length / (B * O);
      const want = convForward64(shape, x, w, bias).map((v, i) =>
        v + itemBias[Math.floor(i / plane)]
      );
      assertClose(await read(gpu, fresh), want, TOL, `${name} itemBias`, rng.seed);
      assertClose(await read(gpu, y), want.map((v, i) => v + y0[i]), TOL, `${name} accumulate`);
    }
  });
}

// The weight gradient reads the forward's packed input when both get the same ConvInputSlot.
for (const profile of PROFILES) {
  Deno.test(`conv2d (${techniqueName(profile, "f32")}) backward with the forward's packed input`, async () => {
    const gpu = withProfile(await getGpu(), profile);
    const rng = makeRng();
    for (const [name, shape] of [cases[0], cases[2], cases[3], cases[8]]) {
      const { batch: B, inChannels: C, outChannels: O, height: H, width: W, kernel: K } = shape;
      const x = randn(rng, B * C * H * W);
      const w = randn(rng, O * C * K * K, 1 / Math.sqrt(C * K * K));
      const r = randn(rng, ySize(shape));
      const [xt, wt, dyt] = [gpuTensor(gpu, x, [x.length]), gpuTensor(gpu, w, [w.length])]
        .concat(gpuTensor(gpu, r, [r.length]));
      const y = poisoned(gpu, [r.length]), dw = poisoned(gpu, [w.length]);
      const db = poisoned(gpu, [O]), dx = poisoned(gpu, [x.length]);
      const inputSlot: ConvInputSlot = {};
      const forward = await conv2dForward(gpu, { x: xt, weight: wt, y, shape, inputSlot });
      const backward = await conv2dBackward(gpu, {
        x: xt,
        weight: wt,
        dy: dyt,
        dx,
        dWeight: dw,
        dBias: db,
        shape,
        inputSlot,
      });
      await runNow(gpu, [...forward, ...backward]);
      const want = convBackward64(shape, x, w, r);
      assertClose(await read(gpu, dw), want.dw, TOL, `${name} dWeight`, rng.seed);
      assertClose(await read(gpu, db), want.db, TOL, `${name} dBias`, rng.seed);
      assertClose(await read(gpu, dx), want.dx, TOL, `${name} dx`, rng.seed);
    }
  });
}

Deno.test("conv2d rejects unsupported shapes", () => {
  const shape = { batch: 1, inChannels: 1, outChannels: 1, height: 4, width: 4 };
  let threw = false;
  try {
    conv2dGeometry({ ...shape, kernel: 1, stride: 2 });
  } catch {
    threw = true;
  }
  if (!threw) throw new Error("kernel 1 stride 2 accepted");
});
