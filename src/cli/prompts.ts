import { createInterface } from 'node:readline/promises';
import { CliError, ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

/** Whether the user can be asked something (stdin and stderr are a terminal). */
export function interactive(io: CliIo): boolean {
  return io.stdin.isTTY === true && io.stderr.isTTY === true;
}

/** Asks one line on the terminal (the question goes to stderr, keeping stdout for results). */
export async function ask(io: CliIo, question: string): Promise<string> {
  const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream, terminal: true });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** Asks for a secret without echoing it. */
export async function askHidden(io: CliIo, question: string): Promise<string> {
  const stdin = io.stdin;
  if (!stdin.setRawMode) throw new CliError('No terminal to ask for the password on: use --password-stdin.', ExitCode.USAGE);
  io.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: Buffer | string) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData);
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            reject(new CliError('Cancelled.', ExitCode.USAGE));
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    io.stderr.write('\n');
  }
}

/** All of stdin, without its trailing newline (`--password-stdin`). */
export async function readStdin(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * Makes the user confirm a destructive action by typing `expected`, unless `--yes` was given.
 * Without a terminal and without --yes the command refuses: a script must say --yes.
 */
export async function confirmDestructive(io: CliIo, yes: boolean | undefined, what: string, expected: string): Promise<void> {
  if (yes) return;
  if (!interactive(io)) throw new CliError(`${what} Pass --yes to confirm (no terminal to ask on).`, ExitCode.USAGE);
  const answer = await ask(io, `${what}\nType ${expected} to confirm: `);
  if (answer !== expected) throw new CliError('Not confirmed; nothing was changed.', ExitCode.USAGE);
}
