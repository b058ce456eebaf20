// The sprites a run trains on: a file pair (or the bundled set), cleaned unless told otherwise, as
// a run records it in its checkpoint (`data: {sprites, labels, clean}`) so that a resume trains on
// the same set. Shared by `deno task train` and the training route.
import { InputError } from "../errors.ts";
import type { SpriteDataset } from "../gpu/train/dataset.ts";
import { cleanDataset } from "./clean.ts";
import { BUNDLED_LABELS_PATH, BUNDLED_SPRITES_PATH } from "./generate.ts";
import { loadSpriteDataset } from "./sprites.ts";

export interface DataSource {
  /** null: the bundled set. */
  sprites: string | null;
  labels: string | null;
  /** The labels' class names file; null: the one beside the labels, or the course set's names. */
  names?: string | null;
  clean: boolean;
}

/** The dataset a run recorded; a checkpoint without the record trained on the bundled set. */
export function dataSourceOf(value: unknown): DataSource {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const path = (p: unknown) => (typeof p === "string" ? p : null);
  return {
    sprites: path(v.sprites),
    labels: path(v.labels),
    names: path(v.names),
    clean: v.clean !== false,
  };
}

/** The set a run trains on; `classNames` (a model's own) overrides the names the files give. */
export async function loadTrainingSet(
  src: DataSource,
  classNames?: string[],
): Promise<{ dataset: SpriteDataset; removed: number }> {
  const raw = await loadSpriteDataset(
    src.sprites ?? BUNDLED_SPRITES_PATH,
    src.labels ?? BUNDLED_LABELS_PATH,
    classNames,
    src.names ?? undefined,
  );
  if (!src.clean) return { dataset: raw, removed: 0 };
  const { dataset, removed } = cleanDataset(raw);
  if (dataset.count === 0) throw new InputError("the cleaning rule removed every sprite");
  return { dataset, removed: removed.length };
}
