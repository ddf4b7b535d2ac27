import type { ChildProcess } from 'node:child_process';
import { spawnServerProcess, startServerProcess } from './helpers/spawn-server.js';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, tempDataDir } from './helpers/server.js';

/**
 * SIGTERM drains: `/readyz` turns 503 and answers say `Connection: close` while requests are
 * still served, then the port closes. A client that, like a load balancer, stops sending to a
 * node once it says it is going away meets no reset connection and no 503.
 */
describe('stopping a server under load', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it('drains for SHUTDOWN_DRAIN_SECONDS: no request is refused or reset, and the process exits 0', async () => {
    const server = await startServerProcess(await freePort(), {
      DATA_DIR: tempDataDir(),
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_SECONDS: '2',
      ADMIN_EMAIL: 'a@example.com',
      ADMIN_PASSWORD: 'correct horse battery staple',
    });
    child = server.child;
    const { url } = server;

    const failures: string[] = [];
    let answered = 0;
    let toldToClose = 0;
    let goingAway = false;
    // Ten kept-alive connections, each sending until the server says it is going away (bounded: 20,000 requests at most).
    const load = Array.from({ length: 10 }, async () => {
      for (let i = 0; i < 2000 && !goingAway; i++) {
        try {
          const res = await fetch(`${url}/.well-known/jwks.json`);
          await res.arrayBuffer();
          if (res.status !== 200) failures.push(`status ${res.status}`);
          answered++;
          if (res.headers.get('connection') === 'close') {
            toldToClose++;
            goingAway = true;
          }
        } catch (err) {
          failures.push(String((err as Error).cause ?? err));
        }
      }
    });
    const readiness: number[] = [];
    const watch = (async () => {
      while (!goingAway) {
        const res = await fetch(`${url}/readyz`).catch(() => undefined);
        if (res) readiness.push(res.status);
        if (res?.status === 503) goingAway = true;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await Promise.all([...load, watch]);
    const [code] = (await exited) as [number | null];

    expect(failures, server.output).toEqual([]);
    expect(answered).toBeGreaterThan(10);
    expect(toldToClose + readiness.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(code).toBe(0);
  }, 90_000);
});

/** Issue 15, item 5: a new user running `npm start` finds the setup link in a banner, not only in a JSON log line. */
describe('the first start of an instance without users', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it('prints the setup link in a plain-text banner on stderr, and still logs it as JSON on stdout', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let stdout = '';
    let stderr = '';
    const { ADMIN_EMAIL: _email, ADMIN_PASSWORD: _password, ...env } = process.env;
    const started = spawnServerProcess({ PORT: String(port), ISSUER: url, DATA_DIR: tempDataDir(), LOG_LEVEL: 'info', SHUTDOWN_DRAIN_SECONDS: '0' }, env);
    child = started;
    started.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    started.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const end = performance.now() + 60_000;
    // Two pipes: the banner on stderr and the log line on stdout arrive in either order.
    while (!stderr.includes('Or set ADMIN_EMAIL') || !/No users yet\.[^\n]*\n/.test(stdout)) {
      if (performance.now() > end || started.exitCode !== null) throw new Error(`no setup banner and log line:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const link = new RegExp(`${url}/setup\\?token=[0-9A-Za-z]{43}`).exec(stderr)?.[0];
    expect(link, stderr).toBeDefined();
    const banner = stderr.split('\n').filter((l) => l.startsWith('|') || l.startsWith('+'));
    expect(banner[0]).toMatch(/^\+-+\+$/);
    expect(banner.at(-1)).toBe(banner[0]);
    expect(banner).toContain(`| ${'Portcullis has no users yet. Create the first platform administrator here:'.padEnd(banner[0]!.length - 4)} |`);
    expect(banner.some((l) => l.includes(`  ${link} `))).toBe(true);
    // Every line of the box is as wide as its frame.
    expect(new Set(banner.map((l) => l.length)).size).toBe(1);
    // The JSON log keeps its line, with the same link.
    const logged = stdout
      .slice(0, stdout.lastIndexOf('\n')) // whole lines only: the child may be writing the next
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string })
      .find((l) => l.msg.startsWith('No users yet.'));
    expect(logged?.msg).toContain(link);
    const exited = once(started, 'exit');
    started.kill('SIGTERM');
    await exited;
  }, 90_000);
});
