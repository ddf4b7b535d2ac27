import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let known: string | undefined;

/**
 * This package's version (portcullis_build_info, the traces' service.version): from the nearest
 * package.json named portcullis above this file, which serves the sources and the build alike.
 */
export function packageVersion(): string {
  known ??= readVersion();
  return known;
}

function readVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'portcullis' && pkg.version) return pkg.version;
    } catch {
      // none here: look further up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
