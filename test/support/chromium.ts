/**
 * The page tests' browser: Debian's chromium, driven by playwright-core.
 * Without it a suite is skipped with a warning, except in CI where it
 * fails, so a CI image without a browser is never taken for a passing page.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { describe, it } from 'vitest';
import { PROJECT_ROOT } from './cli.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Where the page tests leave their screenshots: var/screenshots/ (not
 * tracked), or the directory of NODEPOOL_SCREENSHOTS; docs/images/ holds the
 * ones the docs show, refreshed with NODEPOOL_SCREENSHOTS=docs/images.
 */
export const SCREENSHOT_DIR = resolve(PROJECT_ROOT, process.env.NODEPOOL_SCREENSHOTS ?? 'var/screenshots');
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false';

export function describeWithChromium(title: string, suite: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(title, suite);
  } else if (inCi) {
    describe(title, () => {
      it('needs chromium in CI', () => {
        throw new Error(`${CHROMIUM} is missing: the inspector page cannot be tested (apt-get install chromium)`);
      });
    });
  } else {
    console.warn(`skipping '${title}': ${CHROMIUM} is missing (apt-get install chromium)`);
    describe.skip(`${title} (skipped: no ${CHROMIUM})`, suite);
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}
