// The reference's cleaning rule. The course set holds cropped or tinted sprites (mostly non-human,
// 30,000 of 32,400) whose background is not the white of the rest; the rule finds them by the
// background alone: too few pure-white pixels, or a corner that is not pure white.
import { classIndices, selectSprites, type SpriteDataset } from "./sprites.ts";

export interface CleaningRule {
  /** A sprite with fewer pure-white (255, 255, 255) pixels than this is bad. */
  minWhitePixels: number;
  /** A sprite with any of its 4 corner pixels not pure white is bad. */
  requireWhiteCorners: boolean;
}

export const REFERENCE_CLEANING_RULE: CleaningRule = {
  minWhitePixels: 26,
  requireWhiteCorners: true,
};

function isWhite(images: Uint8Array, p: number): boolean {
  return images[p] === 255 && images[p + 1] === 255 && images[p + 2] === 255;
}

/** Whether sprite i of an [N, H, W, 3] uint8 array breaks the rule. */
export function isBadSprite(
  images: Uint8Array,
  i: number,
  height: number,
  width: number,
  rule: CleaningRule = REFERENCE_CLEANING_RULE,
): boolean {
  const base = i * height * width * 3;
  if (rule.requireWhiteCorners) {
    const corners = [0, width - 1, (height - 1) * width, height * width - 1];
    if (corners.some((c) => !isWhite(images, base + c * 3))) return true;
  }
  let white = 0;
  for (let p = 0; p < height * width; p++) if (isWhite(images, base + p * 3)) white++;
  return white < rule.minWhitePixels;
}

/** Indices of the sprites the rule removes, ascending. */
export function findBadSprites(
  ds: SpriteDataset,
  rule: CleaningRule = REFERENCE_CLEANING_RULE,
): Uint32Array {
  const bad: number[] = [];
  for (let i = 0; i < ds.count; i++) {
    if (isBadSprite(ds.images, i, ds.height, ds.width, rule)) bad.push(i);
  }
  return Uint32Array.from(bad);
}

/** The dataset without the sprites the rule removes, and which ones those were. */
export function cleanDataset(
  ds: SpriteDataset,
  rule: CleaningRule = REFERENCE_CLEANING_RULE,
): { dataset: SpriteDataset; removed: Uint32Array } {
  const removed = findBadSprites(ds, rule);
  const keep: number[] = [];
  let r = 0;
  for (let i = 0; i < ds.count; i++) {
    if (r < removed.length && removed[r] === i) r++;
    else keep.push(i);
  }
  return { dataset: selectSprites(ds, keep), removed };
}

export interface ClassCounts {
  index: number;
  name: string;
  before: number;
  removed: number;
  after: number;
}

export interface DatasetReport {
  total: number;
  kept: number;
  removed: number;
  height: number;
  width: number;
  rule: CleaningRule;
  /** Classes are the argmax of each label row. */
  classes: ClassCounts[];
  removedIndices: Uint32Array;
}

export function datasetReport(
  ds: SpriteDataset,
  opts: Partial<CleaningRule> = {},
): DatasetReport {
  const rule = { ...REFERENCE_CLEANING_RULE, ...opts };
  const removedIndices = findBadSprites(ds, rule);
  const classes = ds.classNames.map((name, index) => ({
    index,
    name,
    before: 0,
    removed: 0,
    after: 0,
  }));
  const cls = classIndices(ds);
  for (let i = 0; i < ds.count; i++) classes[cls[i]].before++;
  for (const i of removedIndices) classes[cls[i]].removed++;
  for (const c of classes) c.after = c.before - c.removed;
  return {
    total: ds.count,
    kept: ds.count - removedIndices.length,
    removed: removedIndices.length,
    height: ds.height,
    width: ds.width,
    rule,
    classes,
    removedIndices,
  };
}
