import { fromEpochMs } from '../clock.js';
import type { CliIo } from './io.js';

/** How a command prints: JSON for scripts (`--json`), aligned text for people. */
export class Printer {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** Prints `value` as JSON with --json; otherwise calls `human`. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else human();
  }

  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** A note for people, on stderr so that stdout stays clean for pipes (also with --json). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** Columns padded to their widest cell; `empty` when there are no rows. */
  table<T>(rows: readonly T[], columns: readonly Column<T>[], empty: string): void {
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    const cells = rows.map((row) => columns.map((c) => oneLine(c.value(row))));
    const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]?.length ?? 0)));
    const render = (values: string[]) =>
      values
        .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    this.line(render(columns.map((c) => c.header)));
    for (const row of cells) this.line(render(row));
  }

  /** `label: value` lines, labels aligned. */
  record(entries: readonly (readonly [string, string])[]): void {
    const width = Math.max(...entries.map(([label]) => label.length)) + 1;
    for (const [label, value] of entries) this.line(`${`${label}:`.padEnd(width)} ${value}`);
  }
}

export interface Column<T> {
  header: string;
  value(row: T): string;
}

/** An ISO date as `2025-11-23 11:48:03Z`; `never` for null. */
export function when(value: string | null | undefined): string {
  if (!value) return 'never';
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : `${fromEpochMs(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ');
}
