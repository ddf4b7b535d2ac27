import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const MINUTES = 60_000;

/** Runs a command; a failure reports its output, so that a broken build or install says why. */
async function sh(cwd: string, command: string, args: string[], timeout = 10 * MINUTES): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
    return stdout;
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stderr ?? ''}\n${stdout ?? ''}`, { cause: err });
  }
}

const listing = async (tarball: string) => (await sh(path.dirname(tarball), 'tar', ['tzf', tarball])).split('\n').filter(Boolean);

/**
 * SLOW (a few minutes: npm ci, the full build, two installs). What a user of the published
 * packages gets: from a clean clone of this commit, `npm pack` of the server and of each SDK
 * carries the built JavaScript and types, the server's tarball installs globally (the SDK it
 * imports is bundled in it) and its `portcullis` command runs, and the SDK tarballs install and
 * type-check, including the `/fastify` subpath under the old `node10` module resolution. npm
 * may use the registry for third-party dependencies (from its cache when it has them). It runs
 * with the rest of `npm test`, in CI too.
 */
describe('npm packages, packed from a clean clone (slow)', () => {
  let work: string;
  let clone: string;
  const tarballs: Record<'server' | 'client' | 'resource', string> = { server: '', client: '', resource: '' };

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-pack-'));
    clone = path.join(work, 'clone');
    const head = (await sh(repo, 'git', ['rev-parse', 'HEAD'])).trim();
    await sh(work, 'git', ['clone', '--quiet', '--no-checkout', repo, clone]);
    await sh(clone, 'git', ['checkout', '--quiet', '--detach', head]);
    await sh(clone, 'npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund']);
    const out = path.join(work, 'tarballs');
    fs.mkdirSync(out);
    // No build has run in the clone: each prepack builds what its package ships.
    await sh(clone, 'npm', ['pack', '--pack-destination', out]);
    await sh(clone, 'npm', ['pack', '-w', '@portcullis/client', '-w', '@portcullis/resource', '--pack-destination', out]);
    for (const file of fs.readdirSync(out)) {
      const which = file.startsWith('portcullis-client-') ? 'client' : file.startsWith('portcullis-resource-') ? 'resource' : 'server';
      tarballs[which] = path.join(out, file);
    }
  }, 30 * MINUTES);
  afterAll(async () => {
    // The clone's node_modules is large: removing it takes a while on a busy machine.
    if (work) await fs.promises.rm(work, { recursive: true, force: true });
  }, 5 * MINUTES);

  it('the server tarball holds the built server, web app and CLI, and bundles @portcullis/resource', async () => {
    const files = await listing(tarballs.server);
    for (const file of [
      'bin/portcullis.js',
      'dist/cli/main.js',
      'dist/main.js',
      'dist/store/migrations/0001-initial.js',
      'dist/web/index.html',
      'node_modules/@portcullis/resource/dist/index.js',
      'README.md',
    ]) {
      expect(files, file).toContain(`package/${file}`);
    }
    expect(files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/') || f.endsWith('.tsbuildinfo'))).toEqual([]);
  });

  it.each(['client', 'resource'] as const)('the %s SDK tarball holds its built JavaScript and types', async (name) => {
    const files = await listing(tarballs[name]);
    const built = name === 'client' ? ['index'] : ['index', 'fastify', 'express'];
    for (const entry of built) {
      expect(files).toContain(`package/dist/${entry}.js`);
      expect(files).toContain(`package/dist/${entry}.d.ts`);
    }
    expect(files.filter((f) => f.endsWith('.tsbuildinfo'))).toEqual([]);
  });

  it(
    'a global install of the server tarball gives a working portcullis command',
    async () => {
      const prefix = path.join(work, 'prefix');
      await sh(work, 'npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarballs.server]);
      const help = await sh(work, path.join(prefix, 'bin', 'portcullis'), ['--help'], MINUTES);
      expect(help).toMatch(/^Usage: portcullis /m);
      expect(help).toContain('serve');
    },
    15 * MINUTES,
  );

  it(
    'the SDK tarballs install, load, and type-check under NodeNext and node10 resolution',
    async () => {
      const app = path.join(work, 'app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }));
      await sh(app, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarballs.client, tarballs.resource, 'fastify@5', 'express@5', '@types/express@5', '@types/node@20']);
      const loaded = await sh(app, process.execPath, [
        '--input-type=module',
        '-e',
        "const c = await import('@portcullis/client'); const r = await import('@portcullis/resource'); const f = await import('@portcullis/resource/fastify'); const e = await import('@portcullis/resource/express'); console.log([typeof c.createTokenSource, typeof r.createAccessTokenVerifier, typeof f.requireAnyPermission, typeof e.requirePermissions].join(' '));",
      ]);
      expect(loaded.trim()).toBe('function function function function');
      fs.writeFileSync(
        path.join(app, 'check.ts'),
        [
          "import { createTokenSource, type TokenSource } from '@portcullis/client';",
          "import { createAccessTokenVerifier } from '@portcullis/resource';",
          "import { requirePermissions } from '@portcullis/resource/fastify';",
          "import { requireAnyPermission } from '@portcullis/resource/express';",
          "const tokens: TokenSource = createTokenSource({ issuer: 'https://auth.example.com', clientId: 'c', clientSecret: 's', audience: 'https://api.example.com/' });",
          "const verifier = createAccessTokenVerifier({ issuer: 'https://auth.example.com', audience: 'https://api.example.com/' });",
          'export const used = [tokens, requirePermissions(verifier, "a"), requireAnyPermission(verifier, "a", "b")];',
          '',
        ].join('\n'),
      );
      const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
      const common = ['--noEmit', '--strict', '--skipLibCheck', '--types', 'node', '--target', 'ES2022', 'check.ts'];
      await sh(app, process.execPath, [tsc, '--module', 'NodeNext', '--moduleResolution', 'NodeNext', ...common]);
      await sh(app, process.execPath, [tsc, '--module', 'commonjs', '--moduleResolution', 'node10', ...common]);
    },
    15 * MINUTES,
  );
});
