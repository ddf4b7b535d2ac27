/**
 * `value` with each of its last `n` characters swapped for another letter: a wrong
 * secret (or token) of the same length and alphabet that can never equal `value`.
 * (Appending a fixed letter instead, as in `slice(0, -1) + 'x'`, gives the right
 * secret back whenever it already ended in that letter: one run in 62.)
 */
export function tampered(value: string, n = 1): string {
  const tail = [...value.slice(-n)].map((ch) => (ch === 'x' ? 'y' : 'x')).join('');
  return value.slice(0, -n) + tail;
}
