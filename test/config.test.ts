import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const KEY = Buffer.alloc(32, 7).toString('base64');

/** The ConfigError `loadConfig(env)` throws. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('has the defaults of docs/http-api.md §1', () => {
    const config = loadConfig({});
    expect({
      port: config.port,
      host: config.host,
      issuer: config.issuer,
      dataDir: config.dataDir,
      databaseUrl: config.databaseUrl,
      masterKey: config.masterKey,
      adminEmail: config.adminEmail,
      adminPassword: config.adminPassword,
      accessTokenTtl: config.accessTokenTtl,
      allowQueryCredentials: config.allowQueryCredentials,
    }).toEqual({
      port: 8080,
      host: '127.0.0.1',
      issuer: 'http://localhost:8080',
      dataDir: path.resolve('./data'),
      databaseUrl: undefined,
      masterKey: undefined,
      adminEmail: undefined,
      adminPassword: undefined,
      accessTokenTtl: 3600,
      allowQueryCredentials: false,
    });
    expect(config.signingAlg).toBe('ES256');
  });

  it('reads only the env it is given, not process.env', () => {
    const saved = process.env.PORT;
    process.env.PORT = '1234';
    try {
      expect(loadConfig({}).port).toBe(8080);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  it('derives the default ISSUER from PORT and strips a trailing slash from ISSUER', () => {
    expect(loadConfig({ PORT: '9000' }).issuer).toBe('http://localhost:9000');
    expect(loadConfig({ ISSUER: 'https://auth.example.com/' }).issuer).toBe('https://auth.example.com');
    expect(loadConfig({ ISSUER: 'https://auth.example.com/tenant' }).issuer).toBe('https://auth.example.com/tenant');
  });

  it('takes every setting of docs/http-api.md §1', () => {
    const config = loadConfig({
      PORT: '9443',
      HOST: '0.0.0.0',
      ISSUER: 'https://auth.example.com',
      DATA_DIR: '/var/lib/portcullis',
      DATABASE_URL: 'postgres://portcullis@db:5432/portcullis',
      MASTER_KEY: KEY,
      ADMIN_EMAIL: 'admin@example.com',
      ADMIN_PASSWORD: 'correct horse battery staple',
      ACCESS_TOKEN_TTL: '900',
      ALLOW_QUERY_CREDENTIALS: 'true',
    });
    expect(config).toMatchObject({
      port: 9443,
      host: '0.0.0.0',
      issuer: 'https://auth.example.com',
      dataDir: '/var/lib/portcullis',
      databaseUrl: 'postgres://portcullis@db:5432/portcullis',
      masterKey: KEY,
      adminEmail: 'admin@example.com',
      adminPassword: 'correct horse battery staple',
      accessTokenTtl: 900,
      allowQueryCredentials: true,
    });
  });

  it('treats an empty value as unset', () => {
    const config = loadConfig({ PORT: '', ISSUER: '', ALLOW_QUERY_CREDENTIALS: '' });
    expect(config.port).toBe(8080);
    expect(config.issuer).toBe('http://localhost:8080');
    expect(config.allowQueryCredentials).toBe(false);
  });

  it('ALLOW_QUERY_CREDENTIALS accepts true/false/1/0 and nothing else', () => {
    expect(loadConfig({ ALLOW_QUERY_CREDENTIALS: 'true' }).allowQueryCredentials).toBe(true);
    expect(loadConfig({ ALLOW_QUERY_CREDENTIALS: '1' }).allowQueryCredentials).toBe(true);
    expect(loadConfig({ ALLOW_QUERY_CREDENTIALS: 'false' }).allowQueryCredentials).toBe(false);
    expect(loadConfig({ ALLOW_QUERY_CREDENTIALS: '0' }).allowQueryCredentials).toBe(false);
    expect(configError({ ALLOW_QUERY_CREDENTIALS: 'yes' }).message).toContain('ALLOW_QUERY_CREDENTIALS:');
  });

  it('has database deadlines of a few seconds, and takes others', () => {
    expect(loadConfig({})).toMatchObject({ databaseConnectTimeout: 3, databaseStatementTimeout: 10 });
    expect(loadConfig({ DATABASE_CONNECT_TIMEOUT: '1', DATABASE_STATEMENT_TIMEOUT: '30' })).toMatchObject({ databaseConnectTimeout: 1, databaseStatementTimeout: 30 });
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['ISSUER', { ISSUER: 'ftp://x' }],
    ['ISSUER', { ISSUER: 'https://auth.example.com/?tenant=1' }],
    ['SIGNING_ALG', { SIGNING_ALG: 'HS256' }],
    ['ACCESS_TOKEN_TTL', { ACCESS_TOKEN_TTL: '5' }],
    ['ACCESS_TOKEN_TTL', { ACCESS_TOKEN_TTL: '1h' }],
    ['ADMIN_PASSWORD', { ADMIN_EMAIL: 'admin@example.com' }],
    ['ADMIN_EMAIL', { ADMIN_PASSWORD: 'correct horse battery staple' }],
    ['MASTER_KEY', { MASTER_KEY: 'short' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/portcullis' }],
    ['SMTP_URL', { SMTP_URL: 'http://mail.example.com' }],
    ['SMTP_URL', { SMTP_URL: 'smtp://' }],
    ['SMTP_URL', { SMTP_URL: 'smtp://[bad' }],
    ['SMTP_FROM', { SMTP_FROM: 'not an address' }],
    ['SMTP_FROM', { SMTP_FROM: 'Ops <ops@example.com>\r\nBcc: x@example.com' }],
    ['DATABASE_CONNECT_TIMEOUT', { DATABASE_CONNECT_TIMEOUT: '0' }],
    ['DATABASE_STATEMENT_TIMEOUT', { DATABASE_STATEMENT_TIMEOUT: '1.5' }],
    ['REDIS_URL', { REDIS_URL: 'http://127.0.0.1:6379' }],
    ['REDIS_URL', { REDIS_URL: '127.0.0.1:6379' }],
    ['REDIS_KEY_PREFIX', { REDIS_KEY_PREFIX: 'has space' }],
    ['REDIS_COMMAND_TIMEOUT', { REDIS_COMMAND_TIMEOUT: '0' }],
    ['REDIS_CONNECT_TIMEOUT', { REDIS_CONNECT_TIMEOUT: '2s' }],
  ])('%s is named when bad: %j', (variable, env) => {
    const error = configError(env);
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain(`  - ${variable}: `);
  });

  it('names every bad variable at once', () => {
    const error = configError({ PORT: 'abc', SIGNING_ALG: 'HS256', MASTER_KEY: 'short' });
    expect(error.message.split('\n').filter((line) => line.startsWith('  - '))).toHaveLength(3);
    for (const variable of ['PORT', 'SIGNING_ALG', 'MASTER_KEY']) expect(error.message).toContain(`  - ${variable}: `);
  });

  it('reads SMTP_URL and SMTP_FROM; the From defaults to no-reply at the issuer host', () => {
    expect(loadConfig({})).toMatchObject({ smtpUrl: undefined, smtpFrom: 'Portcullis <no-reply@localhost>' });
    expect(loadConfig({ ISSUER: 'https://auth.example.com', SMTP_URL: 'smtps://portcullis:s3cret@mail.example.com:465' })).toMatchObject({
      smtpUrl: 'smtps://portcullis:s3cret@mail.example.com:465',
      smtpFrom: 'Portcullis <no-reply@auth.example.com>',
    });
    expect(loadConfig({ SMTP_FROM: 'Ops <ops@example.com>' }).smtpFrom).toBe('Ops <ops@example.com>');
    expect(loadConfig({ SMTP_FROM: 'ops@example.com' }).smtpFrom).toBe('ops@example.com');
  });

  it('has no Redis by default; with REDIS_URL, a prefix and deadlines of well under a second', () => {
    expect(loadConfig({})).toMatchObject({ redisUrl: undefined, redisKeyPrefix: 'portcullis:', redisCommandTimeoutMs: 500, redisConnectTimeoutMs: 2000 });
    expect(loadConfig({ REDIS_URL: 'rediss://:pw@redis.internal:6380/2', REDIS_KEY_PREFIX: 'auth-eu:', REDIS_COMMAND_TIMEOUT: '200', REDIS_CONNECT_TIMEOUT: '1000' })).toMatchObject({
      redisUrl: 'rediss://:pw@redis.internal:6380/2',
      redisKeyPrefix: 'auth-eu:',
      redisCommandTimeoutMs: 200,
      redisConnectTimeoutMs: 1000,
    });
  });

  it('never repeats a bad REDIS_URL: it may hold the Redis password', () => {
    const message = configError({ REDIS_URL: 'http://:s3cret-pass@redis.internal' }).message;
    expect(message).toContain('REDIS_URL: a redis:// or rediss:// URL expected');
    expect(message).not.toContain('s3cret-pass');
  });

  it('never repeats a bad SMTP_URL: it may hold the SMTP password', () => {
    for (const bad of ['http://user:s3cret-pass@mail.example.com', 'smtp://user:s3cret-pass@[bad', 'smtp://user:s3cret-pass@mail example.com']) {
      const message = configError({ SMTP_URL: bad }).message;
      expect(message).toContain('SMTP_URL: ');
      expect(message).not.toContain('s3cret-pass');
    }
  });

  it('says what was expected and what it got', () => {
    expect(configError({ PORT: '70000' }).message).toContain('PORT: integer 0..65535 expected, got 70000');
    expect(configError({ SIGNING_ALG: 'HS256' }).message).toContain('SIGNING_ALG: one of ES256, RS256, EdDSA expected, got "HS256"');
  });

  it('logs pretty at a terminal and JSON otherwise, unless LOG_FORMAT says', () => {
    expect(loadConfig({}, true).logFormat).toBe('pretty');
    expect(loadConfig({}, false).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'json' }, true).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }, false).logFormat).toBe('pretty');
    expect(configError({ LOG_FORMAT: 'text' }).message).toContain('LOG_FORMAT: one of pretty, json expected, got "text"');
  });

  it('turns tracing on only with an exporter or an OTLP endpoint', () => {
    expect(loadConfig({}).tracesExporter).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracesExporter).toBe('otlp');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector:4318/v1/traces' }).tracesExporter).toBe('otlp');
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console' }).tracesExporter).toBe('console');
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracesExporter).toBeUndefined();
    expect(configError({ OTEL_TRACES_EXPORTER: 'jaeger' }).message).toContain('OTEL_TRACES_EXPORTER:');
    expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }).message).toContain('OTEL_EXPORTER_OTLP_ENDPOINT: an http(s) URL expected');
  });
});
