// Helpers of the WGSL generators: the kernels are TypeScript functions that write WGSL with their
// small loops unrolled (register tiles, conv windows, taps), and these are the pieces every one of
// them needs. Plain string functions: no GPU, no state.

/** [0, 1, ..., n-1]: the indices of an unrolled loop. */
export const range = (n: number): number[] => [...Array(n).keys()];

/** Joins generated WGSL lines, one per item (indented for a function body). */
export const each = <T>(items: T[], f: (item: T) => string): string => items.map(f).join("\n  ");

/** All pairs (a, b) of two ranges, row-major. */
export const pairs = (n: number, m: number): [number, number][] =>
  range(n).flatMap((a) => range(m).map((b) => [a, b] as [number, number]));

/** The component names of a vec4, by index. */
export const XYZW = "xyzw";

/** The WGSL type of an f32 storage binding read as scalars or as vec4s. */
export const f32Array = (vec4: boolean): string => (vec4 ? "array<vec4<f32>>" : "array<f32>");
