import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipBrowserTests } from '../helpers/chromium.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB = path.join(ROOT, 'web');
const BUILT = path.join(ROOT, 'dist/web/index.html');

function newestMtime(entry: string): number {
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(
    stat.mtimeMs,
    ...fs
      .readdirSync(entry)
      .filter((n) => n !== 'node_modules')
      .map((n) => newestMtime(path.join(entry, n))),
  );
}

/**
 * The browser tests drive the built app that the server serves from dist/web. Build it
 * when it is missing or older than its sources (about two seconds), so a test run never
 * checks a stale app; an up-to-date build is left alone.
 */
export default async function buildWebApp(): Promise<void> {
  if (skipBrowserTests) return;
  const built = fs.existsSync(BUILT) ? fs.statSync(BUILT).mtimeMs : 0;
  if (built >= newestMtime(WEB)) return;
  const { build } = await import('vite');
  await build({ configFile: path.join(WEB, 'vite.config.ts'), logLevel: 'warn' });
}
