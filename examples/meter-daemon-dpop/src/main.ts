import { writeFileSync } from 'node:fs';
import { OAuthError } from '@portcullis/client';
import { configFromEnv, connect, sendReading } from './daemon.js';
import { makeClientKey } from './keygen.js';

// `keygen <file>`: write a new private key to <file> and print the public JWK to register.
// Otherwise: send a reading every INTERVAL_SECONDS until SIGINT/SIGTERM.
// Exit codes: 0 done, 1 failed, 2 bad settings, 3 credentials rejected by Portcullis.
const [command, file] = process.argv.slice(2);
if (command === 'keygen') {
  const { privateKeyPem, publicJwk } = await makeClientKey();
  writeFileSync(file ?? 'client-key.pem', privateKeyPem, { mode: 0o600, flag: 'wx' });
  console.log(JSON.stringify({ keys: [publicJwk] }));
  process.exit(0);
}

let config: ReturnType<typeof configFromEnv>;
try {
  config = configFromEnv(process.env);
} catch (err) {
  console.error(`meter-daemon-dpop: ${(err as Error).message}`);
  process.exit(2);
}
const client = connect(config);
const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

let total = 0;
while (!stop.signal.aborted) {
  try {
    total += 0.5 + Math.random();
    const reading = await sendReading(client, config, Math.round(total * 1000) / 1000);
    console.log(`sent ${reading.meter_id} = ${reading.value} kWh at ${reading.at}`);
  } catch (err) {
    if (err instanceof OAuthError && !err.transient) {
      console.error(`meter-daemon-dpop: Portcullis refused the client (${err.code}${err.description ? `: ${err.description}` : ''}).`);
      process.exit(3);
    }
    console.error(`meter-daemon-dpop: could not send a reading (${err instanceof Error ? err.message : String(err)})`);
  }
  await new Promise((resolve) => setTimeout(resolve, config.intervalSeconds * 1000));
}
