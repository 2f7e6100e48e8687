/**
 * The pool at a glance: per label its nodes by state against min-ready and
 * demand, per provider its nodes against max-servers and the quota left,
 * the nodepoold daemons sharing the database with the providers each
 * drives, and the image builds and uploads under way. nodepool-builder's
 * page has no labels, providers or daemons, only builds and uploads.
 */
import { age, el } from './dom.js';

export interface PoolSummary {
  labels: {
    name: string;
    minReady: number;
    demand: number;
    counts: { building: number; test: number; ready: number; used: number; hold: number; delete: number };
  }[];
  providers: { name: string; maxServers: number; quotaHeadroom: number | null; nodes: number; retired: boolean }[];
  /** Absent from a daemon older than this page. */
  daemons?: {
    /** `host:pid`. */
    name: string;
    host: string;
    pid: number;
    /** ms since the epoch. */
    started: number;
    lastSeen: number;
    state: 'alive' | 'draining' | 'dead';
    providers: string[];
    allocates: boolean;
  }[];
  builds: { actor: string; image: string; state: string }[];
  uploads: { actor: string; image: string; provider: string; state: string }[];
}

const COUNTED = ['ready', 'building', 'test', 'used', 'hold', 'delete'] as const;

/** `onSelect` is called with an actor id when a build or upload is clicked. */
export function drawSummary(pool: PoolSummary, onSelect: (id: string) => void): HTMLElement {
  const parts: HTMLElement[] = [];
  if (pool.labels.length > 0) parts.push(labels(pool.labels));
  if (pool.providers.length > 0) parts.push(providers(pool.providers));
  if (pool.daemons && pool.daemons.length > 0) parts.push(daemons(pool.daemons, Date.now()));
  parts.push(images(pool, onSelect));
  return el('div', { class: 'summary-parts' }, ...parts);
}

function labels(rows: PoolSummary['labels']): HTMLElement {
  return el('table', { class: 'summary-table', 'data-testid': 'summary-labels' },
    el('caption', {}, 'labels'),
    el('thead', {}, el('tr', {}, el('th', {}, 'label'), ...COUNTED.map((name) => el('th', { class: 'num' }, name)), el('th', { class: 'num' }, 'min-ready'), el('th', { class: 'num' }, 'demand'), el('th', {}, ''))),
    el('tbody', {}, ...rows.map((label) => {
      // Short of min-ready is what an operator looks for first.
      const short = label.counts.ready < label.minReady;
      return el('tr', { 'data-testid': 'summary-label', 'data-label': label.name, class: short ? 'short' : '' },
        el('td', { class: 'mono' }, label.name),
        ...COUNTED.map((name) => el('td', { class: `num count-${name}`, 'data-count': name }, String(label.counts[name]))),
        el('td', { class: 'num' }, String(label.minReady)),
        el('td', { class: 'num' }, String(label.demand)),
        el('td', {}, bar([
          ['ready', label.counts.ready],
          ['building', label.counts.building + label.counts.test],
          ['used', label.counts.used],
          ['hold', label.counts.hold],
        ], Math.max(label.minReady + label.demand, total(label.counts), 1), label.minReady)),
      );
    })));
}

function providers(rows: PoolSummary['providers']): HTMLElement {
  return el('table', { class: 'summary-table', 'data-testid': 'summary-providers' },
    el('caption', {}, 'providers'),
    el('thead', {}, el('tr', {}, ...['provider', 'nodes', 'max-servers', 'quota headroom', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((provider) => el('tr', { 'data-testid': 'summary-provider', 'data-provider': provider.name, class: provider.retired ? 'retired' : '' },
      el('td', { class: 'mono' }, provider.name, provider.retired ? el('span', { class: 'badge' }, 'retired') : null),
      el('td', { class: 'num' }, String(provider.nodes)),
      el('td', { class: 'num' }, String(provider.maxServers)),
      el('td', { class: 'num' }, provider.quotaHeadroom === null ? 'unknown' : String(provider.quotaHeadroom)),
      el('td', {}, bar([['used', provider.nodes]], Math.max(provider.maxServers, provider.nodes, 1), null)),
    ))));
}

/** Each nodepoold with the providers it drives; the one running the allocation is marked. */
function daemons(rows: NonNullable<PoolSummary['daemons']>, now: number): HTMLElement {
  return el('table', { class: 'summary-table', 'data-testid': 'summary-daemons' },
    el('caption', {}, 'daemons'),
    el('thead', {}, el('tr', {}, ...['daemon', 'state', 'providers', 'started', 'last seen'].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((daemon) => el('tr', { 'data-testid': 'summary-daemon', 'data-daemon': daemon.name, 'data-state': daemon.state, class: `daemon-${daemon.state}` },
      el('td', { class: 'mono' }, daemon.name, daemon.allocates ? el('span', { class: 'badge', 'data-testid': 'daemon-allocates', title: 'runs the allocation over the whole pool' }, 'allocates') : null),
      el('td', { 'data-testid': 'daemon-state' }, daemon.state),
      el('td', { class: 'mono', 'data-testid': 'daemon-providers' }, daemon.providers.length > 0 ? daemon.providers.join(', ') : el('span', { class: 'empty' }, 'none')),
      el('td', { class: 'num', title: new Date(daemon.started).toISOString() }, `${age(now - daemon.started)} ago`),
      el('td', { class: 'num', title: new Date(daemon.lastSeen).toISOString() }, `${age(now - daemon.lastSeen)} ago`),
    ))));
}

function images(pool: PoolSummary, onSelect: (id: string) => void): HTMLElement {
  const item = (actor: string, text: string, state: string, testid: string): HTMLElement => {
    const li = el('li', { 'data-testid': testid, 'data-actor-id': actor, class: 'link' },
      el('span', { class: 'mono' }, actor), ` ${text} `, el('span', { class: 'actor-state' }, state));
    li.addEventListener('click', () => onSelect(actor));
    return li;
  };
  return el('div', { class: 'images' },
    el('h3', {}, 'builds'),
    pool.builds.length === 0 ? el('p', { class: 'empty' }, 'none under way') : el('ul', {}, ...pool.builds.map((b) => item(b.actor, b.image, b.state, 'summary-build'))),
    el('h3', {}, 'uploads'),
    pool.uploads.length === 0 ? el('p', { class: 'empty' }, 'none under way') : el('ul', {}, ...pool.uploads.map((u) => item(u.actor, `${u.image} to ${u.provider}`, u.state, 'summary-upload'))),
  );
}

function total(counts: PoolSummary['labels'][number]['counts']): number {
  return COUNTED.reduce((sum, name) => sum + counts[name], 0);
}

/** A stacked bar of the parts over `scale`, with a tick at `mark` (min-ready) when given. */
function bar(parts: [string, number][], scale: number, mark: number | null): HTMLElement {
  const element = el('div', { class: 'bar', role: 'img', 'aria-label': parts.map(([name, n]) => `${name} ${n}`).join(', ') });
  for (const [name, n] of parts) {
    if (n > 0) element.append(el('span', { class: `bar-${name}`, style: `width:${(100 * n) / scale}%` }));
  }
  if (mark !== null && mark > 0) element.append(el('i', { class: 'bar-mark', style: `left:${(100 * mark) / scale}%`, title: `min-ready ${mark}` }));
  return element;
}
