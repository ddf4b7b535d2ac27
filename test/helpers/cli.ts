import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { run } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = unknown>(): T;
}

/**
 * Runs `portcullis <args>` in-process, as bin/portcullis.js would, with its own environment
 * (so its credentials file lives where the test says), stdin, and no terminal.
 */
export async function portcullis(args: string[], opts: { env?: Record<string, string | undefined>; stdin?: string } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(['node', 'portcullis', ...args], {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    stdin: Readable.from(opts.stdin !== undefined ? [Buffer.from(opts.stdin)] : []),
    env: opts.env ?? {},
    fetch: (input, init) => globalThis.fetch(input, init),
  });
  return {
    code,
    stdout,
    stderr,
    json: <T>() => JSON.parse(stdout) as T,
  };
}

/** An empty directory to serve as XDG_CONFIG_HOME. */
export function tempConfigHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-cli-'));
}
