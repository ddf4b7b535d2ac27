import type { Metric, Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;
type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/** One label set of a counter: a plain number. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}

  inc(): void {
    this.value++;
  }
}

/** One label set of a histogram: a count per bucket, the sum and the count, as plain numbers. */
export class HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    if (i < bounds.length) this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/**
 * Counters and histograms of the token path, registered in prom-client's registry, which writes
 * them out like its own (`le` buckets, `_sum`, `_count`). prom-client's own metrics validate and
 * hash the label set on every increment and observation (its `labels()` children only bind the
 * label object); these count into series made once per label set, which the caller keeps, and
 * build their values only when scraped. Measured on the token path: about 3% of a request's
 * CPU and of what it allocated (docs/performance.md).
 */
abstract class HotMetric<S extends CounterSeries | HistogramSeries> {
  protected readonly all: S[] = [];
  private readonly byLabels = new Map<string, S>();
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labels`: made on the first call, the same one after. */
  protected seriesOf(labels: Labels, make: () => S): S {
    const key = JSON.stringify(labels);
    let series = this.byLabels.get(key);
    if (!series) {
      series = make();
      this.byLabels.set(key, series);
      this.all.push(series);
    }
    return series;
  }

  protected abstract values(): Value[];

  /** What prom-client's registry reads at scrape time. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }
}

export class HotCounter extends HotMetric<CounterSeries> {
  constructor(name: string, help: string, registry: Registry) {
    super(name, help, 'counter', registry);
  }

  /** The series of `labels`; look it up once per label set and keep it. */
  series(labels: Labels): CounterSeries {
    return this.seriesOf(labels, () => new CounterSeries(labels));
  }

  protected values(): Value[] {
    return this.all.map((s) => ({ labels: { ...s.labels }, value: s.value }));
  }
}

export class HotHistogram extends HotMetric<HistogramSeries> {
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, 'histogram', registry);
  }

  /** The series of `labels`; look it up once per label set and keep it. */
  series(labels: Labels): HistogramSeries {
    return this.seriesOf(labels, () => new HistogramSeries(labels, this.bounds));
  }

  protected values(): Value[] {
    const out: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        out.push({ labels: { le, ...s.labels }, value: cumulative, metricName: bucket });
      });
      out.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      out.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      out.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}
