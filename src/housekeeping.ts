import type { Logger } from 'pino';

export interface HousekeepingTask {
  /** Says what failed, in the log. */
  what: string;
  run(): Promise<unknown>;
}

/**
 * Hourly chores of every process: forgetting what has expired anyway (refresh tokens,
 * revocations, old changes of the feed) and the embedded database's vacuum. A failed chore
 * is logged and tried again next hour; it never stops the others.
 */
export class Housekeeping {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tasks: readonly HousekeepingTask[],
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {}

  start(intervalMs = 3600_000): void {
    this.timer ??= setInterval(() => void this.run(), intervalMs).unref();
  }

  async run(): Promise<void> {
    for (const task of this.tasks) {
      try {
        await task.run();
      } catch (err) {
        this.logger?.warn({ err }, `housekeeping: could not ${task.what}`);
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
