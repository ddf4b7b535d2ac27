// The entry of a real server process started from the TypeScript sources (see spawn-server.ts),
// so tests can start real server processes without a build.
import { main } from '../../src/cli/main.js';

await main([process.argv[0] ?? 'node', 'portcullis', 'serve']);
