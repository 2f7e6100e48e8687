/**
 * The live actors, pool -> provider -> node -> sub-node and builder ->
 * build / upload, as a virtual list: a pool of 10,000 nodes is fetched a page
 * of 200 at a time as it is scrolled to, and only the rows in view (and a few
 * around them) are in the DOM. Filtered by machine and state on the server.
 * A click selects an actor.
 */
import { debounce, el } from './dom.js';

export interface ActorRow {
  id: string;
  machine: string;
  state: string;
  parent: string | null;
}

export interface ActorPage {
  total: number;
  offset: number;
  actors: ActorRow[];
}

export interface ActorFilter {
  machine: string;
  state: string;
}

export type LoadActors = (offset: number, limit: number, filter: ActorFilter) => Promise<ActorPage>;

/** A state pushed by the server; `removed` when the actor ended. */
export interface StateUpdate {
  id: string;
  machine: string;
  state: string;
}

const ROW_HEIGHT = 24;
const PAGE = 200;
/** Rows drawn beyond the visible ones, so a short scroll shows no gap. */
const OVERSCAN = 10;
const MACHINES = ['pool', 'provider', 'node', 'subnode', 'builder', 'build', 'upload'];
/** The tree's depth by machine: the list comes ordered parent first, so indenting by kind draws the tree. */
const DEPTH: Record<string, number> = { pool: 0, builder: 0, provider: 1, build: 1, upload: 1, node: 2, subnode: 3 };

export class ActorList {
  readonly element: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly totalLabel: HTMLElement;
  private filter: ActorFilter = { machine: '', state: '' };
  private total = 0;
  private pages = new Map<number, ActorRow[]>();
  private loading = new Map<number, Promise<void>>();
  /** Bumped on every filter change or reload: a page that arrives for an older one is dropped. */
  private generation = 0;
  private selected: string | null = null;
  private readonly reloadSoon = debounce(1000, () => void this.reload());

  constructor(
    private readonly load: LoadActors,
    private readonly onSelect: (id: string) => void,
  ) {
    const machine = el('select', { 'data-testid': 'filter-machine', 'aria-label': 'machine' },
      el('option', { value: '' }, 'every machine'),
      ...MACHINES.map((name) => el('option', { value: name }, name)));
    const state = el('input', { type: 'search', placeholder: 'state (e.g. ready)', 'data-testid': 'filter-state', 'aria-label': 'state' });
    const applyFilter = (): void => {
      this.filter = { machine: machine.value, state: state.value.trim() };
      this.viewport.scrollTop = 0;
      void this.reload();
    };
    machine.addEventListener('change', applyFilter);
    state.addEventListener('input', debounce(300, applyFilter));
    this.totalLabel = el('span', { class: 'total', 'data-testid': 'actor-total' });
    this.spacer = el('div', { class: 'spacer' });
    this.viewport = el('div', { class: 'actor-viewport', 'data-testid': 'actor-list' }, this.spacer);
    this.viewport.addEventListener('scroll', () => this.render());
    this.viewport.addEventListener('click', (event) => {
      const row = (event.target as Element).closest<HTMLElement>('[data-actor-id]');
      const id = row?.dataset.actorId;
      if (id) this.onSelect(id);
    });
    this.element = el('section', { class: 'actors' },
      el('div', { class: 'filters' }, machine, state, this.totalLabel),
      this.viewport);
    new ResizeObserver(() => this.render()).observe(this.viewport);
  }

  /** Refetches the pages in view and draws them, keeping the scroll position. */
  async reload(): Promise<void> {
    this.generation++;
    this.pages = new Map();
    this.loading = new Map();
    await this.ensureVisible();
  }

  select(id: string | null): void {
    this.selected = id;
    this.render();
  }

  /** The server's pushed states: the rows held are changed in place; an actor not held (new) reloads the view soon. */
  applyStates(updates: readonly StateUpdate[]): void {
    let unknown = false;
    const held = new Map<string, ActorRow>();
    for (const rows of this.pages.values()) for (const row of rows) held.set(row.id, row);
    for (const update of updates) {
      const row = held.get(update.id);
      if (row) {
        row.state = update.state;
        // A state filter no longer matched (or newly matched) moves rows: ask the server again.
        if (this.filter.state !== '') unknown = true;
      } else if (update.state !== 'removed' && (this.filter.machine === '' || this.filter.machine === update.machine)) {
        unknown = true;
      }
    }
    this.render();
    if (unknown) this.reloadSoon();
  }

  private visibleRange(): { first: number; last: number } {
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const height = this.viewport.clientHeight || 600;
    const last = Math.min(this.total, Math.ceil((this.viewport.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    return { first, last };
  }

  private async ensureVisible(): Promise<void> {
    const { first, last } = this.visibleRange();
    const wanted = new Set<number>([Math.floor(first / PAGE)]);
    for (let page = Math.floor(first / PAGE); page * PAGE < last; page++) wanted.add(page);
    await Promise.all([...wanted].map((page) => this.loadPage(page)));
  }

  private loadPage(page: number): Promise<void> {
    if (this.pages.has(page)) return Promise.resolve();
    const pending = this.loading.get(page);
    if (pending) return pending;
    const generation = this.generation;
    const promise = this.load(page * PAGE, PAGE, this.filter).then(
      (result) => {
        if (generation !== this.generation) return;
        this.total = result.total;
        this.pages.set(page, result.actors);
        this.loading.delete(page);
        this.render();
      },
      (err: unknown) => {
        if (generation !== this.generation) return;
        this.loading.delete(page);
        this.totalLabel.textContent = `cannot list the actors: ${err instanceof Error ? err.message : String(err)}`;
      },
    );
    this.loading.set(page, promise);
    return promise;
  }

  private render(): void {
    this.spacer.style.height = `${this.total * ROW_HEIGHT}px`;
    this.totalLabel.textContent = `${this.total} actor${this.total === 1 ? '' : 's'}`;
    const { first, last } = this.visibleRange();
    const rows: HTMLElement[] = [];
    let missing = false;
    for (let index = first; index < last; index++) {
      const actor = this.pages.get(Math.floor(index / PAGE))?.[index % PAGE];
      if (!actor) {
        missing = true;
        continue;
      }
      rows.push(this.row(actor, index));
    }
    // Only the rows in view stay in the DOM: the spacer alone gives the scrollbar its length.
    this.spacer.replaceChildren(...rows);
    if (missing) void this.ensureVisible();
  }

  private row(actor: ActorRow, index: number): HTMLElement {
    const removed = actor.state === 'removed';
    return el('div', {
      class: `actor-row${actor.id === this.selected ? ' selected' : ''}${removed ? ' removed' : ''}`,
      'data-testid': 'actor-row',
      'data-actor-id': actor.id,
      'data-machine': actor.machine,
      style: `top:${index * ROW_HEIGHT}px;padding-left:${0.5 + (DEPTH[actor.machine] ?? 0) * 1.1}em`,
      title: actor.parent ? `${actor.id}, under ${actor.parent}` : actor.id,
    },
    el('span', { class: 'actor-id' }, actor.id),
    el('span', { class: `actor-state state-${actor.state.split('.')[0]}`, 'data-testid': 'actor-state' }, actor.state));
  }
}
