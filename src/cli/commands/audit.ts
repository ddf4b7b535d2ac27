import { InvalidArgumentError, type Command } from 'commander';
import { action, connectionOptions, seg, type ConnectionOptions } from '../context.js';
import type { CliIo } from '../io.js';
import type { Page } from '../management-client.js';
import { when } from '../output.js';
import type { AuditEvent } from '../wire.js';

/** `portcullis audit list`: an organization's audit log (organization admin, or audit:read). */
export function registerAuditCommands(program: Command, io: CliIo): void {
  const audit = program.command('audit').description("An organization's audit log: who changed what, when, from where.");

  connectionOptions(audit.command('list').description('List audit events, newest first.').option('--limit <n>', 'at most this many events (default 50)', parseLimit, 50), { org: true }).action(
    action<ConnectionOptions & { limit: number }, []>(io, async (ctx) => {
      const base = `/organizations/${seg(await ctx.orgId())}/audit-events`;
      const events: AuditEvent[] = [];
      let cursor: string | null = null;
      do {
        const page: Page<AuditEvent> = await ctx
          .api()
          .get<Page<AuditEvent>>(`${base}?limit=${Math.min(200, ctx.options.limit - events.length)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        events.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor && events.length < ctx.options.limit);
      ctx.print.result(events, () =>
        ctx.print.table(
          events,
          [
            { header: 'AT', value: (e) => when(e.at) },
            { header: 'ACTOR', value: (e) => `${e.actor.type}:${e.actor.id}` },
            { header: 'ACTION', value: (e) => e.action },
            { header: 'TARGET', value: (e) => `${e.target.type}:${e.target.id}` },
            { header: 'IP', value: (e) => e.ip ?? '-' },
          ],
          'No audit events.',
        ),
      );
    }),
  );
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new InvalidArgumentError('a whole number from 1 to 100000 expected');
  return n;
}
