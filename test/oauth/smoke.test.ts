import { describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.js';
import { basic, form, seedClient, startPortcullis } from '../helpers/portcullis.js';

describe.each(testDatabases())('smoke on $name', (db) => {
  it('issues a token', async () => {
    const p = await startPortcullis(await db.open(), { logger: { level: 'error' } });
    try {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { authorization: basic(c.clientId, c.secret), 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
      });
      expect(res.statusCode, res.body).toBe(200);
      console.log(res.body);
    } finally {
      await p.close();
      await db.dispose();
    }
  });
});
