/**
 * The inspector page's API (docs/inspection.md): the pool at a glance, the
 * live actors a page at a time, one actor in full (state, context,
 * timeline, the `why` paragraph and its machine's chart), and a stream of
 * state changes as Server-Sent Events. Read-only, like the rest of the
 * status server. The live actors come from the running host; the history,
 * owners and records from the database.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Observable, Subscription } from 'rxjs';
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import { ActorStates } from '../actors/transition-recorder.js';
import type { NodepoolConfig } from '../config/types.js';
import { ALLOCATION_LEASE, PROVIDER_LEASE_PREFIX } from '../core/leases.js';
import type { Database } from '../db/index.js';
import { NODE_STATES } from '../db/records.js';
import { loadActor } from '../inspection/persisted-actors.js';
import { daemonRows } from '../listings/provider-rows.js';
import { explainActor, type ActorMachine } from '../inspection/why.js';
import { buildActorId, nodeActorId, uploadActorId } from '../../machines/actor-ids.js';
import { imageBuildMachine } from '../../machines/image-build.machine.js';
import { imageUploadMachine } from '../../machines/image-upload.machine.js';
import { nodeMachine } from '../../machines/node.machine.js';
import { liveActor, liveActors } from './actor-tree.js';
import { json, text, type Reply } from './reply.js';
import { stateChart } from './state-chart.js';

/** What the API reads of a daemon: its actor host's parts. */
export interface InspectedDaemon {
  roots(): readonly AnyActorRef[];
  readonly inspection: Observable<InspectionEvent>;
  readonly db: Database;
  readonly config: NodepoolConfig;
  /** The provider's cloud quota headroom as last asked, if known. */
  quotaHeadroom(provider: string): number | undefined;
  now(): number;
  /** Queued work per label (nodepoold's demand); none for a builder. */
  demand?(): Readonly<Record<string, number>>;
  /** nodepoold shows labels and providers; a builder only its images. */
  showsNodes: boolean;
}

const DEFAULT_PAGE = 200;
const MAX_PAGE = 1000;
/** State changes are sent together at most this often: a burst of thousands is a few messages. */
const EVENTS_BATCH_MS = 250;
/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/** The machine a persisted actor that no longer runs was, for its chart. */
const MACHINES: Partial<Record<ActorMachine, AnyStateMachine>> = {
  node: nodeMachine, subnode: nodeMachine, build: imageBuildMachine, upload: imageUploadMachine,
};

interface StateChangeMessage {
  id: string;
  machine: string;
  state: string;
}

export class InspectorApi {
  private readonly clients = new Set<ServerResponse>();
  private subscription: Subscription | undefined;
  /** The states the clients were last sent. */
  private readonly sent = new ActorStates();
  private pending = new Map<string, StateChangeMessage>();
  private batchTimer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;

  constructor(private readonly daemon: InspectedDaemon) {}

  /** Answers `/api/...` paths; undefined for any other. */
  async reply(path: string, params: URLSearchParams): Promise<Reply | undefined> {
    if (path === '/api/pool') return json(JSON.stringify(await this.pool()));
    if (path === '/api/actors') return this.actors(params);
    const one = /^\/api\/actors\/([^/]+)$/.exec(path);
    if (one) return this.actor(decodeURIComponent(one[1] as string));
    return undefined;
  }

  private async pool() {
    const { db, config } = this.daemon;
    const [builds, uploads] = await Promise.all([db.builds.list(), db.uploads.list()]);
    const images = {
      builds: builds.map((b) => ({ actor: buildActorId(b.id), image: b.image, state: b.state })),
      uploads: uploads.map((u) => ({ actor: uploadActorId(u.id), image: u.image, provider: u.provider, state: u.state })),
    };
    if (!this.daemon.showsNodes) return { labels: [], providers: [], daemons: [], ...images };
    const tally = await db.nodes.tally();
    const demand = this.daemon.demand?.() ?? {};
    const labels = config.labels.map((label) => {
      const counts = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<string, number>;
      for (const t of tally) if (t.label === label.name) counts[t.state] = (counts[t.state] ?? 0) + t.count;
      return { name: label.name, minReady: label.minReady, demand: demand[label.name] ?? 0, counts };
    });
    const nodesOf = (provider: string) => tally.filter((t) => t.provider === provider).reduce((sum, t) => sum + t.count, 0);
    const configured = new Set(config.providers.map((p) => p.name));
    const providers = [
      ...config.providers.map((p) => ({ name: p.name, maxServers: p.maxServers, quotaHeadroom: this.daemon.quotaHeadroom(p.name) ?? null, nodes: nodesOf(p.name), retired: false })),
      ...[...new Set(tally.map((t) => t.provider))].filter((p) => !configured.has(p)).map((p) => ({ name: p, maxServers: 0, quotaHeadroom: null, nodes: nodesOf(p), retired: true })),
    ];
    return { labels, providers, daemons: await this.daemons(), ...images };
  }

  /** The nodepoold sharing the database, each with the providers it drives now and whether it runs the allocation. */
  private async daemons() {
    const { db } = this.daemon;
    const now = this.daemon.now();
    const [daemons, leases, allocation] = await Promise.all([
      db.daemons.list(), db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX), db.leases.holder(ALLOCATION_LEASE, now),
    ]);
    return daemonRows(daemons, leases, allocation?.owner, now).map((d) => ({
      name: d.label, host: d.host, pid: d.pid, started: d.startedAt, lastSeen: d.renewedAt, state: d.state, providers: d.providers, allocates: d.allocates,
    }));
  }

  private actors(params: URLSearchParams): Reply {
    const offset = wholeNumber(params.get('offset'), 0);
    const asked = wholeNumber(params.get('limit'), DEFAULT_PAGE);
    if (offset === undefined || asked === undefined) return text(400, 'offset and limit must be whole numbers');
    const limit = Math.min(MAX_PAGE, asked);
    const machine = params.get('machine');
    const state = params.get('state');
    const all = liveActors(this.daemon.roots()).filter(
      (a) => (!machine || a.machine === machine) && (!state || a.state === state || a.state.startsWith(`${state}.`)),
    );
    return json(JSON.stringify({ total: all.length, offset, actors: all.slice(offset, offset + limit).map(({ id, machine: m, state: s, parent }) => ({ id, machine: m, state: s, parent })) }));
  }

  private async actor(given: string): Promise<Reply> {
    const id = /^\d+$/.test(given) ? nodeActorId(Number(given)) : given;
    const now = this.daemon.now();
    const live = liveActor(this.daemon.roots(), id);
    const stored = await loadActor(this.daemon.db, id, now);
    if (!live && !stored) return { ...json(JSON.stringify({ error: `no actor ${id}` })), status: 404 };
    const snapshot = live ? (live.actor.getSnapshot() as { context?: unknown }) : undefined;
    const machine = (live?.machine ?? stored?.machine) as ActorMachine;
    const state = live?.state ?? stored?.state ?? 'unknown';
    const context = snapshot ? snapshot.context : stored?.context;
    const history = stored?.history ?? [];
    const last = history.at(-1);
    const logic = live ? (live.actor as unknown as { logic?: AnyStateMachine }).logic : MACHINES[machine];
    const why = explainActor({
      actorId: id, machine, state, context, history,
      ...(stored?.record && { record: stored.record }),
      config: this.daemon.config,
      ...(this.daemon.config.imagesDir !== undefined && { imagesDir: this.daemon.config.imagesDir }),
    }, now);
    return json(JSON.stringify({
      id,
      machine,
      state,
      since: last?.to === state ? last.at : (stored?.since ?? now),
      owner: stored?.owner ?? null,
      context: flat(context),
      timeline: history.map((t) => ({ at: t.at, event: t.event, from: t.from ?? null, to: t.to, reason: t.reason ?? null })),
      why,
      chart: logic?.root ? stateChart(logic) : null,
    }));
  }

  /** `/api/events`: the live actors' state changes, batched, as Server-Sent Events, until the client goes. */
  stream(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    response.write(': nodepool actor states\n\n');
    this.clients.add(response);
    request.on('close', () => {
      this.clients.delete(response);
      if (this.clients.size === 0) this.quiet();
    });
    this.listen();
  }

  close(): void {
    for (const client of this.clients) client.end();
    this.clients.clear();
    this.quiet();
  }

  /** Follows the inspection stream while someone watches: a daemon with no page open pays nothing. */
  private listen(): void {
    if (this.subscription) return;
    this.sent.clear();
    for (const actor of liveActors(this.daemon.roots())) this.sent.know(actor.id, actor.state);
    this.subscription = this.daemon.inspection.subscribe((event) => this.note(event));
    this.keepalive = setInterval(() => {
      for (const client of this.clients) client.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  private quiet(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    clearInterval(this.keepalive);
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.pending.clear();
  }

  private note(event: InspectionEvent): void {
    const change = this.sent.change(event);
    if (!change) return;
    this.pending.set(change.actorId, { id: change.actorId, machine: change.machine, state: change.to });
    this.batchTimer ??= setTimeout(() => this.flush(), EVENTS_BATCH_MS);
  }

  private flush(): void {
    this.batchTimer = undefined;
    if (this.pending.size === 0) return;
    const message = `event: states\ndata: ${JSON.stringify([...this.pending.values()])}\n\n`;
    this.pending = new Map();
    for (const client of this.clients) client.write(message);
  }
}

/** The context's plain fields (and a failure's reason and message), for the page's table. */
function flat(context: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries((context ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else if (key === 'failure' && value && typeof value === 'object') {
      const failure = value as { reason?: unknown; message?: unknown };
      out.failure = `${String(failure.reason ?? 'failed')}: ${String(failure.message ?? '')}`;
    }
  }
  return out;
}

function wholeNumber(value: string | null, fallback: number): number | undefined {
  if (value === null) return fallback;
  return /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}


