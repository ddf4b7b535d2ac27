import { buildMeterApi } from './meter-api.js';

// Settings from the environment; the defaults match a local `npm start` of Portcullis.
const issuer = process.env.PORTCULLIS_ISSUER ?? 'http://localhost:8080';
const audience = process.env.METER_API_AUDIENCE ?? 'https://meters.example.com/';
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
// METER_API_REQUIRE_DPOP=true: accept only DPoP-bound tokens (the meter-daemon-dpop example sends them).
const requireDpop = process.env.METER_API_REQUIRE_DPOP === 'true';

const app = await buildMeterApi({ issuer, audience, requireDpop, logger: true });
await app.listen({ port, host });
app.log.info(`meter API for audience ${audience}, trusting ${requireDpop ? 'DPoP-bound ' : ''}tokens from ${issuer}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
