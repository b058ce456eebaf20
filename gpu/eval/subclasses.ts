// Sub-classes from k-means clusters (kmeans.ts on features.ts's mid-block features): what each
// cluster holds, a default name from its main class, and the labels file a model trains on, of
// width K (the clusters are the classes) or C + K (the class vector, then the cluster's).
import type { KMeansResult } from "./kmeans.ts";

export interface Cluster {
  index: number;
  /** Default name: "<main class>-<letter>", the letters counting that class's clusters by size. */
  name: string;
  size: number;
  /** Sprites per original class. */
  classes: number[];
  /** The members, closest to the centre first. */
  members: Uint32Array;
}

/** The clusters, largest first within each main class; names unique, never numbers. */
export function describeClusters(
  result: KMeansResult,
  classes: ArrayLike<number>,
  classNames: readonly string[],
): Cluster[] {
  const clusters: Cluster[] = Array.from({ length: result.k }, (_, index) => ({
    index,
    name: "",
    size: 0,
    classes: new Array(classNames.length).fill(0),
    members: new Uint32Array(0),
  }));
  const lists: number[][] = clusters.map(() => []);
  result.assignment.forEach((c, i) => {
    clusters[c].size++;
    clusters[c].classes[classes[i]]++;
    lists[c].push(i);
  });
  clusters.forEach((c, j) => {
    c.members = Uint32Array.from(lists[j]).sort((a, b) =>
      result.distances[a] - result.distances[b] || a - b
    );
  });
  const main = (c: Cluster) => c.classes.indexOf(Math.max(...c.classes));
  const order = [...clusters].sort((a, b) =>
    main(a) - main(b) || b.size - a.size || a.index - b.index
  );
  const used = new Map<number, number>();
  for (const c of order) {
    const m = main(c);
    const n = used.get(m) ?? 0;
    used.set(m, n + 1);
    c.name = `${c.size ? classNames[m] : "empty"}-${letters(n)}`;
  }
  return clusters;
}

/** 0 -> a, 25 -> z, 26 -> aa. */
function letters(n: number): string {
  let s = "";
  for (let v = n + 1; v > 0; v = Math.floor((v - 1) / 26)) {
    s = String.fromCharCode(97 + (v - 1) % 26) + s;
  }
  return s;
}

/**
 * One-hot cluster labels [N, K], float64; with `classVectors` ([N, C]) the class vector first:
 * [N, C + K].
 */
export function subclassLabels(
  assignment: ArrayLike<number>,
  k: number,
  classVectors?: { values: ArrayLike<number>; width: number },
): Float64Array {
  const n = assignment.length;
  const c = classVectors?.width ?? 0;
  const out = new Float64Array(n * (c + k));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) out[i * (c + k) + j] = classVectors!.values[i * c + j];
    out[i * (c + k) + c + assignment[i]] = 1;
  }
  return out;
}
