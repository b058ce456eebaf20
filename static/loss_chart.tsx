/** @jsxImportSource preact */
/** @jsxRuntime automatic */
// A loss curve with labelled axes: steps from 0 on x (to the run's last step), the loss on a log
// scale on y (1-2-5 ticks, or finer where the range is narrow), and vertical marks where something
// changed: the embedding frozen (class masking from then on), a new learning rate. SVG, no library.

export interface LossPoint {
  step: number;
  loss: number;
}

export interface ChartMark {
  step: number;
  kind: "freeze" | "lr";
  label: string;
}

const W = 640;
const H = 260;
const M = { left: 60, right: 16, top: 22, bottom: 40 };

/** Round numbers for a linear axis from 0 to `max`: about `want` of them. */
function linearTicks(max: number, want = 5): number[] {
  if (max <= 0) return [0];
  const step = linearStep(max, want);
  const ticks: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  return ticks;
}

/** Log-axis ticks within [lo, hi]: mantissas 1, 2, 5, or finer when that gives fewer than 3. */
function logTicks(lo: number, hi: number): number[] {
  for (const mantissas of [[1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8]]) {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(3));
        if (v >= lo && v <= hi) ticks.push(v);
      }
    }
    if (ticks.length >= 3) return ticks;
  }
  // A range narrower than 1-1.2-1.5...: round values at even steps across it.
  const step = linearStep(hi - lo, 4);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(6)));
  }
  return ticks;
}

function linearStep(span: number, want: number): number {
  const raw = span / want;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
}

const short = (v: number) =>
  v >= 1000 ? `${Number((v / 1000).toPrecision(3))}k` : String(Number(v.toPrecision(3)));

export function LossChart(
  props: {
    kind: string;
    points: LossPoint[];
    /** The x axis ends here (the run's total steps); default the last point's step. */
    lastStep?: number;
    marks?: ChartMark[];
    title: string;
  },
) {
  const points = props.points.filter((p) => p.loss > 0 && Number.isFinite(p.loss));
  if (points.length < 2) {
    return (
      <p class="note" data-chart={props.kind}>
        {props.title}: the curve appears after two readings.
      </p>
    );
  }
  const xMax = Math.max(props.lastStep ?? 0, ...points.map((p) => p.step), 1);
  const losses = points.map((p) => p.loss);
  const lo = Math.min(...losses) / 1.08;
  const hi = Math.max(...losses) * 1.08;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (step: number) => M.left + (step / xMax) * pw;
  const y = (loss: number) => M.top + (1 - Math.log(loss / lo) / Math.log(hi / lo)) * ph;
  const xTicks = linearTicks(xMax);
  const yTicks = logTicks(lo, hi);
  const marks = (props.marks ?? []).filter((m) => m.step >= 0 && m.step <= xMax);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg
        class="loss-chart"
        data-chart={props.kind}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${props.title}: loss against step, log scale`}
      >
        <g class="axis x">
          <line x1={M.left} y1={M.top + ph} x2={M.left + pw} y2={M.top + ph} />
          {xTicks.map((t) => (
            <g key={t}>
              <line x1={x(t)} y1={M.top + ph} x2={x(t)} y2={M.top + ph + 4} />
              <text class="tick" x={x(t)} y={M.top + ph + 16} text-anchor="middle">{short(t)}</text>
            </g>
          ))}
          <text class="axis-label" x={M.left + pw / 2} y={H - 4} text-anchor="middle">step</text>
        </g>
        <g class="axis y">
          <line x1={M.left} y1={M.top} x2={M.left} y2={M.top + ph} />
          {yTicks.map((t) => (
            <g key={t}>
              <line class="grid" x1={M.left} y1={y(t)} x2={M.left + pw} y2={y(t)} />
              <text class="tick" x={M.left - 6} y={y(t) + 4} text-anchor="end">{short(t)}</text>
            </g>
          ))}
          <text
            class="axis-label"
            transform={`translate(14 ${M.top + ph / 2}) rotate(-90)`}
            text-anchor="middle"
          >
            loss (log scale)
          </text>
        </g>
        {marks.map((m, i) => (
          <g
            class={`mark ${m.kind}`}
            key={`${m.kind}${m.step}`}
            data-mark={m.kind}
            data-step={m.step}
          >
            <line x1={x(m.step)} y1={M.top} x2={x(m.step)} y2={M.top + ph} />
            <text x={x(m.step) + 3} y={M.top - 8 + (i % 2) * 12}>{m.label}</text>
          </g>
        ))}
        <polyline
          class="series"
          points={points.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(" ")}
        />
      </svg>
    </figure>
  );
}

/** An lr as people write it: 1e-5, 3e-4, 0.001 -> 1e-3. */
export function formatLr(lr: number): string {
  return lr.toExponential().replace(/\.0+e/, "e").replace("e+", "e").replace(/(\.\d*?)0+e/, "$1e");
}

/** Where a history of epochs changed lr or froze the embedding: its marks. */
export function historyMarks(
  epochs: { epoch: number; step: number; lr: number | null; embedding_frozen: boolean | null }[],
): ChartMark[] {
  const marks: ChartMark[] = [];
  let lr: number | null = null;
  let frozen = false;
  let start = 0;
  for (const e of epochs) {
    // An epoch's record is written at its end: its changes start where the one before ended.
    if (e.lr !== null && e.lr !== lr) {
      marks.push({ step: start, kind: "lr", label: `lr ${formatLr(e.lr)}` });
      lr = e.lr;
    }
    if (e.embedding_frozen && !frozen) {
      marks.push({ step: start, kind: "freeze", label: `embedding frozen (epoch ${e.epoch})` });
      frozen = true;
    }
    start = e.step;
  }
  return marks;
}
