/** Where a CLI run reads and writes: the process's streams, or a test's. */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  env: Record<string, string | undefined>;
  /** The fetch the management commands use (tests may count requests). */
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
}

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, fetch: (input, init) => globalThis.fetch(input, init) };
}
