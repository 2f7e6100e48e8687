/**
 * The inspector page of a running nodepoold (with its builder), in a real
 * browser (Debian's chromium, driven by playwright-core), on the simulated
 * cloud: the page lists the nodes and the builder's actors; a node shows its
 * chart with the current state lit; `nodepool hold` shows on the page
 * within 2 s; a node whose server stays in BUILD says what it waits for and
 * until when. Screenshots go to var/screenshots/ (test/support/chromium.ts).
 *
 * No chromium: skipped with a warning, except in CI where it fails.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { SCREENSHOT_DIR, describeWithChromium, launchChromium } from '../support/chromium.js';
import { runExecutable } from '../support/cli.js';
import { FAKE_IMAGE_CREATE, tempDir, writeConfigFile } from '../support/config-files.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';


describeWithChromium('the inspector page of a running nodepoold', suite);

function suite(): void {
  let daemon: RunningDaemon;
  let browser: Browser;
  let page: Page;
  let db: Database;
  let configFile: string;
  let url: string;

  beforeAll(async () => {
    const dir = tempDir();
    const dburi = `sqlite://${join(dir, 'nodepool.db')}`;
    const provider = (name: string, failureRate: Record<string, number>) => ({
      name,
      driver: 'fake',
      'max-servers': 5,
      rate: 0.001,
      'launch-timeout': 600,
      fake: { 'state-file': join(dir, `${name}.json`), latency: { create: 0.05, active: 0.2, delete: 0.1, upload: 0.1 }, 'failure-rate': failureRate },
      images: [{ name: 'debian', 'min-ram': 1024 }],
    });
    configFile = writeConfigFile(dir, {
      dburi,
      'images-dir': join(dir, 'images'),
      webapp: { listen: '127.0.0.1', port: 0 },
      labels: [
        { name: 'small', image: 'debian', 'min-ready': 2, providers: [{ name: 'fake-a' }] },
        // Its servers never leave BUILD: a node that waits.
        { name: 'stuck', image: 'debian', 'min-ready': 1, providers: [{ name: 'fake-b' }] },
      ],
      providers: [provider('fake-a', {}), provider('fake-b', { 'stuck-in-build': 1 })],
      targets: [{ name: 'local' }],
      diskimages: [{ name: 'debian', elements: ['debian-minimal'], 'dib-cmd': FAKE_IMAGE_CREATE }],
    });
    db = await openDatabase(dburi);
    daemon = startNodepoold(['-c', configFile], {}, { webapp: true });
    url = (await daemon.waitForLog('the status web server’s address', (l) => typeof l.url === 'string' && /listening on/.test(l.msg))).url as string;
    await waitFor('2 ready nodes of small', async () => (await db.nodes.list({ state: 'ready', label: 'small' })).length === 2);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${url}/`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await daemon?.stop('SIGTERM').catch(() => daemon.kill());
    await db?.close();
  });

  const screenshot = async (name: string) => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, `inspector-nodepoold-${name}.png`), fullPage: true });
  };
  const currentPaths = () => page.$$eval('[data-testid=chart] [data-testid=chart-state].current', (boxes) => boxes.map((b) => b.getAttribute('data-path')));

  it('lists the pool, the providers, the nodes and the builder’s actors', async () => {
    const [node] = await db.nodes.list({ state: 'ready', label: 'small' });
    await page.waitForSelector(`[data-testid=actor-row][data-actor-id="node-${node?.id}"]`, { timeout: 5_000 });
    await waitFor('the roots and the providers in the list', async () => {
      const ids = await page.$$eval('[data-testid=actor-row]', (rows) => rows.map((row) => row.getAttribute('data-actor-id')));
      return ['pool', 'provider-fake-a', 'provider-fake-b', 'builder'].every((id) => ids.includes(id));
    }, { timeoutMs: 10_000, intervalMs: 200 });
    // The builder's build and uploads, under way or done, are in the pool's summary; a click shows one.
    await page.waitForSelector('[data-testid=summary-upload]', { timeout: 15_000 });
    const build = await page.waitForSelector('[data-testid=summary-build]', { timeout: 15_000 });
    const buildId = await build.getAttribute('data-actor-id');
    expect(buildId).toMatch(/^build-\d+$/);
    // By selector, not by the handle: the summary is drawn again as the daemons renew their rows, which replaces the element.
    await page.click(`[data-testid=summary-build][data-actor-id="${buildId}"]`);
    await page.waitForSelector(`[data-testid=detail-id]:text-is("${buildId}")`, { timeout: 5_000 });
    await page.waitForSelector('[data-testid=chart][data-chart-id=imageBuild]', { timeout: 5_000 });
    await screenshot('pool');
  });

  it('shows a ready node’s chart with ready lit, then its hold within 2 s of `nodepool hold`', async () => {
    const [node] = await db.nodes.list({ state: 'ready', label: 'small' });
    await page.click(`[data-testid=actor-row][data-actor-id="node-${node?.id}"]`);
    await page.waitForSelector('[data-testid=chart] [data-testid=chart-state][data-path="ready"].current', { timeout: 5_000 });
    expect(await currentPaths()).toEqual(['', 'ready']);
    await screenshot('ready');
    const hold = await runExecutable('nodepool', ['-c', configFile, 'hold', String(node?.id), '--reason', 'looking at it']);
    expect(hold.code).toBe(0);
    await page.waitForSelector('[data-testid=detail-state]:text-is("hold")', { timeout: 2_000 });
    expect(await currentPaths()).toEqual(['', 'hold']);
    expect(await page.textContent('[data-testid=why]')).toContain('looking at it');
    await screenshot('hold');
  });

  it('says what a node whose server stays in BUILD waits for, and until when', async () => {
    const stuck = await waitFor('the stuck node waiting for its server', async () => (await db.nodes.list({ label: 'stuck' })).find((n) => n.externalId));
    await page.click(`[data-testid=actor-row][data-actor-id="node-${stuck.id}"]`);
    await page.waitForSelector('[data-testid=chart] [data-testid=chart-state][data-path="building.waitingForServer"].current', { timeout: 5_000 });
    const why = (await page.textContent('[data-testid=why]')) ?? '';
    expect(why).toContain(stuck.externalId as string);
    expect(why).toMatch(/launch deadline|launch timeout/i);
    expect(why).toMatch(/in \d+m/);
    await screenshot('waiting');
  });
}
