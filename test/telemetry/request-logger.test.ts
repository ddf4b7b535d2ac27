import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { requestLoggerFactory } from '../../src/telemetry/request-logger.js';

/** A pino logger writing into `lines`, with its child() calls counted. */
function parent(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<typeof child>) => {
    children++;
    return child(...args);
  }) as typeof logger.child;
  return { logger, lines, children: () => children };
}

describe('the per-request logger', () => {
  it('makes no pino child until the request logs, then logs with its bindings, and only once', () => {
    const p = parent();
    const log = requestLoggerFactory.call(undefined as never, p.logger, { reqId: 'r-1' }, {}, undefined as never);
    expect(log.level).toBe('info');
    expect(p.children()).toBe(0);
    log.info({ status: 200 }, 'request');
    log.warn('again');
    expect(p.children()).toBe(1);
    expect(p.lines).toMatchObject([
      { reqId: 'r-1', status: 200, msg: 'request' },
      { reqId: 'r-1', msg: 'again' },
    ]);
  });

  it("takes a route's own level, and a level set later", () => {
    const p = parent('info');
    const log = requestLoggerFactory.call(undefined as never, p.logger, { reqId: 'r-2' }, { level: 'warn' }, undefined as never);
    expect(log.level).toBe('warn');
    log.info('dropped');
    log.level = 'debug';
    log.debug('kept');
    expect(p.lines.map((l) => l.msg)).toEqual(['kept']);
  });
});
