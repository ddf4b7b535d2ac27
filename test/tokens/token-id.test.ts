import { describe, expect, it } from 'vitest';
import { newTokenId } from '../../src/tokens/token-id.js';

describe('newTokenId', () => {
  it('gives 128-bit base64url ids, never the same twice, across many refills of its pool', () => {
    const ids = Array.from({ length: 5000 }, () => newTokenId()); // about 20 pools of 256 ids
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Buffer.from(ids[0] ?? '', 'base64url')).toHaveLength(16);
  });
});
