import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { logDestination, processLogger } from '../../src/server.js';
import { testDatabases } from '../helpers/databases.js';
import { basic, form, seedClient, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { tokenRequest } from '../helpers/tokens.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe.each(testDatabases())('request ids and logs on $name', (db) => {
  let p: TestPortcullis;
  const lines: string[] = [];
  usePortcullis(db, (started) => (p = started), { env: { LOG_LEVEL: 'trace' }, logStream: { write: (line: string) => void lines.push(line) } });

  const entries = () => lines.map((line) => JSON.parse(line) as { reqId?: string; msg: string; [k: string]: unknown });

  it('answers every request with an x-request-id, errors and unrouted paths included', async () => {
    const c = await seedClient(p.runtime);
    const answers = [
      await tokenRequest(p.app, c, { audience: c.apiIdentifier }),
      await tokenRequest(p.app, { clientId: c.clientId, secret: 'wrong' }, { audience: c.apiIdentifier }),
      await p.app.inject({ method: 'POST', url: '/oauth/token', headers: FORM, payload: 'grant_type=client_credentials&grant_type=again' }),
      await p.app.inject({ method: 'GET', url: '/api/v1/organizations' }),
      await p.app.inject({ method: 'GET', url: '/no/such/route' }),
      await p.app.inject({ method: 'GET', url: '/api/v1/organizations/%E0%A4%A' }),
      await p.app.inject({ method: 'GET', url: '/healthz' }),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([200, 401, 400, 401, 404, 400, 200]);
    const ids = answers.map((a) => a.headers['x-request-id']);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps a well-formed incoming x-request-id and replaces a malformed one', async () => {
    const ask = (id: string) => p.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': id } });
    for (const good of ['abc-123', 'f47ac10b-58cc-4372-a567-0e02b2c3d479', 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8', 'a'.repeat(128)]) {
      expect((await ask(good)).headers['x-request-id']).toBe(good);
    }
    for (const bad of ['a'.repeat(129), 'two words', 'quote"d', '<script>', 'ümlaut', '{"forged":"log"}']) {
      const res = await ask(bad);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-request-id']).toMatch(UUID);
    }
  });

  it('puts the request id on every log line of the request', async () => {
    const c = await seedClient(p.runtime);
    lines.length = 0;
    const res = await p.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...FORM, authorization: basic(c.clientId, 'wrong'), 'x-request-id': 'trace-me-42' },
      payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['x-request-id']).toBe('trace-me-42');
    const mine = entries().filter((e) => e.reqId === 'trace-me-42');
    expect(mine.map((e) => e.msg)).toEqual(['oauth request refused', 'request']);
    expect(entries().every((e) => e.reqId !== undefined)).toBe(true);
  });

  it('never logs a secret, a refresh token or an access token', async () => {
    const c = await seedClient(p.runtime, { refreshTokens: true });
    lines.length = 0;
    const issued = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
    expect(issued.statusCode).toBe(200);
    const { access_token: accessToken, refresh_token: refreshToken } = issued.json() as { access_token: string; refresh_token: string };
    const refreshed = await p.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...FORM, authorization: basic(c.clientId, c.secret) },
      payload: form({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    expect(refreshed.statusCode).toBe(200);
    // Spent: a reuse, refused and logged.
    const reused = await p.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: c.clientId, client_secret: c.secret }),
    });
    expect(reused.statusCode).toBe(400);
    const introspected = await p.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...FORM, authorization: basic(c.clientId, c.secret) }, payload: form({ token: accessToken }) });
    expect(introspected.statusCode).toBe(200);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    const log = lines.join('\n');
    for (const secret of [c.secret, c.secret.slice(4, 24), refreshToken, refreshToken.slice(4), accessToken, accessToken.split('.')[2] as string]) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/pcs_[0-9A-Za-z]{10}/);
  });
});

describe('LOG_FORMAT', () => {
  it('json writes pino JSON lines; pretty writes human-readable ones', async () => {
    expect(await logDestination('json')).toBeUndefined();
    let text = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    });
    const stream = await logDestination('pretty', sink);
    expect(stream).toBeDefined();
    const logger = processLogger('info', stream);
    logger.child({ reqId: 'req-7' }).info({ status: 200 }, 'request');
    logger.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(text).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: request\n {4}reqId: "req-7"\n {4}status: 200\n$/);
    expect(() => JSON.parse(text)).toThrow();
  });
});
