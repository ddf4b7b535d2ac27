import { OAuthError } from '@portcullis/client';
import { parseArgs } from 'node:util';
import { configFromEnv, MeterDaemon } from './daemon.js';

// Exit codes: 0 done, 1 failed, 2 bad settings, 3 credentials rejected by Portcullis.
const { values } = parseArgs({ options: { once: { type: 'boolean', default: false } } });

let daemon: MeterDaemon;
try {
  daemon = new MeterDaemon(configFromEnv(process.env));
} catch (err) {
  console.error(`meter-daemon: ${(err as Error).message}`);
  process.exit(2);
}

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

try {
  if (values.once) await daemon.sendReading();
  else await daemon.run(stop.signal);
} catch (err) {
  if (err instanceof OAuthError) {
    console.error(`meter-daemon: Portcullis refused the client (${err.code}${err.description ? `: ${err.description}` : ''}).`);
    process.exit(err.transient ? 1 : 3);
  }
  console.error(`meter-daemon: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
