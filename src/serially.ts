/**
 * `work` as a function whose calls run one after another, never two at once: a reload that
 * started later always finishes later, so an older read never overwrites a newer one.
 */
export function serially(work: () => Promise<void>): () => Promise<void> {
  let last: Promise<void> = Promise.resolve();
  return () => {
    const next = last.then(work);
    last = next.catch(() => {});
    return next;
  };
}
