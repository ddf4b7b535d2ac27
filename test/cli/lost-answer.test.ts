import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portcullis, tempConfigHome } from '../helpers/cli.js';
import { startSdkServer, type RealServer } from '../helpers/sdk.js';

const ADMIN = 'admin@example.com';
const PASSWORD = 'correct horse battery staple';

/**
 * A TCP relay to `target` that lets the first `POST /api/v1/organizations` through and cuts the
 * connection as the answer comes back: the server applied the change, the CLI never heard.
 */
async function answerLosingRelay(target: URL): Promise<{ url: string; posts: string[]; close(): Promise<void> }> {
  const posts: string[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((inbound) => {
    const outbound = net.connect(Number(target.port), target.hostname);
    sockets.add(inbound).add(outbound);
    let cutNextAnswer = false;
    inbound.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (text.startsWith('POST /api/v1/organizations ')) {
        posts.push(/idempotency-key: *([^\r\n]*)/i.exec(text)?.[1] ?? '(none)');
        if (posts.length === 1) cutNextAnswer = true;
      }
      outbound.write(chunk);
    });
    outbound.on('data', (chunk: Buffer) => {
      if (cutNextAnswer) {
        inbound.resetAndDestroy();
        outbound.destroy();
        return;
      }
      inbound.write(chunk);
    });
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.end());
    outbound.on('close', () => inbound.end());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { port } = relay.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    posts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  };
}

describe('the CLI retries an unsafe request whose answer was lost, with the same Idempotency-Key', () => {
  let server: RealServer;
  let relay: Awaited<ReturnType<typeof answerLosingRelay>>;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startSdkServer({ ADMIN_EMAIL: ADMIN, ADMIN_PASSWORD: PASSWORD });
    relay = await answerLosingRelay(new URL(server.issuer));
    env = { XDG_CONFIG_HOME: tempConfigHome(), PORTCULLIS_SERVER: relay.url };
  });
  afterAll(async () => {
    await relay?.close();
    await server?.close();
  });

  it('creates the organization once and prints the answer the server kept', async () => {
    expect((await portcullis(['login', '--email', ADMIN, '--password-stdin'], { env, stdin: `${PASSWORD}\n` })).code).toBe(0);
    const created = await portcullis(['orgs', 'create', '--name', 'Retried Org', '--json'], { env });
    expect(created.code, created.stderr).toBe(0);
    const org = created.json<{ id: string; name: string }>();
    expect(org.name).toBe('Retried Org');

    expect(relay.posts).toHaveLength(2);
    expect(relay.posts[0]).toMatch(/^[0-9a-f-]{36}\.1$/);
    expect(relay.posts[1]).toBe(relay.posts[0]);
    const listed = await portcullis(['orgs', 'list', '--json'], { env });
    expect(listed.json<{ id: string; name: string }[]>().filter((o) => o.name === 'Retried Org')).toEqual([expect.objectContaining({ id: org.id })]);
  });
});
