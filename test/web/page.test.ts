/**
 * The inspector page in a real browser (Debian's chromium, driven by
 * playwright-core), served as the daemons serve it: the built files through
 * pageAssets(), beside a small fake of the JSON API on 127.0.0.1 whose
 * answers the test controls, so each assertion knows what the page must
 * show. Needs `npm run build` first (the page is a built bundle).
 *
 * No chromium: skipped with a warning, except in CI where it fails, so a CI
 * image without a browser is never mistaken for a passing page.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pageAssets } from '../../src/web/page-assets.js';
import { SCREENSHOT_DIR, describeWithChromium, launchChromium } from '../support/chromium.js';

const SCREENSHOTS = SCREENSHOT_DIR;

describeWithChromium('the inspector page in a browser', suite);

interface FakeApi {
  url: string;
  /** Resolves when the page has opened its event stream. */
  streamOpened: Promise<void>;
  /** node-1 goes to `hold`, pushed on the event stream as the daemon would. */
  holdNode(): void;
  close(): Promise<void>;
}

const t0 = Date.now() - 90_000;

function state(key: string, path: string, type: string, transitions: [string, string[]][] = [], children: object[] = [], initial: string | null = null): object {
  return { key, path, type, initial, transitions: transitions.map(([event, targets]) => ({ event, targets })), children };
}

/** A node's chart, two levels deep: `building` with its steps, then the states of a built node. */
const NODE_CHART = {
  id: 'node',
  root: state('node', '', 'compound', [], [
    state('building', 'building', 'compound', [['delete', ['deleting']]], [
      state('requestingServer', 'building.requestingServer', 'atomic', [['done: building.requestingServer', ['building.waitingForServer']]]),
      state('waitingForServer', 'building.waitingForServer', 'atomic', [['server.listed', ['building.checkingSsh']], ['tick', []]]),
      state('checkingSsh', 'building.checkingSsh', 'atomic', [['ssh.ok', ['ready']]]),
    ], 'requestingServer'),
    state('ready', 'ready', 'atomic', [['hold', ['hold']], ['job.started', ['used']]]),
    state('used', 'used', 'atomic', [['job.completed', ['deleting']]]),
    state('hold', 'hold', 'atomic', [['delete', ['deleting']]]),
    state('deleting', 'deleting', 'compound', [], [
      state('deletingServer', 'deleting.deletingServer', 'atomic', [['server.gone', ['deleting.done']]]),
      state('done', 'deleting.done', 'final'),
    ], 'deletingServer'),
  ], 'building'),
};

/** A provider's chart: two regions side by side, as a parallel state draws. */
const PROVIDER_CHART = {
  id: 'provider',
  root: state('provider', '', 'parallel', [], [
    state('listing', 'listing', 'compound', [], [
      state('idle', 'listing.idle', 'atomic', [['tick', ['listing.listing']]]),
      state('listing', 'listing.listing', 'atomic', [['server.listed', ['listing.idle']]]),
    ], 'idle'),
    state('quota', 'quota', 'compound', [], [
      state('known', 'quota.known', 'atomic', [['quota.exceeded', ['quota.exhausted']]]),
      state('exhausted', 'quota.exhausted', 'atomic', [['tick', ['quota.known']]]),
    ], 'known'),
  ]),
};

/** `extraNodes` more nodes under provider-fake-a, for a pool of a realistic size. */
async function startFakeApi(extraNodes = 0): Promise<FakeApi> {
  const assets = pageAssets();
  if (!assets.get('/')) throw new Error('the inspector page is not built: run `npm run build` first');
  const node1 = {
    id: 'node-1',
    machine: 'node',
    state: 'building.waitingForServer',
    since: t0 + 30_000,
    owner: 'nodepoold@host-1',
    context: { nodeId: 1, provider: 'fake-a', label: 'small', serverId: 'fake-server-1', launchDeadline: t0 + 3_600_000 },
    timeline: [
      { at: t0, event: 'xstate.init', from: null as string | null, to: 'building.requestingServer', reason: null as string | null },
      { at: t0 + 30_000, event: 'done: building.requestingServer', from: 'building.requestingServer', to: 'building.waitingForServer', reason: null },
    ],
    why: 'node-1 waits for server fake-server-1 to become ACTIVE in fake-a; at the launch deadline it is deleted and launched again.',
    chart: NODE_CHART,
  };
  const actors = [
    { id: 'pool', machine: 'pool', state: 'running', parent: null },
    { id: 'provider-fake-a', machine: 'provider', state: 'listing.idle, quota.known', parent: 'pool' },
    { id: 'node-1', machine: 'node', state: node1.state, parent: 'provider-fake-a' },
    ...Array.from({ length: extraNodes }, (_, i) => ({ id: `node-${i + 2}`, machine: 'node', state: 'ready', parent: 'provider-fake-a' })),
  ];
  const details: Record<string, object> = {
    'node-1': node1,
    'provider-fake-a': { id: 'provider-fake-a', machine: 'provider', state: 'listing.idle, quota.known', since: t0, owner: 'nodepoold@host-1', context: { maxServers: 10 }, timeline: [], why: 'provider-fake-a lists its servers every 5 s.', chart: PROVIDER_CHART },
  };
  const pool = {
    labels: [
      { name: 'small', minReady: 2, demand: 1, counts: { building: 1, test: 0, ready: 1, used: 3, hold: 0, delete: 0 } },
      { name: 'large', minReady: 1, demand: 0, counts: { building: 0, test: 0, ready: 1, used: 0, hold: 1, delete: 1 } },
    ],
    providers: [{ name: 'fake-a', maxServers: 10, quotaHeadroom: 4, nodes: 6, retired: false }],
    daemons: [
      { name: 'host-1:4242', host: 'host-1', pid: 4242, started: t0 - 3_600_000, lastSeen: Date.now() - 2_000, state: 'alive', providers: ['fake-a', 'fake-b'], allocates: true },
      { name: 'host-2:77', host: 'host-2', pid: 77, started: t0, lastSeen: Date.now() - 1_000, state: 'draining', providers: [], allocates: false },
      { name: 'host-3:9', host: 'host-3', pid: 9, started: t0 - 7_200_000, lastSeen: t0, state: 'dead', providers: [], allocates: false },
    ],
    builds: [{ actor: 'build-3', image: 'ubuntu', state: 'building' }],
    uploads: [{ actor: 'upload-4', image: 'ubuntu', provider: 'fake-a', state: 'uploading' }],
  };
  const streams: ServerResponse[] = [];
  let opened: () => void = () => {};
  const streamOpened = new Promise<void>((resolve) => (opened = resolve));

  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake.invalid');
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify(body));
    };
    if (url.pathname === '/api/pool') return json(200, pool);
    if (url.pathname === '/api/actors') {
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 200);
      const machine = url.searchParams.get('machine');
      const chosen = actors.filter((actor) => !machine || actor.machine === machine);
      return json(200, { total: chosen.length, offset, actors: chosen.slice(offset, offset + limit) });
    }
    if (url.pathname.startsWith('/api/actors/')) {
      const detail = details[decodeURIComponent(url.pathname.slice('/api/actors/'.length))];
      return detail ? json(200, detail) : json(404, { error: 'no such actor' });
    }
    if (url.pathname === '/api/events') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      response.write(': connected\n\n');
      streams.push(response);
      request.on('close', () => streams.splice(streams.indexOf(response), 1));
      opened();
      return;
    }
    const asset = assets.get(url.pathname);
    if (!asset) return json(404, { error: `${url.pathname} is not here` });
    response.writeHead(200, { 'content-type': asset.contentType });
    response.end(asset.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    streamOpened,
    holdNode() {
      const at = Date.now();
      node1.timeline.push({ at, event: 'hold', from: node1.state, to: 'hold', reason: 'debugging a flaky job' });
      node1.state = 'hold';
      node1.since = at;
      node1.why = 'node-1 is held: debugging a flaky job. It stays until deleted.';
      (actors[2] as { state: string }).state = 'hold';
      const data = JSON.stringify([{ id: 'node-1', machine: 'node', state: 'hold' }]);
      for (const stream of streams) stream.write(`event: states\ndata: ${data}\n\n`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const stream of streams) stream.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function suite(): void {
  let api: FakeApi;
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];

  const currentPaths = (): Promise<string[]> =>
    page.$$eval('[data-testid=chart-state].current', (boxes) => boxes.map((box) => box.getAttribute('data-path') ?? '?'));
  const screenshot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SCREENSHOTS, `inspector-${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    api = await startFakeApi();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('request', (request) => requested.push(request.url()));
    await page.goto(api.url);
    await api.streamOpened;
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  it('lists the live actors as a tree, and the pool at a glance', async () => {
    await page.waitForSelector('[data-testid=actor-row][data-actor-id="node-1"]', { timeout: 5000 });
    const ids = await page.$$eval('[data-testid=actor-row]', (rows) => rows.map((row) => row.getAttribute('data-actor-id')));
    expect(ids).toEqual(['pool', 'provider-fake-a', 'node-1']);
    expect(await page.textContent('[data-actor-id="node-1"] [data-testid=actor-state]')).toBe('building.waitingForServer');
    const labels = await page.$$eval('[data-testid=summary-label]', (rows) => rows.map((row) => row.getAttribute('data-label')));
    expect(labels).toEqual(['small', 'large']);
    expect(await page.textContent('[data-testid=summary-label][data-label=small] [data-count=ready]')).toBe('1');
    await page.waitForSelector('[data-testid=live-status].live', { timeout: 5000 });
  });

  it('shows each nodepoold with the providers it drives, its state, and which one allocates', async () => {
    await page.waitForSelector('[data-testid=summary-daemons] [data-testid=summary-daemon]', { timeout: 5000 });
    const rows = await page.$$eval('[data-testid=summary-daemon]', (trs) => trs.map((tr) => ({
      daemon: tr.getAttribute('data-daemon'),
      state: tr.querySelector('[data-testid=daemon-state]')?.textContent,
      providers: tr.querySelector('[data-testid=daemon-providers]')?.textContent,
      allocates: tr.querySelector('[data-testid=daemon-allocates]') !== null,
    })));
    expect(rows).toEqual([
      { daemon: 'host-1:4242', state: 'alive', providers: 'fake-a, fake-b', allocates: true },
      { daemon: 'host-2:77', state: 'draining', providers: 'none', allocates: false },
      { daemon: 'host-3:9', state: 'dead', providers: 'none', allocates: false },
    ]);
    // Last seen at t0, a minute and a half before the page was opened.
    expect(await page.textContent('[data-testid=summary-daemon][data-daemon="host-3:9"] td:nth-child(5)')).toMatch(/^1m\d\ds ago$/);
  });

  it('shows the chart of a chosen actor with its current state path lit, and why it is there', async () => {
    await page.click('[data-testid=actor-row][data-actor-id="node-1"]');
    await page.waitForSelector('[data-testid=chart] [data-testid=chart-state][data-path="building.waitingForServer"].current', { timeout: 5000 });
    expect(await currentPaths()).toEqual(['', 'building', 'building.waitingForServer']);
    expect(await page.textContent('[data-testid=detail-state]')).toBe('building.waitingForServer');
    expect(await page.textContent('[data-testid=why]')).toContain('waits for server fake-server-1');
    // The initial child is marked, the transitions are named with their targets.
    expect(await page.getAttribute('[data-path="building.requestingServer"]', 'class')).toContain('initial');
    expect(await page.getAttribute('[data-path="building.waitingForServer"] > ul [data-event="server.listed"]', 'data-targets')).toBe('building.checkingSsh');
    await page.hover('[data-path="ready"] > ul [data-event="hold"]');
    await screenshot('node');
  });

  it('lights an earlier state when stepping back through the timeline', async () => {
    expect(await page.$$eval('[data-testid=timeline-row]', (rows) => rows.length)).toBe(2);
    await page.click('[data-testid=timeline-prev]');
    await page.waitForSelector('[data-testid=chart-state][data-path="building.requestingServer"].step', { timeout: 2000 });
    expect(await page.$$eval('[data-testid=chart-state].step', (boxes) => boxes.map((box) => box.getAttribute('data-path')))).toEqual(['building', 'building.requestingServer']);
    // The live state stays lit beside the step.
    expect(await currentPaths()).toContain('building.waitingForServer');
    expect(await page.textContent('[data-testid=timeline-position]')).toBe('step 1 of 2');
    await screenshot('timeline-step');
    await page.click('[data-testid=timeline-live]');
    expect(await page.$$('[data-testid=chart-state].step')).toHaveLength(0);
  });

  it('shows a pushed change of the chosen actor within 2 s', async () => {
    api.holdNode();
    await page.waitForSelector('[data-testid=detail-state]:text-is("hold")', { timeout: 2000 });
    expect(await currentPaths()).toEqual(['', 'hold']);
    expect(await page.textContent('[data-actor-id="node-1"] [data-testid=actor-state]')).toBe('hold');
    expect(await page.textContent('[data-testid=why]')).toContain('debugging a flaky job');
    expect(await page.$$eval('[data-testid=timeline-row]', (rows) => rows.length)).toBe(3);
    await screenshot('live-hold');
  });

  it('draws the regions of a parallel state side by side', async () => {
    await page.click('[data-testid=actor-row][data-actor-id="provider-fake-a"]');
    await page.waitForSelector('[data-testid=chart][data-chart-id=provider]', { timeout: 5000 });
    expect(await currentPaths()).toEqual(['', 'listing', 'listing.idle', 'quota', 'quota.known']);
    const [listing, quota] = await Promise.all(['listing', 'quota'].map((path) => page.locator(`[data-path="${path}"]`).boundingBox()));
    expect(listing && quota && quota.x > listing.x + listing.width - 1 && Math.abs(quota.y - listing.y) < 2).toBe(true);
    await screenshot('parallel');
  });

  it('keeps only the rows in view of 10,000 nodes, fetched a page at a time', async () => {
    const big = await startFakeApi(10_000);
    const bigPage = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const limits: string[] = [];
    bigPage.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/api/actors') limits.push(`${url.searchParams.get('offset')}+${url.searchParams.get('limit')}`);
    });
    try {
      await bigPage.goto(big.url);
      await bigPage.waitForSelector('[data-testid=actor-row][data-actor-id="node-1"]', { timeout: 5000 });
      expect(await bigPage.textContent('[data-testid=actor-total]')).toBe('10003 actors');
      expect(await bigPage.$$eval('[data-testid=actor-row]', (rows) => rows.length)).toBeLessThan(100);
      await bigPage.$eval('[data-testid=actor-list]', (list) => list.scrollTo(0, list.scrollHeight));
      await bigPage.waitForSelector('[data-testid=actor-row][data-actor-id="node-10001"]', { timeout: 5000 });
      expect(await bigPage.$$eval('[data-testid=actor-row]', (rows) => rows.length)).toBeLessThan(100);
      // The first page, then only the last one: never the whole list.
      expect(limits.every((request) => request.endsWith('+200'))).toBe(true);
      expect(limits).toContain('10000+200');
      expect(limits.length).toBeLessThan(6);
    } finally {
      await bigPage.close();
      await big.close();
    }
  });

  it('loads nothing from anywhere but the daemon', () => {
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((url) => !url.startsWith(api.url))).toEqual([]);
  });
}
