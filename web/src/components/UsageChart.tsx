import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import '../usage.css';
import type { Usage } from '../api';

type Bucket = Usage['data'][number];

/** Canvas colours: the stylesheet's accent and danger, as uPlot draws on a canvas (no CSS variables there). */
const TOKENS = '#3451b2';
const FAILED = '#c4302b';

const hourLabel = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });
const dayLabel = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });

function columns(data: Bucket[], withFailed: boolean): uPlot.AlignedData {
  const x = data.map((b) => Date.parse(b.start) / 1000);
  const tokens = data.map((b) => b.tokens);
  return withFailed ? [x, tokens, data.map((b) => b.failed)] : [x, tokens];
}

/** What the chart shows, in words: the canvas itself says nothing to a screen reader. */
function summary(data: Bucket[], granularity: 'hour' | 'day', withFailed: boolean): string {
  const tokens = data.reduce((n, b) => n + b.tokens, 0);
  const failed = data.reduce((n, b) => n + b.failed, 0);
  const peak = data.reduce((n, b) => Math.max(n, b.tokens), 0);
  return `${tokens} tokens${withFailed ? ` and ${failed} failed requests` : ''} in ${data.length} ${granularity === 'hour' ? 'hours' : 'days'}; at most ${peak} tokens in one ${granularity}`;
}

/**
 * Tokens (and failed requests) per bucket, drawn by uPlot on a canvas. `compact` is the
 * sparkline of a client card: no axes, no legend, no cursor.
 */
export function UsageChart({ data, granularity, compact = false, label }: { data: Bucket[]; granularity: 'hour' | 'day'; compact?: boolean; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const withFailed = !compact;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const height = compact ? 36 : 260;
    const width = Math.max(el.clientWidth, 120);
    const fmt = granularity === 'hour' ? hourLabel : dayLabel;
    // Bars, as each value is a count over its bucket; failures as narrower bars in front. No
    // outline: an empty bucket draws nothing rather than a dash on the axis.
    const bars = uPlot.paths.bars?.({ size: [0.8, 40] });
    const narrowBars = uPlot.paths.bars?.({ size: [0.35, 16] });
    const step = granularity === 'hour' ? 3600 : 86400;
    const options: uPlot.Options = {
      width,
      height,
      legend: { show: !compact, live: false },
      cursor: compact ? { show: false } : { points: { show: false } },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      // Half a bucket of room on each side, so the first and last bars are drawn whole.
      scales: { x: { time: true, range: (_u, min, max) => [min - step / 2, max + step / 2] }, y: { range: (_u, _min, max) => [0, Math.max(max, 1)] } },
      axes: compact
        ? [{ show: false }, { show: false }]
        : [
            { stroke: '#5d6877', grid: { stroke: '#e2e5ea' }, values: (_u, splits) => splits.map((s) => fmt.format(new Date(s * 1000))) },
            { stroke: '#5d6877', grid: { stroke: '#e2e5ea' }, size: 50, values: (_u, splits) => splits.map((s) => (Number.isInteger(s) ? String(s) : '')) },
          ],
      series: [
        { value: (_u, v) => (v == null ? '—' : `${fmt.format(new Date(v * 1000))}${granularity === 'hour' ? ' UTC' : ''}`) },
        { label: 'Tokens', stroke: TOKENS, fill: 'rgba(52, 81, 178, 0.55)', width: 0, paths: bars, points: { show: false } },
        ...(withFailed ? [{ label: 'Failed', stroke: FAILED, fill: 'rgba(196, 48, 43, 0.8)', width: 0, paths: narrowBars, points: { show: false } }] : []),
      ],
      padding: compact ? [2, 0, 2, 0] : [12, 12, 0, 0],
    };
    const chart = new uPlot(options, columns(data, withFailed), el);
    // The page's width changes with the window (and the phone's rotation): redraw to fit.
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(el.clientWidth, 120), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [data, granularity, compact, withFailed]);
  return (
    <figure className={`usage-chart${compact ? ' is-compact' : ''}`}>
      <div ref={box} role="img" aria-label={`${label}: ${summary(data, granularity, withFailed)}`} data-testid={compact ? 'sparkline' : 'usage-chart'} />
    </figure>
  );
}
