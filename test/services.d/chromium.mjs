// Chromium for the dashboard's browser test (test/dashboard.test.ts, driven by playwright-core): Debian's `chromium`
// package, installed with the servers' packages when missing. Not a server: nothing is started here, and nothing is
// fetched from the web (a test tool's own browser download is not used).
import { which } from './common.mjs';

/** Where Debian's package puts the browser; the test launches exactly this file. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export function chromiumMissing() {
  return which('chromium') ? [] : ['chromium'];
}
