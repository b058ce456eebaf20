// A toy sprite set whose classes any classifier tells apart in a few steps: a coloured shape per
// class (red square, green cross, blue bar, yellow diagonal) at a jittered place and shade on white,
// so every sprite passes the cleaning rule. For the eval and subclass tests.
import type { SpriteDataset } from "../../gpu/train/dataset.ts";
import { makeRng } from "../util.ts";

export const TOY_CLASSES = ["red", "green", "blue", "yellow"];

const COLOURS = [[220, 30, 30], [30, 180, 40], [40, 60, 220], [230, 200, 20]];

function inShape(c: number, x: number, y: number): boolean {
  if (c === 0) return x >= 0 && x < 5 && y >= 0 && y < 5;
  if (c === 1) return (x === 2 && y >= 0 && y < 5) || (y === 2 && x >= 0 && x < 5);
  if (c === 2) return x >= 0 && x < 6 && y >= 1 && y < 3;
  return x === y && x >= 0 && x < 6;
}

export function toySprites(perClass: number, seed = 1, size = 16): SpriteDataset {
  const rng = makeRng(seed);
  const K = TOY_CLASSES.length;
  const count = K * perClass;
  const images = new Uint8Array(count * size * size * 3).fill(255);
  const labels = new Float32Array(count * K);
  for (let i = 0; i < count; i++) {
    const c = i % K;
    labels[i * K + c] = 1;
    const ox = 3 + Math.floor(rng.next() * (size - 10));
    const oy = 3 + Math.floor(rng.next() * (size - 10));
    const shade = 0.75 + 0.25 * rng.next();
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (!inShape(c, x - ox, y - oy)) continue;
        for (let k = 0; k < 3; k++) {
          images[((i * size + y) * size + x) * 3 + k] = Math.round(COLOURS[c][k] * shade);
        }
      }
    }
  }
  return { images, labels, count, height: size, width: size, classNames: [...TOY_CLASSES] };
}
