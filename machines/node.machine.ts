/**
 * One node, from request to removal (docs/behaviour.md, "Nodes").
 *
 *   building ─► (registering) ─► (test) ─► ready ─► used ─► deleting ─► removed
 *      │                    │        │         ▲
 *      └──── any failure ───┴── hold ┴─────────┘
 *
 * Pure: every effect (creating a server, the SSH check, writing the node-set
 * files, deleting a server) is a named actor supplied by src/runtime. The
 * server's status is not polled here: the provider lists all its servers in
 * one call and sends each node a `server.listed` event with its own server.
 * Deadlines are absolute times in the context and are checked on every event
 * that carries `now`, because pending `after` timers are not persisted.
 */
import { and, assign, fromPromise, not, setup, stateIn } from 'xstate';
import {
  deleteAttempt,
  deleteFailureOf,
  deleteRetryPause,
  deletionImplementations,
  deletionWantsTimeAt,
  errorMessage,
  nowOf,
  type DeleteFailure,
  type DeletionFields,
} from './deletion.js';
import { topStateOf } from './state-value.js';

export { DELETE_RETRY_MS } from './deletion.js';

export type NodeRole = 'primary' | 'sub';

/** Why a launch failed, as counted in metrics (`nodepool.launch.<p>.<i>.error.<reason>`). */
export type FailureReason = 'timeout' | 'status' | 'network' | 'auth' | 'other';

export interface NodeFailure {
  reason: FailureReason;
  message: string;
}

/** What the provider's server list says about this node's server. */
export interface ListedServer {
  id: string;
  status: string;
  publicV4?: string;
  publicV6?: string;
  privateV4?: string;
  fault?: string;
}

export interface NodeInput {
  /** The node's id, or for a sub-node the sub-node's id. */
  nodeId: number;
  role: NodeRole;
  /** A sub-node's primary node. */
  parentId?: number;
  /** When the node was requested (ms epoch): launch-timeout counts from here. */
  requestedAt: number;
  launchTimeoutMs: number;
  bootTimeoutMs: number;
  /** Sub-nodes the node waits for before it is prepared (primary only). */
  subnodes: number;
  /** The target runs an acceptance test job before the node is ready. */
  hasTestJob: boolean;
  /**
   * The target registers the node (a Jenkins agent) before it is ready, and
   * the registration is removed before its server is deleted. Absent in
   * snapshots saved before targets registered nodes.
   */
  registers?: boolean;
  ipv6Preferred: boolean;
  /** A server created before a restart, when the row already records it. */
  serverId?: string;
  /**
   * The provider it is launched in: the effects ask it whether there is
   * anything to reach over SSH before they read the row. Absent in
   * snapshots saved before it was recorded.
   */
  provider?: string;
  /**
   * What the node is, as its launch and deletion are counted (the metrics'
   * labels and statsd keys). Absent in snapshots saved before they were
   * recorded.
   */
  label?: string;
  target?: string;
  az?: string;
}

export interface NodeContext extends NodeInput, DeletionFields {
  launchDeadline: number;
  bootDeadline?: number;
  /** When to give up waiting for a deleted server to disappear and delete it again. */
  goneDeadline?: number;
  ip?: string;
  ipPrivate?: string;
  ipv6?: string;
  failure?: NodeFailure;
  /** Why the node is being deleted (failure, command, job finished, ...). */
  deleteReason?: string;
  /** The node's comment: the hold reason. */
  comment?: string;
  /** A hold asked for while the node was still building. */
  holdRequested: boolean;
  /** Its sub-nodes are deleted (a primary deletes them before its own server). */
  subnodesGone: boolean;
  /** The job that last ran on the node. */
  job?: string;
  /** Registering with the target began (so it may exist and must be removed), or was removed. */
  registration?: 'started' | 'removed';
  /** Failed registration calls so far; the pause before the next grows with them. */
  registerAttempts?: number;
  /** When a failed registration is tried again (ms epoch); undefined until the pause starts. */
  retryRegisterAt?: number;
  registerError?: string;
  /** The manager that took the node (assign-via-gearman): revoked from it at the deletion. */
  manager?: string;
}

/** A failed registration with the target, as the machine tells src (which logs it). */
export interface RegisterFailure {
  attempts: number;
  error: string;
  retryInMs: number;
}

/** The pause after the n-th failed registration: 2 s doubling, at most a minute. */
export function registerRetryMs(attempts: number): number {
  return Math.min(60_000, 2_000 * 2 ** Math.max(0, attempts - 1));
}

export type NodeEvent =
  | { type: 'server.listed'; now: number; server: ListedServer | null }
  | { type: 'tick'; now: number }
  | { type: 'subnodes.ready' }
  | { type: 'subnodes.gone' }
  | { type: 'job.started'; job: string }
  | { type: 'job.finished'; job: string; result: string; autoHoldComment?: string }
  | { type: 'test.finished'; success: boolean }
  | { type: 'hold'; reason?: string }
  | { type: 'delete'; reason?: string };

/** An effect's error, classified by the effect (src/runtime) where it knows why. */
export interface EffectError {
  reason?: FailureReason;
  message?: string;
}

export const GONE_TIMEOUT_MS = 120_000;

function failureOf(error: unknown, fallback: FailureReason): NodeFailure {
  const e = (error ?? {}) as EffectError;
  return { reason: e.reason ?? fallback, message: e.message ?? String(error) };
}

/** The address nodepool reaches the node on (docs/behaviour.md, launch step 6). */
function addressesOf(server: ListedServer, ipv6Preferred: boolean) {
  const ip = ipv6Preferred && server.publicV6 ? server.publicV6 : (server.publicV4 ?? server.publicV6);
  return { ip, ipPrivate: server.privateV4 ?? ip, ipv6: server.publicV6 };
}

const notProvided = (name: string) =>
  fromPromise<never, unknown>(async () => {
    throw new Error(`${name} is not provided`);
  });

const deletion = deletionImplementations<NodeContext, NodeEvent>();

/** Where a launched node goes: held if a hold was asked for meanwhile, else its target's test, else ready. */
const LAUNCHED = [
  { guard: ({ context }: { context: NodeContext }) => context.holdRequested, target: '#node.hold' },
  { guard: ({ context }: { context: NodeContext }) => context.hasTestJob, target: '#node.test' },
  { target: '#node.ready' },
] as const;

/** A job finished on the node: held for a person when src says so, deleted otherwise. */
const JOB_FINISHED = [
  { guard: 'autoHold', target: 'hold', actions: 'holdForJob' },
  { target: 'deleting', actions: 'deleteAfterJob' },
] as const;

export const nodeMachine = setup({
  types: {
    context: {} as NodeContext,
    events: {} as NodeEvent,
    input: {} as NodeInput,
  },
  actors: {
    /** Creates the server (or finds the one a previous attempt created); resolves with its id. */
    createServer: notProvided('createServer') as unknown as ReturnType<
      typeof fromPromise<{ serverId: string }, { nodeId: number; role: NodeRole }>
    >,
    /** Connects over SSH until it answers or the deadline passes. */
    checkSsh: notProvided('checkSsh') as unknown as ReturnType<
      typeof fromPromise<void, { nodeId: number; role: NodeRole; ip: string; deadline: number; provider?: string }>
    >,
    /** Writes the node-set files and runs the ready script (primary only), giving up at the deadline. */
    prepareNode: notProvided('prepareNode') as unknown as ReturnType<
      typeof fromPromise<void, { nodeId: number; deadline: number; ip?: string; provider?: string }>
    >,
    /** Registers the node with its target (a Jenkins agent, the test job started). */
    registerNode: notProvided('registerNode') as unknown as ReturnType<typeof fromPromise<{ manager?: string }, { nodeId: number; ip?: string }>>,
    /** Removes the node's registration with its target; one already gone counts as removed. */
    unregisterNode: notProvided('unregisterNode') as unknown as ReturnType<typeof fromPromise<void, { nodeId: number; manager?: string }>>,
    /** Asks the cloud to delete the server; resolves when the cloud accepted. */
    deleteServer: notProvided('deleteServer') as unknown as ReturnType<
      typeof fromPromise<void, { nodeId: number; role: NodeRole; serverId: string }>
    >,
  },
  actions: {
    /** Told to src so it can count and log the failure by reason. */
    reportLaunchFailure: (_, _params: { failure: NodeFailure }) => {},
    /** Told to src, which logs it: the target did not take the node; it is tried again after a pause. */
    reportRegisterFailure: (_, _params: RegisterFailure) => {},
    /** Told to src, which logs it: removing the node's registration failed; tried again after a pause. */
    reportUnregisterFailure: (_, _params: DeleteFailure) => {},
    /** The manager a target named when it took the node (assign-via-gearman). */
    recordManager: assign({
      manager: ({ event, context }) => (event as unknown as { output?: { manager?: string } }).output?.manager ?? context.manager,
    }),
    recordRegisterFailure: assign({
      registerAttempts: ({ context }) => (context.registerAttempts ?? 0) + 1,
      registerError: ({ event }) => errorMessage((event as { error?: unknown }).error),
    }),
    startRegisterRetry: assign({
      retryRegisterAt: ({ context, event }) => {
        const now = nowOf(event);
        return now === undefined ? undefined : now + registerRetryMs(context.registerAttempts ?? 1);
      },
    }),
    recordHold: assign({
      comment: ({ event, context }) => (event.type === 'hold' ? (event.reason ?? context.comment) : context.comment),
    }),
    recordLaunchTimeout: assign({
      failure: ({ context }) => ({
        reason: 'timeout' as const,
        message: `not ready within the launch timeout of ${Math.round(context.launchTimeoutMs / 1000)} s`,
      }),
    }),
    /** A failed job's node kept for a person (src decided that the job's hold-on-failure count allows it). */
    holdForJob: assign({
      job: ({ event, context }) => (event.type === 'job.finished' ? event.job : context.job),
      comment: ({ event, context }) => (event.type === 'job.finished' ? event.autoHoldComment : context.comment),
    }),
    /** Single use: a node whose job finished is deleted. */
    deleteAfterJob: assign({
      job: ({ event, context }) => (event.type === 'job.finished' ? event.job : context.job),
      deleteReason: ({ event, context }) => (event.type === 'job.finished' ? `job ${event.job} finished (${event.result})` : context.deleteReason),
    }),
    /** Its server is no longer in the provider's list (deleted behind our back, or lost by the cloud). */
    recordServerLost: assign({ deleteReason: 'server disappeared from the provider', serverId: undefined }),
    /** Deadlines start at the first event that carries the time. */
    startGoneDeadline: assign({
      goneDeadline: ({ event }) => {
        const now = nowOf(event);
        return now === undefined ? undefined : now + GONE_TIMEOUT_MS;
      },
    }),
    ...deletion.actions,
  },
  guards: {
    /** `--no-deletes` turns this off: nodes wait in `delete`. */
    deletesAllowed: () => true,
    serverDisappeared: ({ event }) => event.type === 'server.listed' && event.server === null,
    autoHold: ({ event }) => event.type === 'job.finished' && event.autoHoldComment !== undefined,
    registerRetryUnset: ({ context }) => context.retryRegisterAt === undefined,
    registerRetryDue: ({ context, event }) => {
      const now = nowOf(event);
      return now !== undefined && context.retryRegisterAt !== undefined && now >= context.retryRegisterAt;
    },
    /** The target may hold a registration of the node that is not removed yet. */
    mayBeRegistered: ({ context }) => context.registration === 'started',
    launchTimedOut: ({ context, event }) => 'now' in event && event.now > context.launchDeadline,
    goneDeadlineUnset: ({ context }) => context.goneDeadline === undefined,
    goneTimedOut: ({ context, event }) =>
      'now' in event && context.goneDeadline !== undefined && event.now > context.goneDeadline,
    ...deletion.guards,
  },
}).createMachine({
  id: 'node',
  context: ({ input }) => ({
    ...input,
    launchDeadline: input.requestedAt + input.launchTimeoutMs,
    deleteAttempts: 0,
    holdRequested: false,
    subnodesGone: input.subnodes === 0,
  }),
  initial: 'building',
  on: {
    delete: {
      guard: and([not(stateIn('#node.deleting')), not(stateIn('#node.removed'))]),
      target: '.deleting',
      actions: assign({ deleteReason: ({ event }) => event.reason ?? 'deleted by request' }),
    },
  },
  states: {
    /** The launch deadline covers every step: whatever a step waits for, the node fails when it passes. */
    building: {
      initial: 'decide',
      on: {
        hold: { actions: assign({ holdRequested: true, comment: ({ event, context }) => event.reason ?? context.comment }) },
        tick: { guard: 'launchTimedOut', target: '#node.failed', actions: 'recordLaunchTimeout' },
      },
      states: {
        /** A node restored after a restart may already know its server. */
        decide: {
          always: [{ guard: ({ context }) => context.serverId !== undefined, target: 'waitingForServer' }, { target: 'creating' }],
        },
        creating: {
          invoke: {
            src: 'createServer',
            input: ({ context }) => ({ nodeId: context.nodeId, role: context.role }),
            onDone: { target: 'waitingForServer', actions: assign({ serverId: ({ event }) => event.output.serverId }) },
            onError: { target: '#node.failed', actions: assign({ failure: ({ event }) => failureOf(event.error, 'other') }) },
          },
        },
        waitingForServer: {
          on: {
            'server.listed': [
              {
                guard: ({ event }) => event.server?.status === 'ERROR',
                target: '#node.failed',
                actions: assign({
                  failure: ({ event }) => ({
                    reason: 'status' as const,
                    message: `server went to ERROR${event.server?.fault ? `: ${event.server.fault}` : ''}`,
                  }),
                }),
              },
              {
                guard: ({ event, context }) =>
                  event.server?.status === 'ACTIVE' && !addressesOf(event.server, context.ipv6Preferred).ip,
                target: '#node.failed',
                actions: assign({ failure: { reason: 'network', message: 'server is ACTIVE but has no public address' } }),
              },
              {
                guard: ({ event }) => event.server?.status === 'ACTIVE',
                target: 'checkingSsh',
                actions: assign(({ event, context }) => ({
                  ...addressesOf(event.server as ListedServer, context.ipv6Preferred),
                  bootDeadline: event.now + context.bootTimeoutMs,
                })),
              },
              { guard: 'launchTimedOut', target: '#node.failed', actions: 'recordLaunchTimeout' },
            ],
          },
        },
        checkingSsh: {
          invoke: {
            src: 'checkSsh',
            input: ({ context }) => ({
              nodeId: context.nodeId,
              role: context.role,
              ip: context.ip as string,
              deadline: context.bootDeadline as number,
              ...(context.provider !== undefined && { provider: context.provider }),
            }),
            onDone: [
              { guard: ({ context }) => context.role === 'sub', target: '#node.ready' },
              { target: 'waitingForSubnodes' },
            ],
            onError: { target: '#node.failed', actions: assign({ failure: ({ event }) => failureOf(event.error, 'network') }) },
          },
        },
        waitingForSubnodes: {
          always: { guard: ({ context }) => context.subnodes === 0, target: 'preparing' },
          on: { 'subnodes.ready': 'preparing' },
        },
        preparing: {
          invoke: {
            src: 'prepareNode',
            input: ({ context }) => ({
              nodeId: context.nodeId,
              deadline: context.launchDeadline,
              ...(context.ip !== undefined && { ip: context.ip }),
              ...(context.provider !== undefined && { provider: context.provider }),
            }),
            onDone: [{ guard: ({ context }) => context.registers === true, target: 'registering' }, ...LAUNCHED],
            onError: { target: '#node.failed', actions: assign({ failure: ({ event }) => failureOf(event.error, 'other') }) },
          },
        },
        /** The target takes the node (a Jenkins agent); until it does, the node is not ready, and the call is tried again. */
        registering: {
          entry: assign({ registration: 'started' }),
          invoke: {
            src: 'registerNode',
            input: ({ context }) => ({ nodeId: context.nodeId, ...(context.ip !== undefined && { ip: context.ip }) }),
            onDone: LAUNCHED.map((t) => ({ ...t, actions: 'recordManager' as const })),
            onError: {
              target: 'registerFailed',
              actions: [
                'recordRegisterFailure',
                {
                  type: 'reportRegisterFailure',
                  params: ({ context }) => ({
                    attempts: context.registerAttempts ?? 1,
                    error: context.registerError ?? 'unknown error',
                    retryInMs: registerRetryMs(context.registerAttempts ?? 1),
                  }),
                },
              ],
            },
          },
        },
        /** The pause starts at the first tick after the failure; the launch deadline still applies. */
        registerFailed: {
          on: {
            tick: [
              { guard: 'launchTimedOut', target: '#node.failed', actions: 'recordLaunchTimeout' },
              { guard: 'registerRetryUnset', actions: 'startRegisterRetry' },
              { guard: 'registerRetryDue', target: 'registering' },
            ],
          },
          exit: assign({ retryRegisterAt: undefined }),
        },
      },
    },
    /** A failed launch: reported, then cleaned up like any deletion. */
    failed: {
      entry: {
        type: 'reportLaunchFailure',
        params: ({ context }) => ({ failure: context.failure ?? { reason: 'other', message: 'unknown failure' } }),
      },
      always: {
        target: 'deleting',
        actions: assign({ deleteReason: ({ context }) => `launch failed (${context.failure?.reason}): ${context.failure?.message}` }),
      },
    },
    test: {
      on: {
        'server.listed': { guard: 'serverDisappeared', target: 'deleting', actions: 'recordServerLost' },
        'test.finished': [{ guard: ({ event }) => event.success, target: 'ready' }, { target: 'deleting', actions: assign({ deleteReason: 'test job failed' }) }],
        hold: { target: 'hold', actions: 'recordHold' },
      },
    },
    ready: {
      on: {
        'server.listed': { guard: 'serverDisappeared', target: 'deleting', actions: 'recordServerLost' },
        'job.started': { target: 'used', actions: assign({ job: ({ event }) => event.job }) },
        // The start was missed (a listener that connected late): a finished job used the node all the same.
        'job.finished': JOB_FINISHED,
        hold: { target: 'hold', actions: 'recordHold' },
      },
    },
    used: {
      on: {
        'server.listed': { guard: 'serverDisappeared', target: 'deleting', actions: 'recordServerLost' },
        'job.finished': JOB_FINISHED,
        hold: { target: 'hold', actions: 'recordHold' },
      },
    },
    /** Kept for a person until deleted; a held node whose server vanished has nothing left to keep. */
    hold: {
      on: { 'server.listed': { guard: 'serverDisappeared', target: 'deleting', actions: 'recordServerLost' } },
    },
    deleting: {
      initial: 'waitingForPermission',
      states: {
        waitingForPermission: {
          always: { guard: 'deletesAllowed', target: 'deciding' },
          on: { tick: { guard: 'deletesAllowed', target: 'deciding' } },
        },
        deciding: {
          always: [
            // The target lets go of the node first: an agent whose server is gone would take jobs and fail them.
            { guard: 'mayBeRegistered', target: 'unregistering' },
            { guard: ({ context }) => !context.subnodesGone, target: 'deletingSubnodes' },
            { guard: ({ context }) => context.serverId === undefined, target: 'confirmingGone' },
            { target: 'deletingServer' },
          ],
        },
        unregistering: {
          invoke: {
            src: 'unregisterNode',
            input: ({ context }) => ({ nodeId: context.nodeId, ...(context.manager !== undefined && { manager: context.manager }) }),
            onDone: { target: 'deciding', actions: assign({ registration: 'removed' }) },
            onError: {
              target: 'unregisterFailed',
              actions: ['recordDeleteError', { type: 'reportUnregisterFailure', params: ({ context }) => deleteFailureOf(context) }],
            },
          },
          exit: 'countDeleteAttempt',
        },
        /** The target did not answer: the server waits, so that no registration outlives it. */
        unregisterFailed: deleteRetryPause('unregistering'),
        /** Sub-nodes go first (docs/behaviour.md, "Deleting"); the provider deletes them and says when they are gone. */
        deletingSubnodes: {
          on: { 'subnodes.gone': { target: 'deciding', actions: assign({ subnodesGone: true }) } },
        },
        deletingServer: deleteAttempt(
          {
            src: 'deleteServer',
            input: ({ context }: { context: NodeContext }) => ({ nodeId: context.nodeId, role: context.role, serverId: context.serverId as string }),
          },
          'waitingUntilGone',
        ),
        /** The cloud refused the delete: try again after a pause, unless the server is gone anyway. */
        deleteFailed: deleteRetryPause('deletingServer', {
          'server.listed': [{ guard: 'serverDisappeared' as const, target: 'gone' }],
        }),
        waitingUntilGone: {
          on: {
            'server.listed': [
              { guard: ({ event }) => event.server === null, target: 'gone' },
              { guard: 'goneDeadlineUnset', actions: 'startGoneDeadline' },
              { guard: 'goneTimedOut', target: 'deletingServer' },
            ],
            tick: [
              { guard: 'goneDeadlineUnset', actions: 'startGoneDeadline' },
              { guard: 'goneTimedOut', target: 'deletingServer' },
            ],
          },
          exit: assign({ goneDeadline: undefined }),
        },
        /**
         * No server id is known (the create failed or never answered): a
         * server carrying this node's metadata may still exist, and the
         * provider's list names it; delete it if it shows up, or finish when
         * a list confirms there is none.
         */
        confirmingGone: {
          on: {
            'server.listed': [
              { guard: ({ event }) => event.server === null, target: 'gone' },
              { target: 'deletingServer', actions: assign({ serverId: ({ event }) => event.server?.id }) },
            ],
          },
        },
        gone: { type: 'final' },
      },
      onDone: 'removed',
    },
    /** src removes the rows and the snapshot when a node reaches this state. */
    removed: { type: 'final' },
  },
});

/** The node row's state for a machine state (records.ts NodeState). */
export function nodeStateOf(value: unknown): 'building' | 'test' | 'ready' | 'used' | 'hold' | 'delete' {
  const top = topStateOf(value);
  switch (top) {
    case 'test':
    case 'ready':
    case 'used':
    case 'hold':
      return top;
    case 'deleting':
    case 'failed':
    case 'removed':
      return 'delete';
    default:
      return 'building';
  }
}

/** What the provider actor reads of one of its nodes: it never names the node's states itself. */
export interface NodeStanding {
  /** A primary waiting for its sub-nodes to be ready. */
  waitingForSubnodes: boolean;
  /** A primary being deleted that waits for its sub-nodes to go first. */
  deletingSubnodes: boolean;
  ready: boolean;
  /** Being deleted, or gone. */
  leaving: boolean;
  /** Building or deleting: it waits for news of its server, so the provider lists often. */
  waitsForServer: boolean;
}

export function nodeStandingOf(value: unknown): NodeStanding {
  const top = topStateOf(value);
  const inner = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[top ?? ''] : undefined;
  return {
    waitingForSubnodes: top === 'building' && inner === 'waitingForSubnodes',
    deletingSubnodes: top === 'deleting' && inner === 'deletingSubnodes',
    ready: top === 'ready',
    leaving: top === 'deleting' || top === 'removed' || top === 'failed',
    waitsForServer: top === 'building' || top === 'deleting',
  };
}

/**
 * A node actor for a server that no row owns (a leaked instance): it starts
 * knowing its server and is told to delete it at once, so a leak is deleted
 * by the same protocol as a node (docs/behaviour.md, "Leaked instances").
 */
export function orphanInput(nodeId: number, serverId: string, now: number): NodeInput {
  return {
    nodeId,
    role: 'primary',
    requestedAt: now,
    launchTimeoutMs: Number.MAX_SAFE_INTEGER - now,
    bootTimeoutMs: 0,
    subnodes: 0,
    hasTestJob: false,
    ipv6Preferred: false,
    serverId,
  };
}

/**
 * When a node next needs to hear the time (a `tick`), so that its provider
 * passes the time only to the nodes something is due for: a building node
 * once its launch deadline has passed, a deleting one when its pause or its
 * wait for the server to go ends. Undefined when no deadline is pending (a
 * ready node waits for events, not for time).
 */
export function nodeWantsTimeAt(snapshot: { value: unknown; context: NodeContext }): number | undefined {
  const top = topStateOf(snapshot.value);
  if (top === 'building') {
    // A failed registration's pause starts at the first tick after it, and ends at its retry time.
    if ((snapshot.value as Record<string, unknown>).building === 'registerFailed') return Math.min(snapshot.context.retryRegisterAt ?? 0, snapshot.context.launchDeadline + 1);
    return snapshot.context.launchDeadline + 1;
  }
  if (top !== 'deleting') return undefined;
  const inner = (snapshot.value as Record<string, unknown>).deleting;
  // Removing the registration pauses after a failure as deleting the server does.
  return deletionWantsTimeAt(inner === 'unregisterFailed' ? 'deleteFailed' : inner, snapshot.context);
}
