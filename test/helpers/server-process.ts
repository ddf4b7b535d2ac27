// Runs `portcullis serve` from the TypeScript sources (spawned with `node --import tsx`),
// so tests can start real server processes without a build.
import { main } from '../../src/cli/main.js';

await main([process.argv[0] ?? 'node', 'portcullis', 'serve']);
