/** Polls `check` until it holds, at most `ms`; the answer says whether it did (no timing is asserted). */
export async function eventually(check: () => Promise<boolean>, ms = 20_000, everyMs = 50): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return check();
}
