import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from '../../src/telemetry/hot-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** The same observations through prom-client's own metrics and through ours: the scrape must be the same text. */
describe('hot-path metrics', () => {
  it('write out exactly what prom-client writes for the same counts and observations', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const counter = new Counter({ name: 'x_requests_total', help: 'Requests', labelNames: ['route', 'status'] as const, registers: [theirs] });
    const histogram = new Histogram({ name: 'x_duration_seconds', help: 'Durations', labelNames: ['route'] as const, buckets: BUCKETS, registers: [theirs] });
    const hotCounter = new HotCounter('x_requests_total', 'Requests', ours);
    const hotHistogram = new HotHistogram('x_duration_seconds', 'Durations', BUCKETS, ours);
    const observations: [string, string, number][] = [
      ['/a', '200', 0.0004],
      ['/a', '200', 0.001],
      ['/a', '404', 0.05],
      ['/b "quoted"\\', '500', 2.5],
      ['/a', '200', 0.1],
    ];
    for (const [route, status, seconds] of observations) {
      counter.inc({ route, status });
      histogram.observe({ route }, seconds);
      hotCounter.series({ route, status }).inc();
      hotHistogram.series({ route }).observe(seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('give the same series for the same labels, and start it at zero', async () => {
    const registry = new Registry();
    const counter = new HotCounter('y_total', 'Y', registry);
    const first = counter.series({ kind: 'a' });
    expect(counter.series({ kind: 'a' })).toBe(first);
    expect(await registry.metrics()).toContain('y_total{kind="a"} 0');
    first.inc();
    expect(await registry.metrics()).toContain('y_total{kind="a"} 1');
  });
});
