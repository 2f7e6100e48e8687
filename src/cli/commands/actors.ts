/**
 * `nodepool actor-list`, `actor-show` and `why`: the actors as the database
 * holds them (docs/inspection.md). They read the snapshots, the history and
 * the leases only, so they work with the daemons stopped, from any host
 * that reaches the database.
 */
import type { NodepoolConfig } from '../../config/types.js';
import type { Database } from '../../db/index.js';
import { createDriver } from '../../drivers/factory.js';
import { explainActor, explainLabel } from '../../inspection/why.js';
import { relativeTime } from '../../inspection/relative-time.js';
import { listActors, loadActor, type ActorDetail, type ActorMachine } from '../../inspection/persisted-actors.js';
import { formatAge, renderTable } from '../../listings/index.js';
import { CommandFailure } from '../failure.js';
import type { Output } from '../output.js';

export interface ActorListOptions {
  machine?: ActorMachine;
  state?: string;
  json?: boolean;
}

/** A state given as its top state matches every state under it (`deleting` matches `deleting.deleteFailed`). */
function inState(state: string, wanted: string): boolean {
  return state === wanted || state.startsWith(`${wanted}.`);
}

export async function listActorsCommand(db: Database, out: Output, options: ActorListOptions, now = Date.now()): Promise<void> {
  const actors = (await listActors(db, now)).filter(
    (a) => (options.machine === undefined || a.machine === options.machine) && (options.state === undefined || inState(a.state, options.state)),
  );
  if (options.json) {
    out.out(JSON.stringify(actors.map((a) => ({ actor: a.actorId, machine: a.machine, state: a.state, since: a.since, owner: a.owner ?? null })), null, 2));
    return;
  }
  out.out(renderTable(['Actor', 'Machine', 'State', 'In State', 'Owner'], actors.map((a) => [a.actorId, a.machine, a.state, formatAge(a.since, now), a.owner])));
}

/** The context's fields a person debugging needs, with deadlines relative to now. */
function contextLines(detail: ActorDetail, now: number): [string, string][] {
  const c = (detail.context ?? {}) as Record<string, unknown>;
  const lines: [string, string][] = [];
  const add = (label: string, value: unknown) => {
    if (value !== undefined && value !== null && value !== '') lines.push([label, String(value)]);
  };
  const at = (label: string, value: unknown) => {
    if (typeof value === 'number') lines.push([label, `${relativeTime(value, now)} (${new Date(value).toISOString()})`]);
  };
  add('server', c.serverId);
  add('ip', c.ip);
  add('provider', c.provider);
  add('label', c.label);
  // Deadlines matter while they can still fire: a node's launch and boot ones only while it builds.
  if (detail.state.startsWith('building')) {
    at('launch deadline', c.launchDeadline);
    at('boot deadline', c.bootDeadline);
  }
  at('started', c.startedAt);
  const failure = c.failure as { reason?: string; message?: string } | undefined;
  if (failure) add('failure', `${failure.reason ?? 'failed'}: ${failure.message ?? ''}`);
  add('delete reason', c.deleteReason);
  if (typeof c.deleteAttempts === 'number' && c.deleteAttempts > 0) add('delete attempts', c.deleteAttempts);
  add('delete error', c.deleteError);
  if (detail.state.startsWith('deleting')) {
    at('delete again', c.retryDeleteAt);
    at('delete again if still listed', c.goneDeadline);
  }
  at('upload again', c.retryAt);
  add('comment', c.comment);
  add('job', c.job);
  if (typeof c.attempts === 'number' && c.attempts > 0) add('attempts', c.attempts);
  add('error', c.error);
  add('formats', Array.isArray(c.formats) && c.formats.length > 0 ? c.formats.join(',') : undefined);
  add('external id', c.externalId);
  return lines;
}

async function loaded(db: Database, id: string, now: number): Promise<ActorDetail> {
  const detail = await loadActor(db, id, now);
  if (!detail) throw new CommandFailure(`Actor ${id} not found.`);
  return detail;
}

export async function showActorCommand(db: Database, out: Output, id: string, options: { json?: boolean }, now = Date.now()): Promise<void> {
  const detail = await loaded(db, id, now);
  const context = contextLines(detail, now);
  if (options.json) {
    out.out(JSON.stringify({
      actor: detail.actorId,
      machine: detail.machine,
      state: detail.state,
      since: detail.since,
      owner: detail.owner ?? null,
      context: Object.fromEntries(context),
      timeline: detail.history.map((t) => ({ at: t.at, event: t.event, from: t.from ?? null, to: t.to, reason: t.reason ?? null })),
    }, null, 2));
    return;
  }
  const lines = [
    `${detail.actorId} (${detail.machine})`,
    `state: ${detail.state}, since ${relativeTime(detail.since, now)}`,
    ...(detail.owner ? [`owner: ${detail.owner}`] : []),
    ...context.map(([label, value]) => `${label}: ${value}`),
    '',
    detail.history.length > 0 ? 'timeline:' : 'timeline: (no transitions recorded)',
  ];
  out.out(lines.join('\n'));
  if (detail.history.length > 0) {
    out.out(renderTable(
      ['Time', 'Event', 'From', 'To', 'Reason'],
      detail.history.map((t) => [new Date(t.at).toISOString(), t.event, t.from ?? '', t.to, t.reason ?? '']),
    ));
  }
}

/** `why label:NAME`: why a label's nodes are (not) being launched, from the counts, the uploads and the configuration. */
const LABEL_PREFIX = 'label:';

export async function whyCommand(db: Database, config: NodepoolConfig, out: Output, id: string, options: { json?: boolean }, now = Date.now()): Promise<void> {
  if (id.startsWith(LABEL_PREFIX)) {
    const label = id.slice(LABEL_PREFIX.length);
    const paragraph = await whyLabel(db, config, label, now);
    out.out(options.json ? JSON.stringify({ label, why: paragraph }, null, 2) : paragraph);
    return;
  }
  const detail = await loaded(db, id, now);
  const paragraph = explainActor({
    actorId: detail.actorId,
    machine: detail.machine,
    state: detail.state,
    context: detail.context,
    history: detail.history,
    ...(detail.record && { record: detail.record }),
    config,
    ...(config.imagesDir !== undefined && { imagesDir: config.imagesDir }),
  } as Parameters<typeof explainActor>[0], now);
  out.out(options.json ? JSON.stringify({ actor: detail.actorId, state: detail.state, why: paragraph }, null, 2) : paragraph);
}

async function whyLabel(db: Database, config: NodepoolConfig, label: string, now: number): Promise<string> {
  const [counts, uploads] = await Promise.all([db.nodes.countBy(), db.uploads.list()]);
  const configured = new Set(config.providers.map((p) => p.name));
  return explainLabel({
    label,
    config,
    counts,
    readyUploads: uploads.filter((u) => u.state === 'ready').map((u) => ({ provider: u.provider, image: u.image })),
    bootsWithoutUpload: config.providers.filter(bootsFromImageName).map((p) => p.name),
    retiredProviders: [...new Set(counts.map((c) => c.provider))].filter((p) => !configured.has(p)),
  }, now);
}

/** Whether a provider's cloud boots a stand-in image before the first upload (its driver says; no call is made). */
function bootsFromImageName(provider: NodepoolConfig['providers'][number]): boolean {
  try {
    const driver = createDriver(provider);
    const boots = driver.capabilities.bootsFromImageName;
    void driver.close();
    return boots;
  } catch {
    return false;
  }
}
