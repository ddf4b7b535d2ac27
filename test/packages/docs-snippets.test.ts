import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');

/**
 * The SDK guides quote real code: a block after `<!-- include: <file>#<region> … -->` must be,
 * verbatim, the `// #region <region>` … `// #endregion` parts of those files (dedented, joined
 * by a blank line). Those files are compiled by `npm run typecheck` and run by the example and
 * SDK tests (test/examples/meter-dpop-e2e.test.ts, test/examples/meter-e2e.test.ts), so the
 * snippets compile and work.
 */
describe('docs: SDK snippets are the examples’ code', () => {
  const includes = (doc: string) => {
    const text = fs.readFileSync(path.join(repo, doc), 'utf8');
    return [...text.matchAll(/<!-- include: ([^>]+?) -->\n```ts\n([\s\S]*?)```/g)].map((m) => ({ refs: (m[1] ?? '').split(/\s+/), block: m[2] ?? '' }));
  };

  it.each([
    ['docs/integrate-client.md', ['examples/meter-daemon-dpop/src/daemon.ts#secretless-dpop']],
    ['docs/protect-an-api.md', ['examples/meter-api/src/meter-api.ts#fastify-imports', 'examples/meter-api/src/meter-api.ts#fastify']],
  ])('%s quotes its snippets verbatim', (doc, expected) => {
    const found = includes(doc);
    expect(found.flatMap((f) => f.refs)).toEqual(expected);
    for (const { refs, block } of found) {
      expect(block, refs.join(' ')).toBe(`${refs.map(region).join('\n\n')}\n`);
    }
  });

  it('finds nothing for a region that is not there', () => {
    expect(() => region('examples/meter-api/src/meter-api.ts#no-such-region')).toThrow(/no region/);
  });
});

function region(ref: string): string {
  const [file, name] = ref.split('#') as [string, string];
  const lines = fs.readFileSync(path.join(repo, file), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region docs:${name}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === '// #endregion');
  if (start < 0 || end < 0) throw new Error(`${file} has no region docs:${name}`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return body.map((l) => l.slice(indent)).join('\n');
}
