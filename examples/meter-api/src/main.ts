import { buildMeterApi } from './meter-api.js';

// Settings from the environment; the defaults match a local `npm start` of Portcullis.
const issuer = process.env.PORTCULLIS_ISSUER ?? 'http://localhost:8080';
const audience = process.env.METER_API_AUDIENCE ?? 'https://meters.example.com/';
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';

const app = await buildMeterApi({ issuer, audience, logger: true });
await app.listen({ port, host });
app.log.info(`meter API for audience ${audience}, trusting tokens from ${issuer}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
