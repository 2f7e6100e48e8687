/**
 * The live inspector page: the pool at a glance, the actor list and one
 * actor in full, kept current by the daemon's stream of state changes
 * (/api/events). Every path is relative to the page, so it works behind a
 * proxy that serves the daemon under a prefix; nothing is loaded from
 * anywhere but the daemon.
 */
import { ActorList, type ActorFilter, type ActorPage, type StateUpdate } from './actor-list.js';
import { DetailView, type ActorDetail } from './detail.js';
import { debounce, el } from './dom.js';
import { drawSummary, type PoolSummary } from './summary.js';

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!response.ok) {
    const body = await response.text();
    let reason = body.trim();
    try {
      reason = (JSON.parse(body) as { error?: string }).error ?? reason;
    } catch {
      // Not JSON: the text itself is the reason.
    }
    throw new HttpError(response.status, reason || `HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

function loadActors(offset: number, limit: number, filter: ActorFilter): Promise<ActorPage> {
  const query = new URLSearchParams({ offset: String(offset), limit: String(limit) });
  if (filter.machine) query.set('machine', filter.machine);
  if (filter.state) query.set('state', filter.state);
  return getJson<ActorPage>(`api/actors?${query}`);
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

const summaryBox = byId('summary');
const status = byId('live-status');
const detail = new DetailView();
let selected: string | null = null;

const list = new ActorList(loadActors, (id) => select(id));
byId('actors').append(list.element);
byId('detail').replaceWith(detail.element);
detail.showEmpty();

/** Each fetch of the detail is numbered: an answer overtaken by a newer request is dropped. */
let detailRequest = 0;
async function refreshDetail(): Promise<void> {
  const id = selected;
  if (id === null) return;
  const request = ++detailRequest;
  try {
    const actor = await getJson<ActorDetail>(`api/actors/${encodeURIComponent(id)}`);
    if (request === detailRequest && id === selected) detail.show(actor);
  } catch (err) {
    if (request !== detailRequest || id !== selected) return;
    detail.showError(id, err instanceof HttpError && err.status === 404 ? `${id} is not running (it ended, or was never here): ${err.message}` : `cannot read ${id}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function select(id: string): void {
  selected = id;
  list.select(id);
  if (location.hash !== `#${id}`) history.replaceState(null, '', `#${encodeURIComponent(id)}`);
  void refreshDetail();
}

async function refreshSummary(): Promise<void> {
  try {
    summaryBox.replaceChildren(drawSummary(await getJson<PoolSummary>('api/pool'), select));
  } catch (err) {
    summaryBox.replaceChildren(el('p', { class: 'error' }, `cannot read the pool: ${err instanceof Error ? err.message : String(err)}`));
  }
}

// The server batches changes every 250 ms at most; a short pause on top
// merges bursts while a change still shows well within a second.
const refreshDetailSoon = debounce(150, () => void refreshDetail());
const refreshSummarySoon = debounce(1000, () => void refreshSummary());

function listen(): void {
  const events = new EventSource('api/events');
  events.addEventListener('open', () => {
    status.textContent = 'live';
    status.className = 'live';
    // Changes during an outage were not seen: read everything again.
    void list.reload();
    refreshDetailSoon();
    refreshSummarySoon();
  });
  events.addEventListener('error', () => {
    // EventSource reconnects by itself; say so rather than show stale data as live.
    status.textContent = events.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting\u2026';
    status.className = 'down';
  });
  events.addEventListener('states', (event) => {
    let updates: StateUpdate[];
    try {
      updates = JSON.parse((event as MessageEvent<string>).data) as StateUpdate[];
    } catch {
      return;
    }
    list.applyStates(updates);
    if (selected !== null && updates.some((update) => update.id === selected)) refreshDetailSoon();
    refreshSummarySoon();
  });
}

const fromHash = decodeURIComponent(location.hash.slice(1));
void refreshSummary();
void list.reload();
if (fromHash) select(fromHash);
listen();
