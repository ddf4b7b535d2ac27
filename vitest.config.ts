import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages (packages/*) export their TypeScript sources under this condition, so tests need no build.
// Without the bundlers' `module` condition, which Node does not know: under it @opentelemetry/api
// resolves to an ESM build whose extensionless imports only a bundler can follow.
const sourceConditions = ['@portcullis/source', ...defaultServerConditions.filter((c) => c !== 'module')];

export default defineConfig({
  ssr: { resolve: { conditions: sourceConditions } },
  test: {
    // PGlite starts a WASM PostgreSQL per suite; give slow shared machines room.
    testTimeout: 60_000,
    hookTimeout: 90_000,
    // expect.poll waits 1 s by default, from before its first try: too little for a browser
    // page or a child process on a loaded 2-CPU machine. Pages get 8 s a step elsewhere.
    expect: { poll: { timeout: 10_000 } },
    pool: 'forks',
    // Two test files at a time even on 2 CPUs (Vitest's default is CPUs − 1): most suites spend
    // their time waiting on server processes, PostgreSQL and browsers, and CI runs the suite on two
    // Node versions within its 30 minutes.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/e2e/**', 'node_modules/**'] } },
      // The admin web app in Debian's Chromium (playwright-core); web/ is built first when its sources changed.
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: ['test/e2e/global-setup.ts'] } },
    ],
  },
});
