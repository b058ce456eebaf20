// withoutRedundantRefreshes (gpu/runtime/kernel.ts): a mirror's refresh is dropped only where
// nothing since its last one may have written the tensor, and the shorter list computes the same.
import assert from "node:assert/strict";
import { addInto } from "../../gpu/ops/elementwise.ts";
import { mirror } from "../../gpu/ops/mirror.ts";
import {
  copyStep,
  createDispatch,
  type Dispatch,
  grid1d,
  type KernelSpec,
  runNow,
  withoutRedundantRefreshes,
} from "../../gpu/runtime/kernel.ts";
import { type Tensor, tensorView } from "../../gpu/runtime/tensor.ts";
import { assertClose, getGpu, gpuTensor, makeRng, poisoned, randn, read } from "../util.ts";

const readMirror: KernelSpec = {
  name: "readMirror",
  params: { n4: "u32" },
  bindings: { x: "mirror read", out: "write array<vec4<f32>>" },
  code: /* wgsl */ `
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.n4) { out[gid.x] = load_x(gid.x); }
}`,
};

Deno.test("refreshes: dropped between reads, kept after a write, a partial write or an undeclared copy", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  // Half of n is a whole number of 256-byte view alignments.
  const n = 4 * 320;
  const x0 = randn(rng, n);
  const a = randn(rng, n);
  const b = randn(rng, n);
  const x = gpuTensor(gpu, x0, [n], "x");
  const at = gpuTensor(gpu, a, [n], "a");
  const bt = gpuTensor(gpu, b, [n], "b");
  const other = poisoned(gpu, [n], "other");
  const m = mirror(gpu, x);
  const outs: Tensor[] = [];
  const readX = async () => {
    const out = poisoned(gpu, [n]);
    outs.push(out);
    return [
      m.refresh,
      await createDispatch(gpu, readMirror, { x: m.view, out }, grid1d(n / 4, 64), { n4: n / 4 }),
    ];
  };
  // x's second half only: its range overlaps the mirror's.
  const half = tensorView(x, n / 2, [n / 2], "x half");
  const bHalf = tensorView(bt, n / 2, [n / 2], "b half");
  const undeclared = copyStep(
    "undeclaredCopy",
    n * 4,
    (encoder) => encoder.copyBufferToBuffer(at.buffer, at.offset, x.buffer, x.offset, n * 4),
  );
  const list: Dispatch[] = [
    ...await readX(), // 0: x0 (first refresh: kept)
    ...await readX(), // 1: x0 (refresh dropped)
    await addInto(gpu, { x: at, y: other }), // writes another buffer only
    ...await readX(), // 2: x0 (dropped)
    await addInto(gpu, { x: bHalf, y: half }), // x's second half = b's
    ...await readX(), // 3: kept
    undeclared, // x = a, through a copy that does not declare what it writes
    ...await readX(), // 4: kept
  ];
  const slim = withoutRedundantRefreshes(list, [2, 4, list.length]);
  assert.equal(list.filter((d) => d.refreshes).length, 5);
  assert.equal(slim.list.filter((d) => d.refreshes).length, 3, "refreshes kept");
  assert.deepEqual(slim.marks, [2, 3, slim.list.length], "marks remapped");
  await runNow(gpu, slim.list);
  const halfB = Float64Array.from(x0, (v, i) => (i < n / 2 ? v : b[i]));
  const expected = [x0, x0, x0, halfB, a];
  for (const [k, out] of outs.entries()) {
    assertClose(await read(gpu, out), expected[k], 0, `read ${k}`, rng.seed);
  }
});
