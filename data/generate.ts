// A procedural stand-in for the DeepLearning.AI sprite set (which users download themselves):
// 16x16 pixel-art sprites on white in the same five classes, with the same class imbalance and a
// share of bad sprites (tinted, off-white or cropped backgrounds, mostly non-human, as in the real
// set) so that cleaning and class balancing have the same work to do. Seeded and deterministic:
// sprite i depends only on (seed, i).
//
// `deno run -A data/generate.ts` rewrites the bundled set in data/bundled/.
import { isBadSprite, REFERENCE_CLEANING_RULE } from "./clean.ts";
import { drawCreature, drawHuman, drawSideFacing } from "./draw_characters.ts";
import { drawFood, drawItem } from "./draw_objects.ts";
import { writeNpy } from "./npy.ts";
import { Dice, hsl, PixelCanvas, type Rgb, SIZE, WHITE } from "./pixel_canvas.ts";

/** Sprites per class in the course set (89,400 in all). */
export const COURSE_CLASS_COUNTS = [8000, 32400, 6000, 35000, 8000];
/** Share of each class that the cleaning rule should remove: 30,000 of 32,400 non-human. */
export const DEFAULT_BAD_SHARE = [0.02, 30000 / 32400, 0.03, 0.02, 0.02];
export const NUM_CLASSES = 5;

export const BUNDLED_COUNT = 4470; // 5% of the course set: 400 / 1620 / 300 / 1750 / 400
export const BUNDLED_SEED = 1788;
// A POSIX path: the project runs on Linux and macOS.
export const BUNDLED_DIR = decodeURIComponent(new URL("./bundled/", import.meta.url).pathname);
export const BUNDLED_SPRITES_PATH = `${BUNDLED_DIR}sprites_${BUNDLED_COUNT}_16x16.npy`;
export const BUNDLED_LABELS_PATH = `${BUNDLED_DIR}sprite_labels_nc_${BUNDLED_COUNT}_16x16.npy`;

const DRAWERS = [drawHuman, drawCreature, drawFood, drawItem, drawSideFacing];

export interface GenerateOptions {
  count: number;
  seed: number;
  /** Per class, the share of sprites drawn bad; default DEFAULT_BAD_SHARE. */
  badShare?: number[];
}

export interface GeneratedSprites {
  /** [count, 16, 16, 3] uint8 RGB. */
  images: Uint8Array;
  /** [count, 5] one-hot float64, as in sprite_labels_nc_*.npy. */
  labels: Float64Array;
  /** [count] class index. */
  classes: Uint8Array;
  /** [count] 1 where the sprite was drawn bad (the cleaning rule must remove exactly these). */
  bad: Uint8Array;
}

/** Class sizes in the course set's proportions, summing to `count` (largest remainders). */
export function classCountsFor(count: number): number[] {
  const total = COURSE_CLASS_COUNTS.reduce((a, b) => a + b, 0);
  const exact = COURSE_CLASS_COUNTS.map((n) => (n * count) / total);
  const out = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - Math.floor(e), i]).sort((a, b) => b[0] - a[0]);
  for (let k = 0; out.reduce((a, b) => a + b, 0) < count; k++) out[order[k][1]]++;
  return out;
}

function hash(seed: number, i: number): number {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(i + 1, 0x165667b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/** Draws a good sprite of class `cls`, moved by up to a pixel when it has room. */
function drawGood(cls: number, r: Dice): PixelCanvas {
  const c = new PixelCanvas();
  DRAWERS[cls](c, r);
  const b = c.bounds();
  const dx = r.int(-1, 1);
  const dy = r.int(-1, 1);
  if (b.x0 + dx >= 0 && b.x1 + dx < SIZE && b.y0 + dy >= 0 && b.y1 + dy < SIZE) c.shift(dx, dy);
  return c;
}

function tint(r: Dice): Rgb {
  return r.chance(0.65)
    ? hsl((r.range(300, 400)) % 360, r.range(0.3, 0.8), r.range(0.72, 0.9)) // pinkish, like the real ones
    : hsl(r.range(0, 360), r.range(0.2, 0.5), r.range(0.08, 0.3)); // dark
}

/** Nearest-neighbour zoom by `f` about (cx, cy): the crop of a sprite larger than its frame. */
function zoom(rgb: Uint8Array, f: number, cx: number, cy: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const sx = Math.min(SIZE - 1, Math.max(0, Math.floor(cx + (x + 0.5 - SIZE / 2) / f)));
      const sy = Math.min(SIZE - 1, Math.max(0, Math.floor(cy + (y + 0.5 - SIZE / 2) / f)));
      out.set(rgb.subarray((sy * SIZE + sx) * 3, (sy * SIZE + sx) * 3 + 3), (y * SIZE + x) * 3);
    }
  }
  return out;
}

/** A bad sprite as the course set has them: tinted, off-white, or cropped too large. */
function drawBad(cls: number, r: Dice): Uint8Array {
  const c = new PixelCanvas();
  DRAWERS[cls](c, r);
  const mode = r.pick(["tint", "tint", "zoom", "zoom", "offwhite"]);
  const bg = tint(r);
  let rgb: Uint8Array;
  if (mode === "offwhite") {
    const v = r.int(238, 253);
    rgb = c.toRgb([v, v - r.int(0, 6), v - r.int(0, 12)]);
  } else if (mode === "tint") rgb = c.toRgb(bg);
  else {
    const b = c.bounds();
    const cx = (b.x0 + b.x1 + 1) / 2 + r.range(-1, 1);
    const cy = (b.y0 + b.y1 + 1) / 2 + r.range(-1, 1);
    rgb = zoom(c.toRgb(r.chance(0.5) ? WHITE : bg), r.range(1.6, 2.3), cx, cy);
  }
  // A crop of a small sprite can still pass the rule; then its background is what gives it away.
  return isBadSprite(rgb, 0, SIZE, SIZE, REFERENCE_CLEANING_RULE) ? rgb : c.toRgb(bg);
}

export function generateSpriteDataset(opts: GenerateOptions): GeneratedSprites {
  const { count, seed } = opts;
  if (!Number.isInteger(count) || count < 1) throw new Error(`generate: bad count ${count}`);
  const badShare = opts.badShare ?? DEFAULT_BAD_SHARE;
  const counts = classCountsFor(count);

  // Class and bad flag per position: exact counts, shuffled by the seed.
  const classes = new Uint8Array(count);
  const bad = new Uint8Array(count);
  let p = 0;
  for (let k = 0; k < NUM_CLASSES; k++) {
    const nBad = Math.round(counts[k] * badShare[k]);
    for (let j = 0; j < counts[k]; j++, p++) {
      classes[p] = k;
      bad[p] = j < nBad ? 1 : 0;
    }
  }
  const shuffle = new Dice(hash(seed, -1));
  for (let i = count - 1; i > 0; i--) {
    const j = shuffle.int(0, i);
    [classes[i], classes[j]] = [classes[j], classes[i]];
    [bad[i], bad[j]] = [bad[j], bad[i]];
  }

  const images = new Uint8Array(count * SIZE * SIZE * 3);
  const labels = new Float64Array(count * NUM_CLASSES);
  for (let i = 0; i < count; i++) {
    const r = new Dice(hash(seed, i));
    let rgb = bad[i] ? drawBad(classes[i], r) : drawGood(classes[i], r).toRgb();
    // A good sprite must pass the rule; redraw the rare one whose outline reaches a corner.
    for (let t = 0; !bad[i] && isBadSprite(rgb, 0, SIZE, SIZE) && t < 20; t++) {
      rgb = drawGood(classes[i], r).toRgb();
    }
    images.set(rgb, i * SIZE * SIZE * 3);
    labels[i * NUM_CLASSES + classes[i]] = 1;
  }
  return { images, labels, classes, bad };
}

/** Writes sprites_<N>_16x16.npy and sprite_labels_nc_<N>_16x16.npy (the course's formats). */
export async function writeBundledDataset(
  dir: string,
  opts: GenerateOptions,
): Promise<{ spritesPath: string; labelsPath: string }> {
  const { images, labels } = generateSpriteDataset(opts);
  await Deno.mkdir(dir, { recursive: true });
  const base = dir.endsWith("/") ? dir : dir + "/";
  const spritesPath = `${base}sprites_${opts.count}_16x16.npy`;
  const labelsPath = `${base}sprite_labels_nc_${opts.count}_16x16.npy`;
  await writeNpy(spritesPath, images, [opts.count, SIZE, SIZE, 3]);
  await writeNpy(labelsPath, labels, [opts.count, NUM_CLASSES]);
  return { spritesPath, labelsPath };
}

if (import.meta.main) {
  const out = await writeBundledDataset(BUNDLED_DIR, { count: BUNDLED_COUNT, seed: BUNDLED_SEED });
  console.log(`wrote ${out.spritesPath}\nwrote ${out.labelsPath}`);
}
