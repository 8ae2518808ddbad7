// Headless Chromium (the Debian binary) through playwright-core, with the launch flags that work
// on the project machines (../../shared/reference/test-environment.md).
//   launchChromium({ realIps = true }) -> Promise<Browser>; close it in an after hook.
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launchChromium({ realIps = true } = {}) {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (realIps) args.push('--disable-features=WebRtcHideLocalIpsWithMdns');
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
}
