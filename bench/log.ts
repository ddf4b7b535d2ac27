/** Progress goes to stderr, so that stdout carries the results alone (--json). */
export const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};
