/**
 * The explanation behind `nodepool why`: one paragraph in plain words of why
 * an actor is where it is and what it waits for, or why a label launches no
 * node. Pure: everything comes in as data (the snapshot's state and
 * context, the recorded transitions, the record, the configuration, the
 * counts) and a paragraph comes out, so the command, the web server and
 * the tests read the same words without a daemon or a database.
 *
 * Contexts are read field by field: a snapshot saved by an older version
 * may lack a field, and an explanation must never fail on one.
 */
import { parseActorId, providerNameOf } from '../../machines/actor-ids.js';
import type { BuilderContext } from '../../machines/builder.machine.js';
import { DELETE_FAILURES_BEFORE_ERROR, DELETE_RETRY_MS, type DeletionFields } from '../../machines/deletion.js';
import type { ImageBuildContext } from '../../machines/image-build.machine.js';
import { backoffMs, type ImageUploadContext } from '../../machines/image-upload.machine.js';
import { GONE_TIMEOUT_MS, registerRetryMs, type NodeContext, type NodeFailure } from '../../machines/node.machine.js';
import type { PoolContext } from '../../machines/pool.machine.js';
import { listDueAt, type ProviderContext } from '../../machines/provider.machine.js';
import { COUNTED_STATES, openPool, serversHeld } from '../allocation/index.js';
import { autoHoldComment } from '../core/auto-hold.js';
import type { NodepoolConfig } from '../config/types.js';
import type { StoredTransition } from '../db/actor-transitions.js';
import type { NodeCount } from '../db/nodes.js';
import type { ImageBuildRecord, ImageUploadRecord, NodeRecord, NodeState, SubnodeRecord } from '../db/records.js';
import { durationText, relativeTime } from './relative-time.js';

export type ActorMachine = 'node' | 'subnode' | 'build' | 'upload' | 'provider' | 'pool' | 'builder';

/** One actor as `nodepool why ID` sees it. */
export interface ActorView {
  actorId: string;
  machine: ActorMachine;
  /** The full state path, as the transitions record it: `building.waitingForServer`, `nodes, listing.idle`. */
  state: string;
  /** The persisted snapshot's context, as the machine defines it. */
  context: unknown;
  /** The actor's recorded transitions, oldest first. */
  history: readonly StoredTransition[];
  /** The node, sub-node, build or upload record, when there is one. */
  record?: NodeRecord | SubnodeRecord | ImageBuildRecord | ImageUploadRecord;
  config?: NodepoolConfig;
  /** Where builds write their files; the configuration's `images-dir` when absent. */
  imagesDir?: string;
}

/** One label as "why is no node of label X launching" sees it. */
export interface LabelView {
  label: string;
  config: NodepoolConfig;
  /** Node counts per provider, label and state, of every label: all of them take servers from the providers. */
  counts: readonly NodeCount[];
  /** The (provider, image) pairs with a ready upload. */
  readyUploads: readonly { provider: string; image: string }[];
  /** Providers whose driver boots a stand-in image before the first upload (the simulated cloud). */
  bootsWithoutUpload?: readonly string[];
  /** Servers the cloud's quota still allows per provider; undefined means unknown (max-servers alone bounds it). */
  quotaHeadroom?: Readonly<Record<string, number | undefined>>;
  /** Servers each provider holds now, nodes and sub-nodes; absent: estimated from `counts` as the allocation does. */
  providerServers?: Readonly<Record<string, number>>;
  /** Jobs queued for the label (from the demand sources). */
  demand?: number;
  /** Providers that left the configuration and whose nodes are finishing. */
  retiredProviders?: readonly string[];
}

// ---- reading a context ------------------------------------------------------------

/** A context or record read field by field; the keys are the type's own, so a renamed field fails to compile here. */
class Fields<T> {
  private readonly values: Record<string, unknown>;

  constructor(value: unknown) {
    this.values = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  }

  num(key: keyof T & string): number | undefined {
    const v = this.values[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  }

  str(key: keyof T & string): string | undefined {
    const v = this.values[key];
    return typeof v === 'string' && v !== '' ? v : undefined;
  }

  bool(key: keyof T & string): boolean {
    return this.values[key] === true;
  }

  strings(key: keyof T & string): string[] {
    const v = this.values[key];
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  }

  failure(key: keyof T & string): Partial<NodeFailure> | undefined {
    const v = this.values[key];
    if (typeof v !== 'object' || v === null) return undefined;
    const f = v as Record<string, unknown>;
    return {
      ...(typeof f.reason === 'string' && { reason: f.reason as NodeFailure['reason'] }),
      ...(typeof f.message === 'string' && { message: f.message }),
    };
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const quoted = (text: string) => `"${text}"`;

/** The part of a full state path below `top` (`deleting.deleteFailed` -> `deleteFailed`). */
function innerState(state: string, top: string): string | undefined {
  const region = state.split(', ').find((part) => part === top || part.startsWith(`${top}.`));
  return region?.split('.')[1];
}

/**
 * When the actor entered its current state, and from where: the last
 * transition into it, or else the record's state time; nothing when
 * neither is known (the history was pruned and there is no record).
 */
function entered(view: ActorView, now: number): string {
  const last = [...view.history].reverse().find((t) => t.to === view.state);
  if (last) return `, entered ${relativeTime(last.at, now)}${last.from ? ` from ${last.from}` : ''}`;
  const stateTime = new Fields<NodeRecord>(view.record).num('stateTime');
  return stateTime === undefined ? '' : ` (its record's state last changed ${relativeTime(stateTime, now)})`;
}

/** A deadline in words: what happens when it comes, and when; or that it passed and is acted on at the next tick. */
function deadline(at: number | undefined, now: number, ahead: (when: string) => string, passed: (ago: string) => string): string | undefined {
  if (at === undefined) return undefined;
  return at > now ? ahead(relativeTime(at, now)) : passed(relativeTime(at, now));
}

/**
 * The pause after a failed delete call, shared by nodes, builds and uploads
 * (machines/deletion.ts): the failures so far, the last message, and when
 * the call is made again.
 */
function deleteRetry(fields: Fields<DeletionFields>, what: string, now: number, extra = ''): string {
  const attempts = fields.num('deleteAttempts') ?? 0;
  const error = fields.str('deleteError') ?? 'unknown error';
  const retryAt = fields.num('retryDeleteAt');
  const pause = fields.num('deleteRetryMs') ?? DELETE_RETRY_MS;
  const level = attempts >= DELETE_FAILURES_BEFORE_ERROR ? ' (logged as an error: it keeps failing)' : '';
  const when =
    retryAt === undefined
      ? `after a pause of ${durationText(pause)} that starts at the next tick`
      : retryAt > now
        ? relativeTime(retryAt, now)
        : `at the next tick (the pause ended ${relativeTime(retryAt, now)})`;
  return `${what} failed${attempts > 0 ? ` ${plural(attempts, 'time')}` : ''}${level}, last with: ${error}. It is tried again ${when}${extra}.`;
}

// ---- nodes ------------------------------------------------------------------------

/** What each launch failure reason means for the node, in the operator's words (docs/behaviour.md, "The launch"). */
const FAILURE_MEANING: Record<NodeFailure['reason'], string> = {
  timeout: 'it was not ready in time',
  status: 'the cloud put its server in ERROR',
  network: 'its server could not be reached (no public address, or SSH did not answer or refused the connection)',
  auth: 'the SSH login was refused (user or key)',
  other: 'a step of the launch failed',
};

/** The launch failure with its reason and the cloud's (or the check's) message, then what the reason means. */
function failureText(failure: Partial<NodeFailure>): { what: string; meaning: string } {
  const reason = failure.reason ?? 'other';
  const meaning = FAILURE_MEANING[reason] ?? FAILURE_MEANING.other;
  return { what: `its launch failed (${reason}): ${failure.message ?? 'no message'}`, meaning: `A ${reason} failure means ${meaning}.` };
}

/** The job a hold comment names when nodepoold held the node after that job failed (src/core/auto-hold.ts). */
function autoHeldFor(comment: string | undefined, job: string | undefined): string | undefined {
  if (comment === undefined) return undefined;
  if (job !== undefined && comment === autoHoldComment(job)) return job;
  const prefix = autoHoldComment('');
  return comment.startsWith(prefix) && comment.length > prefix.length ? comment.slice(prefix.length) : undefined;
}

function explainNode(view: ActorView, now: number): string[] {
  const c = new Fields<NodeContext>(view.context);
  const row = new Fields<NodeRecord>(view.record);
  const parsed = parseActorId(view.actorId);
  const orphan = parsed?.kind === 'orphan';
  const id = c.num('nodeId') ?? (parsed ? Number(parsed.id) : undefined);
  const label = c.str('label') ?? row.str('label');
  const provider = c.str('provider') ?? row.str('provider');
  const target = c.str('target') ?? row.str('target');
  const serverId = c.str('serverId') ?? row.str('externalId') ?? (orphan ? parsed?.id : undefined);
  const ip = c.str('ip') ?? row.str('ip');
  const comment = c.str('comment') ?? row.str('comment');
  const job = c.str('job') ?? row.str('job');
  const server = serverId ? `server ${serverId}` : 'its server';
  const where = [label && `label ${label}`, provider && `provider ${provider}`, target && `target ${target}`].filter(Boolean).join(', ');
  const who = orphan
    ? `Leaked server ${serverId ?? '?'}${provider ? ` of provider ${provider}` : ''} (no row owns it; the cleanup handed it over for deletion)`
    : view.machine === 'subnode' || c.str('role') === 'sub'
      ? `Sub-node ${id ?? '?'}${c.num('parentId') !== undefined ? ` of node ${c.num('parentId')}` : ''}${where ? ` (${where})` : ''}`
      : `Node ${id ?? '?'}${where ? ` (${where})` : ''}`;
  const lines = [`${who} is in ${view.state}${entered(view, now)}.`];
  const [top = ''] = view.state.split('.');
  const inner = innerState(view.state, top);
  const launchDeadline = () =>
    deadline(
      c.num('launchDeadline'),
      now,
      (when) => `It fails with reason timeout if it is not ready by its launch deadline, ${when}.`,
      (ago) => `Its launch deadline passed ${ago}: it fails at the next tick.`,
    ) ?? '';
  const providerName = provider ? `provider ${provider}` : 'its provider';

  if (top === 'building') {
    switch (inner) {
      case 'creating':
        lines.push(`It waits for ${providerName} to create its server (one create call through the provider's queue; a repeated create takes the server that already carries the node's metadata).`);
        break;
      case 'waitingForServer':
        lines.push(`It waits for ${providerName}'s list of servers to show ${server} ACTIVE (ERROR fails the launch).`);
        break;
      case 'checkingSsh': {
        const boot = c.num('bootDeadline');
        const timeout = c.num('bootTimeoutMs');
        lines.push(`${server[0]?.toUpperCase()}${server.slice(1)} is ACTIVE at ${ip ?? 'an unknown address'}; it waits for an SSH login there to succeed, trying every 2 s.`);
        const bootTimeout = timeout !== undefined ? ` (boot-timeout ${durationText(timeout)} after ACTIVE)` : '';
        const bootLine = deadline(
          boot,
          now,
          (when) => `A login still refused or unanswered at its boot deadline, ${when}${bootTimeout}, fails the launch.`,
          (ago) => `Its boot deadline passed ${ago}${bootTimeout}: the check gives up and the launch fails.`,
        );
        if (bootLine) lines.push(bootLine);
        break;
      }
      case 'waitingForSubnodes':
        lines.push(`Its server is up at ${ip ?? 'an unknown address'}; it waits until its ${plural(c.num('subnodes') ?? 0, 'sub-node')} are ready (its provider tells it).`);
        break;
      case 'preparing': {
        const script = view.config?.labels.find((l) => l.name === label)?.readyScript;
        lines.push(`It writes the node-set files over SFTP to ${ip ?? 'its address'}${script ? ` and runs the ready script ${script}` : ' and runs the label\'s ready script, if any'}, which is given until the launch deadline.`);
        break;
      }
      case 'registering': {
        const attempts = c.num('registerAttempts') ?? 0;
        lines.push(`It waits for ${target ? `target ${target}` : 'its target'} to take it as an agent${attempts > 0 ? ` (attempt ${attempts + 1}; the last failed with: ${c.str('registerError') ?? 'unknown error'})` : ''}; it is not ready until the target does.`);
        break;
      }
      case 'registerFailed': {
        const attempts = c.num('registerAttempts') ?? 1;
        const retryAt = c.num('retryRegisterAt');
        const when = retryAt === undefined ? `after a pause of ${durationText(registerRetryMs(attempts))} that starts at the next tick` : relativeTime(retryAt, now);
        lines.push(`${target ? `Target ${target}` : 'Its target'} did not take it (${plural(attempts, 'failed attempt')}, last with: ${c.str('registerError') ?? 'unknown error'}); the call is tried again ${when}.`);
        break;
      }
      default:
        lines.push('It is starting its launch.');
    }
    lines.push(launchDeadline());
    if (c.bool('holdRequested')) lines.push(`A hold was asked for while it was building${comment ? ` (${quoted(comment)})` : ''}: it is held once launched instead of becoming ready.`);
    return lines.filter((l) => l !== '');
  }

  switch (top) {
    case 'failed': {
      const failure = failureText(c.failure('failure') ?? {});
      lines.push(`${capitalise(failure.what)}; it is deleted next.`, failure.meaning);
      return lines;
    }
    case 'test':
      lines.push(`It waits for ${target ? `target ${target}` : 'its target'}'s test job to finish on it: success makes it ready, failure deletes it. A test node that hears nothing is deleted by the periodic cleanup after 2 h.`);
      return lines;
    case 'ready':
      lines.push(`It is ready at ${ip ?? 'an unknown address'} (${server}) and waits for a job to start on it; a job event from the target makes it used. The periodic check logs in over SSH and deletes it if it does not answer.`);
      return lines;
    case 'used':
      lines.push(`${job ? `Job ${job}` : 'A job'} runs or ran on it; it waits for the job's finished event, which deletes it, or holds it for a person when the job failed and the job's hold-on-failure allows.`);
      return lines;
    case 'hold': {
      const heldFor = autoHeldFor(comment, job);
      lines.push(
        heldFor !== undefined
          ? `It is held for job ${heldFor}, which failed on it (${quoted(comment ?? '')}); it counts against that job's hold-on-failure.`
          : comment
            ? `It is held by a person: ${quoted(comment)}.`
            : 'It is held, with no comment.',
      );
      lines.push(`It stays until someone deletes it (nodepool delete ${id ?? 'ID'}), or until its server disappears from the provider.`);
      return lines;
    }
    case 'deleting':
      lines.push(...explainNodeDeletion(c, inner, server, target, now));
      return lines;
    case 'removed':
      lines.push('It is gone: its server no longer exists and its row and snapshot are removed.');
      return lines;
    default:
      return lines;
  }
}

function capitalise(text: string): string {
  return `${text[0]?.toUpperCase() ?? ''}${text.slice(1)}`;
}

function explainNodeDeletion(c: Fields<NodeContext>, inner: string | undefined, server: string, target: string | undefined, now: number): string[] {
  const failure = c.failure('failure');
  const reason = c.str('deleteReason');
  const lines =
    failure?.message !== undefined
      ? [`It is being deleted because ${failureText(failure).what}.`, failureText(failure).meaning]
      : [`It is being deleted: ${reason ?? 'no reason recorded'}.`];
  const targetName = target ? `target ${target}` : 'its target';
  switch (inner) {
    case 'waitingForPermission':
      lines.push('Deletes are turned off in this nodepoold (--no-deletes): it waits until they are allowed.');
      break;
    case 'unregistering':
      lines.push(`It waits for ${targetName} to remove its registration first, so that no agent outlives its server.`);
      break;
    case 'unregisterFailed':
      lines.push(deleteRetry(c, `Removing its registration with ${targetName}`, now));
      break;
    case 'deletingSubnodes':
      lines.push('Its sub-nodes go first: it waits until its provider says they are gone.');
      break;
    case 'deletingServer':
      lines.push(`It waits for the cloud to accept the delete call for ${server} (attempt ${(c.num('deleteAttempts') ?? 0) + 1}).`);
      break;
    case 'deleteFailed':
      lines.push(deleteRetry(c, `The delete call for ${server}`, now, ', unless the provider\'s list shows the server gone first'));
      break;
    case 'waitingUntilGone': {
      const gone = c.num('goneDeadline');
      const again = gone === undefined ? `if it is still listed ${durationText(GONE_TIMEOUT_MS)} after the call` : gone > now ? `if it is still listed ${relativeTime(gone, now)}` : 'at the next tick, since it is still listed';
      lines.push(`The cloud accepted the delete of ${server}; it waits until the provider's list no longer shows it, and deletes it again ${again}.`);
      break;
    }
    case 'confirmingGone':
      lines.push('No server id is known (the create failed or never answered): it waits for the provider\'s list; a server carrying its metadata is deleted, none means it is done.');
      break;
    case 'gone':
      lines.push('Its server is gone; its row and snapshot are removed next.');
      break;
    default:
      break;
  }
  return lines;
}

// ---- builds and uploads -------------------------------------------------------------

/**
 * The build's log file, `<images-dir>/<image>-<build id>.log`: the rule of
 * buildOutputBase and buildLogFile in src/builder/build-effects.ts, which
 * stands on a higher floor than this folder. The record's filename, when
 * set, is the output base the build used.
 */
function buildLogPath(filename: string | undefined, imagesDir: string | undefined, image: string | undefined, buildId: number | undefined): string | undefined {
  if (filename !== undefined) return `${filename}.log`;
  if (imagesDir === undefined || image === undefined || buildId === undefined) return undefined;
  return `${imagesDir.replace(/\/+$/, '')}/${image}-${buildId}.log`;
}

function explainBuild(view: ActorView, now: number): string[] {
  const c = new Fields<ImageBuildContext>(view.context);
  const row = new Fields<ImageBuildRecord>(view.record);
  const id = c.num('buildId') ?? row.num('id');
  const image = row.str('image');
  const builder = row.str('builder');
  const lines = [`Build ${id ?? '?'}${image ? ` of diskimage ${image}` : ''} is in ${view.state}${entered(view, now)}.`];
  const log = buildLogPath(row.str('filename'), view.imagesDir ?? view.config?.imagesDir, image, id);
  const logLine = log ? `Its log: ${log}.` : '';
  const [top = ''] = view.state.split('.');
  switch (top) {
    case 'queued':
      lines.push('It waits for a free build worker and for the build\'s lease (one build of a diskimage at a time).');
      break;
    case 'building': {
      const started = c.num('startedAt');
      const timeout = c.num('buildTimeoutMs');
      lines.push(`It runs disk-image-create${builder ? ` on ${builder}` : ''}${started !== undefined ? `, started ${relativeTime(started, now)}` : ''}.`);
      if (started !== undefined && timeout !== undefined) {
        lines.push(
          deadline(
            started + timeout,
            now,
            (when) => `It fails with reason timeout if not built by its deadline, ${when} (build timeout ${durationText(timeout)}).`,
            (ago) => `Its deadline passed ${ago} (build timeout ${durationText(timeout)}): it fails at the next tick.`,
          ) ?? '',
        );
      }
      lines.push(logLine);
      break;
    }
    case 'ready': {
      const formats = c.strings('formats').length > 0 ? c.strings('formats') : row.strings('formats');
      lines.push(`It is ready${formats.length > 0 ? ` with formats ${formats.join(', ')}` : ''}; it is uploaded to the providers that use its diskimage, and retention keeps the two newest ready builds.`);
      break;
    }
    case 'failed': {
      const failure = c.failure('failure');
      lines.push(`It failed (${failure?.reason ?? 'other'}): ${failure?.message ?? 'no message'}.`, logLine);
      lines.push(`It is kept (never made ready) until a newer build is ready and retention deletes it; the next build waits 10 minutes unless a person asks${image ? ` (nodepool image-build ${image})` : ''}.`);
      break;
    }
    case 'deleting':
      lines.push(explainImageDeletion(c, innerState(view.state, 'deleting'), 'its files', now));
      break;
    case 'removed':
      lines.push('It is gone: its files, record and snapshot are removed.');
      break;
    default:
      break;
  }
  return lines.filter((l) => l !== '');
}

function explainUpload(view: ActorView, now: number): string[] {
  const c = new Fields<ImageUploadContext>(view.context);
  const row = new Fields<ImageUploadRecord>(view.record);
  const id = c.num('uploadId') ?? row.num('id');
  const image = row.str('image');
  const provider = row.str('provider');
  const buildId = row.num('buildId');
  const what = [buildId !== undefined && `build ${buildId}`, image && `as image ${image}`, provider && `to provider ${provider}`].filter(Boolean).join(' ');
  const lines = [`Upload ${id ?? '?'}${what ? ` (${what})` : ''} is in ${view.state}${entered(view, now)}.`];
  const attempts = c.num('attempts') ?? 0;
  const maxAttempts = c.num('maxAttempts');
  const ofMax = maxAttempts !== undefined ? ` of ${maxAttempts}` : '';
  const error = c.str('error');
  const providerName = provider ? `provider ${provider}` : 'its provider';
  const [top = ''] = view.state.split('.');
  switch (top) {
    case 'queued':
      lines.push(`It waits for a free upload worker${attempts > 0 ? ` (${plural(attempts, 'earlier attempt')} failed, last with: ${error ?? 'unknown error'})` : ''}.`);
      break;
    case 'uploading':
      lines.push(`Its image is being uploaded to ${providerName} (attempt ${attempts + 1}${ofMax}); a repeated upload first adopts an image carrying its nodepool_upload_id.`);
      break;
    case 'failed': {
      if (maxAttempts !== undefined && attempts >= maxAttempts) {
        lines.push(`It failed for good after ${plural(attempts, 'attempt')}, last with: ${error ?? 'unknown error'}; it stays failed until a newer upload supersedes it and retention deletes it.`);
        break;
      }
      const retryAt = c.num('retryAt');
      const base = c.num('baseBackoffMs');
      const cap = c.num('maxBackoffMs');
      const pause = base !== undefined && cap !== undefined ? backoffMs(attempts, base, cap) : undefined;
      const when =
        retryAt !== undefined
          ? retryAt > now ? relativeTime(retryAt, now) : 'at the next tick'
          : `after a back-off${pause !== undefined ? ` of ${durationText(pause)}` : ''} that starts at the next tick`;
      const backoff = pause !== undefined && cap !== undefined ? ` (back-off ${durationText(pause)}, doubling up to ${durationText(cap)})` : '';
      lines.push(`Attempt ${attempts}${ofMax} failed with: ${error ?? 'unknown error'}. It is tried again ${when}${backoff}.`);
      break;
    }
    case 'ready': {
      const externalId = c.str('externalId') ?? row.str('externalId');
      const name = row.str('externalName');
      lines.push(`Its image is active in ${providerName}${externalId ? ` as ${externalId}` : ''}${name ? ` (${name})` : ''}; nodepoold boots new nodes from the newest ready upload, and retention keeps the two newest.`);
      break;
    }
    case 'deleting':
      lines.push(explainImageDeletion(c, innerState(view.state, 'deleting'), `its image in ${providerName}`, now));
      break;
    case 'removed':
      lines.push('It is gone: its image, record and snapshot are removed.');
      break;
    default:
      break;
  }
  return lines;
}

/** A build's or an upload's `deleting` region (machines/deletion.ts, deletingRegion). */
function explainImageDeletion(c: Fields<DeletionFields>, inner: string | undefined, thing: string, now: number): string {
  if (inner === 'deleteFailed') return deleteRetry(c, `Deleting ${thing}`, now);
  if (inner === 'gone') return `${capitalise(thing)} are gone; the record and snapshot are removed next.`;
  return `It waits for the delete of ${thing} to finish (attempt ${(c.num('deleteAttempts') ?? 0) + 1}).`;
}

// ---- the long-lived actors ----------------------------------------------------------

function explainProvider(view: ActorView, now: number): string[] {
  const c = new Fields<ProviderContext>(view.context);
  const name = c.str('provider') ?? providerNameOf(view.actorId) ?? view.actorId;
  const lines = [`Provider ${name} is in ${view.state}${entered(view, now)}. It lists all its servers in one call and hands each node its own.`];
  const listedAt = c.num('listedAt');
  lines.push(listedAt === undefined ? 'No list has succeeded yet.' : `Its last good list was taken ${relativeTime(listedAt, now)}.`);
  const failures = c.num('listFailures') ?? 0;
  if (failures > 0) lines.push(`The last ${plural(failures, 'list call')} failed.`);
  const interval = c.num('listIntervalMs');
  if (innerState(view.state, 'listing') === 'listing') {
    const started = c.num('listStartedAt');
    lines.push(`A list call is under way${started !== undefined ? `, started ${relativeTime(started, now)}` : ''}.`);
  } else if (interval !== undefined) {
    const due = listDueAt({
      listIntervalMs: interval,
      ...optional('listStartedAt', c.num('listStartedAt')),
      ...optional('idleListIntervalMs', c.num('idleListIntervalMs')),
      ...optional('busySince', c.num('busySince')),
      ...optional('latestWaitAt', c.num('latestWaitAt')),
    });
    const waiting = c.num('busySince') !== undefined ? 'some node waits for news of its server, so it lists often' : 'no node waits for its server, so it lists every 30 s';
    lines.push(`The next list is due ${Number.isFinite(due) && due > now ? relativeTime(due, now) : 'at the next tick'} (${waiting}).`);
  }
  const configured = view.config?.providers.find((p) => p.name === name);
  if (c.bool('draining') || (view.config !== undefined && configured === undefined)) {
    lines.push('It left the configuration and is draining: it starts no new node and lets its nodes finish, then stops.');
  } else if (configured !== undefined && !(configured.maxServers > 0)) {
    lines.push(`It is retired (max-servers ${configured.maxServers}): it launches nothing, and its nodes finish.`);
  }
  return lines;
}

/** `{ key: value }` when the value is there, `{}` otherwise: optional fields stay absent rather than undefined. */
function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

function explainPool(view: ActorView, now: number): string[] {
  const c = new Fields<PoolContext>(view.context);
  const lines = [`The pool is in ${view.state}${entered(view, now)}. It decides what to launch (the allocation) at least every ${durationText(c.num('allocateIntervalMs') ?? 10_000)}, and at once after a change.`];
  const started = c.num('allocationStartedAt');
  const interval = c.num('allocateIntervalMs');
  if (c.bool('stopping')) lines.push('It is stopping: no allocation starts any more.');
  else if (innerState(view.state, 'allocation') === 'allocating') lines.push(`An allocation is running${started !== undefined ? `, started ${relativeTime(started, now)}` : ''}.`);
  else if (c.bool('allocationWanted') || started === undefined) lines.push('A change asked for an allocation: it runs at the next tick.');
  else if (interval !== undefined) lines.push(`The last allocation ran ${relativeTime(started, now)}; the next runs ${started + interval > now ? relativeTime(started + interval, now) : 'at the next tick'}.`);
  return lines;
}

function explainBuilder(view: ActorView, now: number): string[] {
  const c = new Fields<BuilderContext>(view.context);
  const lines = [`The builder is in ${view.state}${entered(view, now)}. It surveys the database for builds and uploads that are due and claims them (${plural(c.num('buildWorkers') ?? 0, 'build worker')}, ${plural(c.num('uploadWorkers') ?? 0, 'upload worker')}).`];
  const last = c.num('lastSurveyAt');
  const interval = c.num('surveyIntervalMs');
  if (innerState(view.state, 'survey') === 'surveying') lines.push(`A survey is running${last !== undefined ? `, started ${relativeTime(last, now)}` : ''}.`);
  else if (last === undefined) lines.push('The first survey runs at the next tick.');
  else if (interval !== undefined) lines.push(`The last survey ran ${relativeTime(last, now)}; the next runs ${last + interval > now ? relativeTime(last + interval, now) : 'at the next tick'}.`);
  const failures = c.num('surveyFailures') ?? 0;
  if (failures > 0) lines.push(`The last ${plural(failures, 'survey')} failed.`);
  return lines;
}

/** Why the actor is where it is and what it waits for, in one paragraph. */
export function explainActor(input: ActorView, now: number): string {
  const lines = (() => {
    switch (input.machine) {
      case 'node':
      case 'subnode':
        return explainNode(input, now);
      case 'build':
        return explainBuild(input, now);
      case 'upload':
        return explainUpload(input, now);
      case 'provider':
        return explainProvider(input, now);
      case 'pool':
        return explainPool(input, now);
      case 'builder':
        return explainBuilder(input, now);
      default:
        return [`${input.actorId} is in ${input.state}${entered(input, now)}.`];
    }
  })();
  return lines.filter((l) => l !== '').join(' ');
}

// ---- labels ---------------------------------------------------------------------------

/** States whose nodes count against a label's demand (hold and delete do not), as the allocation counts them. */
const COUNTED: readonly NodeState[] = [...COUNTED_STATES];

/** Where one of the label's providers stands, in the order the allocation asks (src/allocation/demand.ts, capacity.ts). */
type Standing =
  | { name: string; kind: 'gone' }
  | { name: string; kind: 'retired'; maxServers: number }
  | { name: string; kind: 'no-image' }
  | { name: string; kind: 'full'; servers: number; maxServers: number }
  | { name: string; kind: 'quota'; headroom: number }
  | { name: string; kind: 'room'; free: number };

function standingText(s: Standing, image: string): string {
  switch (s.kind) {
    case 'gone':
      return `${s.name} left the configuration`;
    case 'retired':
      return `${s.name} is retired (max-servers ${s.maxServers})`;
    case 'no-image':
      return `${s.name} has no ready upload of image ${image}`;
    case 'full':
      return `${s.name} is at max-servers (it holds ${plural(s.servers, 'server')} of its max-servers ${s.maxServers})`;
    case 'quota':
      return `${s.name} is over its cloud quota (headroom ${s.headroom})`;
    case 'room':
      return `${s.name} has room for ${plural(s.free, 'server')}`;
  }
}

/** The providers' free servers and what bounds them, computed by the allocation's own rules (src/allocation/capacity.ts). */
function capacityOf(view: LabelView) {
  const input = {
    config: view.config,
    nodes: view.counts.map((c) => ({ ...c, target: '' })),
    usableImages: [],
    ...(view.providerServers && { providerServers: view.providerServers }),
    ...(view.quotaHeadroom && { quotaHeadroom: view.quotaHeadroom }),
  };
  return { pool: openPool(input), servers: serversHeld(input) };
}

function standingOf(view: LabelView, capacity: ReturnType<typeof capacityOf>, name: string, image: string): Standing {
  const provider = view.config.providers.find((p) => p.name === name);
  if (provider === undefined || view.retiredProviders?.includes(name)) return { name, kind: 'gone' };
  const { pool, servers } = capacity;
  const at = pool.index.get(name) as number;
  if (!pool.live[at]) return { name, kind: 'retired', maxServers: provider.maxServers };
  const usable = view.readyUploads.some((u) => u.provider === name && u.image === image) || (view.bootsWithoutUpload?.includes(name) ?? false);
  if (!usable) return { name, kind: 'no-image' };
  const free = pool.free[at] ?? 0;
  if (free > 0) return { name, kind: 'room', free };
  return pool.limit[at] === 'quota' ? { name, kind: 'quota', headroom: 0 } : { name, kind: 'full', servers: servers.get(name) ?? 0, maxServers: provider.maxServers };
}

/** Why no node of the label launches, or that nodes are being launched, in one paragraph. */
export function explainLabel(input: LabelView, _now: number): string {
  // Nothing about a label waits on a clock today; `now` keeps both explanations called alike.
  const label = input.config.labels.find((l) => l.name === input.label);
  const mine = input.counts.filter((n) => n.label === input.label);
  const count = (state: NodeState) => mine.filter((n) => n.state === state).reduce((sum, n) => sum + n.count, 0);
  const configured = new Set(input.config.providers.map((p) => p.name));
  const leftOver = [...new Set(mine.filter((n) => !configured.has(n.provider) || input.retiredProviders?.includes(n.provider)).map((n) => n.provider))];
  const leftOverLine = leftOver.map((p) => {
    const n = mine.filter((c) => c.provider === p).reduce((sum, c) => sum + c.count, 0);
    return `${plural(n, 'node')} of it ${n === 1 ? 'remains' : 'remain'} in provider ${p}, which left the configuration: ${n === 1 ? 'it finishes there and is not' : 'they finish there and are not'} replaced.`;
  });
  if (label === undefined) {
    return [`Label ${input.label} is not in the configuration: nothing launches it.`, ...leftOverLine].join(' ');
  }
  const queued = Math.max(0, Math.floor(input.demand ?? 0));
  const tally = `${COUNTED.map((s) => `${count(s)} ${s}`).join(', ')}${count('hold') > 0 ? `, ${count('hold')} hold` : ''}${count('delete') > 0 ? `, ${count('delete')} delete` : ''}`;
  const lines = [`Label ${label.name} (image ${label.image}, min-ready ${label.minReady}) has ${tally}; ${plural(queued, 'job')} queued for it.`];
  if (label.minReady < 0) {
    lines.push(`No node launches: the label is disabled (min-ready -1), so nothing launches it, not even sub-nodes.`);
    return [...lines, ...leftOverLine].join(' ');
  }
  const counted = COUNTED.reduce((sum, s) => sum + count(s), 0);
  const wanted = Math.max(0, queued + label.minReady - counted);
  if (wanted === 0) {
    lines.push(
      `No node launches because none is wanted: min-ready ${label.minReady} is met by ${counted} counted nodes (${count('ready')} ready, ${count('building')} building, ${count('used')} used, ${count('test')} test) and no queued job waits beyond them.`,
    );
    return [...lines, ...leftOverLine].join(' ');
  }
  const capacity = capacityOf(input);
  const standings = [...new Set(label.providers.map((p) => p.name))].map((name) => standingOf(input, capacity, name, label.image));
  const blocked = (kinds: Standing['kind'][]) => standings.filter((s) => kinds.includes(s.kind)).map((s) => standingText(s, label.image));
  const want = `${plural(wanted, 'node')} wanted (${queued} queued + min-ready ${label.minReady} - ${counted} counted)`;
  const live = standings.filter((s) => s.kind !== 'gone' && s.kind !== 'retired');
  const withImage = live.filter((s) => s.kind !== 'no-image');
  const withRoom = standings.filter((s): s is Extract<Standing, { kind: 'room' }> => s.kind === 'room');
  if (live.length === 0) {
    const why = blocked(['gone', 'retired']);
    lines.push(`No node launches although ${want}: none of its providers can launch${why.length > 0 ? `: ${why.join('; ')}` : ' (it lists none)'}.`);
  } else if (withImage.length === 0) {
    lines.push(`No node launches although ${want}: none of its providers has a ready image of ${label.image}: ${blocked(['no-image', 'gone', 'retired']).join('; ')}.`);
  } else if (input.config.targets.length === 0) {
    lines.push(`No node launches although ${want}: no target is configured to take its nodes.`);
  } else if (withRoom.length === 0) {
    lines.push(`No node launches although ${want}: every provider it may use is full: ${blocked(['full', 'quota', 'no-image', 'gone', 'retired']).join('; ')}. They wait until servers are freed.`);
  } else {
    lines.push(`Nodes are being launched: ${count('building')} building, ${want}, in ${withRoom.map((s) => `${s.name} (room for ${plural(s.free, 'server')})`).join(', ')}.`);
    const others = blocked(['full', 'quota', 'no-image', 'gone', 'retired']);
    if (others.length > 0) lines.push(`None go elsewhere: ${others.join('; ')}.`);
  }
  return [...lines, ...leftOverLine].join(' ');
}
