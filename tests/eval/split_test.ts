import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { halves, indicesByClass, shuffled, stratifiedSplit } from "../../gpu/eval/split.ts";

Deno.test("split: stratified, disjoint, covering, seeded; every class of two or more is held out", () => {
  const classes = Uint8Array.from({ length: 1000 }, (_, i) => (i < 5 ? 4 : i % 4));
  classes[999] = 3;
  const s = stratifiedSplit(classes, 5, 0.2, 14);
  const all = [...s.train, ...s.heldOut].sort((a, b) => a - b);
  assertEquals(all, Array.from({ length: 1000 }, (_, i) => i));
  const held = indicesByClass(Uint32Array.from(s.heldOut, (i) => classes[i]), 5).map((l) =>
    l.length
  );
  const total = indicesByClass(classes, 5).map((l) => l.length);
  held.forEach((h, c) => ok(h === Math.max(1, Math.round(0.2 * total[c])), `class ${c}: ${h}`));
  assertEquals(stratifiedSplit(classes, 5, 0.2, 14), s);
  ok(stratifiedSplit(classes, 5, 0.2, 15).heldOut.some((v, i) => v !== s.heldOut[i]));
  // A class of one sprite stays in training.
  const lone = stratifiedSplit(Uint8Array.of(0, 0, 0, 1), 2, 0.5, 1);
  ok(lone.train.includes(3) && !lone.heldOut.includes(3));
});

Deno.test("split: shuffled is a permutation; halves split evenly, the first takes the odd one", () => {
  const p = shuffled([5, 6, 7, 8, 9], 3);
  assertEquals([...p].sort(), [5, 6, 7, 8, 9]);
  const [a, b] = halves([1, 2, 3, 4, 5], 2);
  ok(a.length === 3 && b.length === 2);
  assertEquals([...a, ...b].sort(), [1, 2, 3, 4, 5]);
});
