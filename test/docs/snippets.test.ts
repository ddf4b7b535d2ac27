import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';

/**
 * The code in the documentation (README.md, docs/*.md, examples/*\/README.md), checked:
 * - every TypeScript block is type-checked with the repository's tsconfig (so `@portcullis/*`
 *   imports resolve to the packages' sources);
 * - every `portcullis …` command line in a shell block is parsed by the CLI's own commander
 *   program: unknown commands or options, missing arguments or required options fail. The
 *   commands are parsed, not run (they need a server, a terminal for `login`, jq, …);
 *   test/cli/ runs the same commands against a real server.
 * A block may opt out with `<!-- snippet: unchecked, <reason> -->` on the line before its fence.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const OPT_OUT = /^<!-- snippet: unchecked, (.+) -->$/;

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  optOut?: string;
}

function documents(): string[] {
  const docs = fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  const examples = fs
    .readdirSync(path.join(ROOT, 'examples'))
    .map((d) => `examples/${d}/README.md`)
    .filter((f) => fs.existsSync(path.join(ROOT, f)));
  return ['README.md', ...docs, ...examples];
}

function blocks(file: string): Block[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '');
    const before = lines
      .slice(0, start)
      .reverse()
      .find((l) => l.trim() !== '');
    const optOut = OPT_OUT.exec(before?.trim() ?? '')?.[1];
    found.push({ file, line: start + 1, lang: open[1] ?? '', code: body.join('\n'), ...(optOut ? { optOut } : {}) });
  }
  return found;
}

const ALL = documents().flatMap(blocks);
const TS = ALL.filter((b) => (b.lang === 'ts' || b.lang === 'typescript') && !b.optOut);
const SHELL = ALL.filter((b) => (b.lang === 'sh' || b.lang === 'bash' || b.lang === 'shell') && !b.optOut);

/** A shell line's words, as the shell would split them; `$VAR`, `$(…)` and `"$VAR"` become a placeholder value. */
function words(command: string): string[] {
  const out: string[] = [];
  let current = '';
  let has = false;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i] ?? '';
    if (ch === "'") {
      const end = command.indexOf("'", i + 1);
      current += command.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? command.length : end;
      has = true;
    } else if (ch === '"') {
      const end = command.indexOf('"', i + 1);
      current += substitute(command.slice(i + 1, end < 0 ? undefined : end));
      i = end < 0 ? command.length : end;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has) out.push(current);
      current = '';
      has = false;
    } else {
      current += ch;
      has = true;
    }
  }
  if (has) out.push(substitute(current));
  return out.map(substitute);
}

function substitute(word: string): string {
  return word.replace(/\$\([^)]*\)|\$\{?\w+\}?/g, 'placeholder');
}

/** The `portcullis …` invocations of a shell block: continuation lines joined, comments dropped, cut at pipes and `)`. */
function portcullisCommands(code: string): string[] {
  const logical = code.replace(/\\\n\s*/g, ' ').split('\n');
  const commands: string[] = [];
  for (const line of logical) {
    const withoutComment = line.replace(/(^|\s)#.*$/, '');
    for (const match of withoutComment.matchAll(/(?:^|[\s(|;&])(?:npx\s+)?portcullis\s+([^|;&)<>]*)/g)) commands.push(match[1]?.trim() ?? '');
  }
  return commands;
}

/** What commander says of `portcullis <args>`: undefined when it parses. Nothing runs. */
async function parseError(args: string[]): Promise<string | undefined> {
  let stderr = '';
  const io = {
    stdout: { write: () => true },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from([]),
    env: {},
    fetch: () => Promise.reject(new Error('no network while checking the docs')),
  };
  const program = buildProgram(io);
  const parsed = new Error('parsed');
  // After commander has checked the command, its arguments and required options; before the action.
  program.hook('preAction', () => {
    throw parsed;
  });
  try {
    await program.parseAsync(['node', 'portcullis', ...args]);
    return undefined;
  } catch (err) {
    if (err === parsed) return undefined;
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.help')) return undefined;
    return stderr || String(err);
  }
}

/**
 * Pages whose snippets do not type-check yet, with why. `it.fails` keeps them visible: once a page
 * is fixed its check fails until its entry here is removed.
 */
const KNOWN_FAILING = new Map<string, string>([
  ['docs/protect-an-api.md', 'fragments use names the page never declares (app, readingsOf, verifier); being rewritten on branch sdk'],
  ['docs/integrate-client.md', 'a fragment uses tokens and log, which the page never declares; being rewritten on branch sdk'],
]);

/** tsc's errors for one page's blocks, as `file:line: message` of the page. */
async function typeErrors(page: string, pageBlocks: Block[]): Promise<string[]> {
  const dir = path.join(ROOT, 'node_modules/.cache/portcullis-snippets', page.replace(/[^A-Za-z0-9]+/g, '-'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // Each code line remembers the page line it came from.
  const origin: number[] = [];
  const lines: string[] = [];
  for (const block of pageBlocks) {
    block.code.split('\n').forEach((line, i) => {
      lines.push(line);
      origin.push(block.line + 1 + i);
    });
  }
  fs.writeFileSync(path.join(dir, 'snippets.ts'), `${lines.join('\n')}\nexport {};\n`);
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(ROOT, 'tsconfig.json'),
      compilerOptions: { noEmit: true, rootDir: ROOT, noUnusedLocals: false, noUnusedParameters: false, sourceMap: false },
      include: ['snippets.ts'],
    }),
  );
  const output = await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', dir, '--pretty', 'false']).then(
    () => '',
    (err: { stdout: string }) => err.stdout,
  );
  return output
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = /^.*?snippets\.ts\((\d+),\d+\): (.*)$/.exec(line);
      return m ? `${page}:${origin[Number(m[1]) - 1] ?? '?'}: ${m[2]}` : line;
    });
}

describe('the documentation snippets', () => {
  it('finds the snippets it checks', () => {
    expect(TS.length).toBeGreaterThanOrEqual(4);
    expect(SHELL.flatMap((b) => portcullisCommands(b.code)).length).toBeGreaterThanOrEqual(15);
    // Opting out needs a reason, and stays rare.
    expect(ALL.filter((b) => b.optOut).length).toBeLessThanOrEqual(2);
  });

  it('every `portcullis …` command line in a shell block parses', async () => {
    const failures: string[] = [];
    for (const block of SHELL) {
      for (const command of portcullisCommands(block.code)) {
        const error = await parseError(words(command));
        if (error) failures.push(`${block.file}:${block.line}: portcullis ${command}\n  ${error.trim()}`);
      }
    }
    expect(failures).toEqual([]);
  });

  /**
   * A page's TypeScript blocks build on each other (one imports, a later one uses), so they are
   * checked together, as one module per page, in their order.
   */
  const pages = [...new Set(TS.map((b) => b.file))];
  for (const page of pages) {
    const check = KNOWN_FAILING.has(page) ? it.fails : it;
    check(
      `the TypeScript blocks of ${page} type-check${KNOWN_FAILING.has(page) ? ` (known to fail: ${KNOWN_FAILING.get(page)})` : ''}`,
      async () => {
        expect(
          await typeErrors(
            page,
            TS.filter((b) => b.file === page),
          ),
        ).toEqual([]);
      },
      120_000,
    );
  }
});
