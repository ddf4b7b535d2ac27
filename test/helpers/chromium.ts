import fs from 'node:fs';

// No import of the project's sources here: the e2e global setup loads this module outside the test
// environment, where the workspace packages' source condition does not apply.

export const CHROMIUM = '/usr/bin/chromium';

/** Outside CI, a machine without Debian's Chromium skips the browser tests, saying so; CI never skips them. */
export const skipBrowserTests = process.env.CI !== 'true' && !fs.existsSync(CHROMIUM);
export const skipReason = `admin web app e2e tests skipped: ${CHROMIUM} not found (install it with: apt-get install -y chromium)`;
