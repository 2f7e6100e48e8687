import { describe, expect, it } from 'vitest';
import type { BuilderContext } from '../../machines/builder.machine.js';
import type { ImageBuildContext } from '../../machines/image-build.machine.js';
import type { ImageUploadContext } from '../../machines/image-upload.machine.js';
import type { NodeContext } from '../../machines/node.machine.js';
import type { PoolContext } from '../../machines/pool.machine.js';
import type { ProviderContext } from '../../machines/provider.machine.js';
import { autoHoldComment } from '../../src/core/auto-hold.js';
import type { Label, NodepoolConfig, Provider } from '../../src/config/types.js';
import type { StoredTransition } from '../../src/db/actor-transitions.js';
import type { NodeCount } from '../../src/db/nodes.js';
import type { ImageBuildRecord, ImageUploadRecord, NodeRecord } from '../../src/db/records.js';
import { durationText, relativeTime } from '../../src/inspection/relative-time.js';
import { explainActor, explainLabel, type ActorView, type LabelView } from '../../src/inspection/why.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const S = 1000;
const M = 60 * S;
const H = 60 * M;

// ---- contexts, typed as the machines define them ------------------------------------

function nodeContext(overrides: Partial<NodeContext> = {}): NodeContext {
  return {
    nodeId: 12,
    role: 'primary',
    requestedAt: NOW - 2 * M,
    launchTimeoutMs: 3600 * S,
    bootTimeoutMs: 120 * S,
    subnodes: 0,
    hasTestJob: false,
    ipv6Preferred: false,
    provider: 'east',
    label: 'small',
    target: 'jenkins1',
    launchDeadline: NOW + 58 * M,
    deleteAttempts: 0,
    holdRequested: false,
    subnodesGone: true,
    ...overrides,
  };
}

function nodeRecord(overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id: 12,
    provider: 'east',
    label: 'small',
    target: 'jenkins1',
    manager: 'np1',
    az: null,
    hostname: 'small-east-12',
    nodename: 'small-east-12',
    externalId: null,
    ip: null,
    ipPrivate: null,
    uploadId: 9,
    state: 'building',
    stateTime: NOW - 2 * M,
    comment: null,
    job: null,
    createdAt: NOW - 2 * M,
    ...overrides,
  };
}

function buildContext(overrides: Partial<ImageBuildContext> = {}): ImageBuildContext {
  return { buildId: 7, buildTimeoutMs: 6 * H, formats: [], deleteAttempts: 0, ...overrides };
}

const buildRecord: ImageBuildRecord = {
  id: 7,
  image: 'debian',
  builder: 'builder1',
  filename: null,
  formats: [],
  withdrawnFrom: [],
  state: 'building',
  stateTime: NOW - 12 * M,
  createdAt: NOW - 13 * M,
};

function uploadContext(overrides: Partial<ImageUploadContext> = {}): ImageUploadContext {
  return { uploadId: 9, maxAttempts: 5, baseBackoffMs: 30 * S, maxBackoffMs: 15 * M, attempts: 0, deleteAttempts: 0, ...overrides };
}

const uploadRecord: ImageUploadRecord = {
  id: 9,
  buildId: 7,
  provider: 'east',
  image: 'debian',
  externalName: 'template-debian-1714560000',
  externalId: null,
  state: 'failed',
  stateTime: NOW - 3 * M,
  createdAt: NOW - 20 * M,
};

function transition(to: string, at: number, from?: string): StoredTransition {
  return { id: 1, actorId: 'node-12', machine: 'node', at, event: 'tick', to, ...(from !== undefined && { from }) };
}

// ---- configuration ----------------------------------------------------------------------

function provider(name: string, maxServers = 10): Provider {
  return {
    name,
    driver: 'fake',
    maxServers,
    rate: 1,
    availabilityZones: [],
    bootTimeout: 120,
    launchTimeout: 3600,
    networks: [],
    ipv6Preferred: false,
    templateHostname: 'template-{image.name}-{timestamp}',
    imageType: 'qcow2',
    cleanFloatingIps: false,
    images: [{ name: 'debian', diskimage: 'debian', minRam: 1024, pause: false, username: 'jenkins', userHome: '/home/jenkins', privateKey: '/k', meta: {} }],
  };
}

function config(labels: Label[], providers: Provider[]): NodepoolConfig {
  return {
    imagesDir: '/opt/nodepool_dib',
    cron: { cleanup: '27 */6 * * *', check: '*/15 * * * *' },
    zmqPublishers: [],
    gearmanServers: [],
    gearmanPollIntervalS: 10,
    actorHistoryHours: 24,
    providerLeaseSeconds: 20,
    providerLeaseRenewSeconds: 5,
    labels,
    providers,
    targets: [{ name: 'jenkins1', hostname: '{label.name}-{provider.name}-{node_id}', subnodeHostname: 'sub-{subnode_id}', rate: 1, assignViaGearman: false }],
    diskimages: [],
    webapp: { listen: '127.0.0.1', port: 8005 },
  };
}

const small = (overrides: Partial<Label> = {}): Label => ({ name: 'small', image: 'debian', minReady: 2, subnodes: 0, providers: [{ name: 'east' }], ...overrides });

function labelView(overrides: Partial<LabelView> = {}): LabelView {
  return {
    label: 'small',
    config: config([small()], [provider('east')]),
    counts: [],
    readyUploads: [{ provider: 'east', image: 'debian' }],
    ...overrides,
  };
}

const count = (state: NodeCount['state'], n: number, providerName = 'east', label = 'small'): NodeCount => ({ provider: providerName, label, state, count: n });

const node = (state: string, context: NodeContext, extra: Partial<ActorView> = {}): ActorView => ({
  actorId: 'node-12',
  machine: 'node',
  state,
  context,
  history: [],
  ...extra,
});

// ---- the situations -------------------------------------------------------------------------

interface Situation {
  title: string;
  paragraph: () => string;
  says: (string | RegExp)[];
}

const situations: Situation[] = [
  {
    title: 'a node waiting for its server to be ACTIVE names the server and the launch deadline',
    paragraph: () =>
      explainActor(
        node('building.waitingForServer', nodeContext({ serverId: 'srv-1', launchDeadline: NOW + 250 * S }), {
          history: [transition('building.creating', NOW - 6 * M), transition('building.waitingForServer', NOW - 5 * M, 'building.creating')],
        }),
        NOW,
      ),
    says: ['Node 12', 'label small', 'provider east', 'building.waitingForServer', 'entered 5m ago from building.creating', 'server srv-1 ACTIVE', 'launch deadline, in 4m10s'],
  },
  {
    title: 'a node past its launch deadline fails at the next tick',
    paragraph: () => explainActor(node('building.waitingForServer', nodeContext({ serverId: 'srv-1', launchDeadline: NOW - 3 * S })), NOW),
    says: ['launch deadline passed 3s ago', 'fails at the next tick'],
  },
  {
    title: 'a node checking SSH names its address and the boot deadline coming',
    paragraph: () =>
      explainActor(node('building.checkingSsh', nodeContext({ serverId: 'srv-1', ip: '203.0.113.5', bootDeadline: NOW + 12 * S })), NOW),
    says: ['Server srv-1 is ACTIVE at 203.0.113.5', 'SSH login', 'boot deadline, in 12s', 'boot-timeout 2m after ACTIVE'],
  },
  {
    title: 'a node whose SSH login was refused is deleted with the failure named',
    paragraph: () =>
      explainActor(
        node(
          'deleting.deletingServer',
          nodeContext({
            serverId: 'srv-1',
            ip: '203.0.113.5',
            failure: { reason: 'network', message: 'connect ECONNREFUSED 203.0.113.5:22' },
            deleteReason: 'launch failed (network): connect ECONNREFUSED 203.0.113.5:22',
          }),
        ),
        NOW,
      ),
    says: ['its launch failed (network): connect ECONNREFUSED 203.0.113.5:22', 'SSH did not answer or refused', 'delete call for server srv-1 (attempt 1)'],
  },
  {
    title: 'a registration the target refused is tried again after its pause',
    paragraph: () =>
      explainActor(node('building.registerFailed', nodeContext({ ip: '203.0.113.5', registerAttempts: 2, registerError: 'HTTP 503', retryRegisterAt: NOW + 4 * S })), NOW),
    says: ['Target jenkins1 did not take it', '2 failed attempts', 'HTTP 503', 'tried again in 4s'],
  },
  {
    title: 'a delete that keeps failing names its attempts, the error and the retry time',
    paragraph: () =>
      explainActor(
        node(
          'deleting.deleteFailed',
          nodeContext({ serverId: 'srv-1', deleteReason: 'deleted by command', deleteAttempts: 3, deleteError: 'Conflict: server is locked', retryDeleteAt: NOW + 6 * S }),
        ),
        NOW,
      ),
    says: ['deleted by command', 'delete call for server srv-1 failed 3 times', 'logged as an error', 'Conflict: server is locked', 'tried again in 6s'],
  },
  {
    title: 'a deleted server still listed is deleted again at its deadline',
    paragraph: () => explainActor(node('deleting.waitingUntilGone', nodeContext({ serverId: 'srv-1', deleteReason: 'deleted by command', goneDeadline: NOW + 90 * S })), NOW),
    says: ['accepted the delete of server srv-1', 'no longer shows it', 'still listed in 1m30s'],
  },
  {
    title: 'a node held by a person shows the comment',
    paragraph: () =>
      explainActor(node('hold', nodeContext({ serverId: 'srv-1', comment: 'debugging the kernel panic' }), { record: nodeRecord({ state: 'hold' }) }), NOW),
    says: ['held by a person', '"debugging the kernel panic"', 'nodepool delete 12'],
  },
  {
    title: 'a node held for the job that failed on it',
    paragraph: () =>
      explainActor(node('hold', nodeContext({ serverId: 'srv-1', job: 'gate-nova-python27', comment: autoHoldComment('gate-nova-python27') })), NOW),
    says: ['held for job gate-nova-python27', 'which failed on it', autoHoldComment('gate-nova-python27'), "hold-on-failure"],
  },
  {
    title: 'a node used by a job waits for the job to finish',
    paragraph: () => explainActor(node('used', nodeContext({ serverId: 'srv-1', ip: '203.0.113.5', job: 'gate-nova-pep8' })), NOW),
    says: ['Job gate-nova-pep8 runs or ran on it', "job's finished event", 'deletes it'],
  },
  {
    title: 'a ready node waits for a job, its address and server from the record',
    paragraph: () =>
      explainActor(node('ready', nodeContext(), { record: nodeRecord({ state: 'ready', externalId: 'srv-9', ip: '198.51.100.7', stateTime: NOW - 42 * M }) }), NOW),
    says: ['ready at 198.51.100.7 (server srv-9)', 'waits for a job', "record's state last changed 42m ago"],
  },
  {
    title: 'a sub-node names its primary',
    paragraph: () => explainActor({ ...node('building.creating', nodeContext({ nodeId: 5, role: 'sub', parentId: 12 })), actorId: 'subnode-5', machine: 'subnode' }, NOW),
    says: ['Sub-node 5 of node 12', 'create its server'],
  },
  {
    title: 'a failed build names its failure and its log file',
    paragraph: () =>
      explainActor(
        {
          actorId: 'build-7',
          machine: 'build',
          state: 'failed',
          context: buildContext({ startedAt: NOW - 40 * M, failure: { reason: 'exit', message: 'disk-image-create exited with 1' } }),
          history: [],
          record: { ...buildRecord, state: 'failed' },
          imagesDir: '/opt/nodepool_dib/',
        },
        NOW,
      ),
    says: ['Build 7 of diskimage debian', 'failed (exit): disk-image-create exited with 1', 'Its log: /opt/nodepool_dib/debian-7.log', 'nodepool image-build debian'],
  },
  {
    title: 'a running build names its deadline and its log (images-dir from the configuration)',
    paragraph: () =>
      explainActor(
        {
          actorId: 'build-7',
          machine: 'build',
          state: 'building',
          context: buildContext({ startedAt: NOW - 12 * M }),
          history: [],
          record: buildRecord,
          config: config([small()], [provider('east')]),
        },
        NOW,
      ),
    says: ['It runs disk-image-create on builder1, started 12m ago', 'deadline, in 5h48m', 'build timeout 6h', '/opt/nodepool_dib/debian-7.log'],
  },
  {
    title: 'a failed upload is retried after its back-off',
    paragraph: () =>
      explainActor(
        {
          actorId: 'upload-9',
          machine: 'upload',
          state: 'failed',
          context: uploadContext({ attempts: 2, error: 'Image upload timed out', failedAt: NOW - 10 * S, retryAt: NOW + 50 * S }),
          history: [],
          record: uploadRecord,
        },
        NOW,
      ),
    says: ['Upload 9 (build 7 as image debian to provider east)', 'Attempt 2 of 5 failed with: Image upload timed out', 'tried again in 50s', 'back-off 1m, doubling up to 15m'],
  },
  {
    title: 'an upload out of attempts stays failed',
    paragraph: () =>
      explainActor({ actorId: 'upload-9', machine: 'upload', state: 'failed', context: uploadContext({ attempts: 5, error: 'quota exceeded' }), history: [], record: uploadRecord }, NOW),
    says: ['failed for good after 5 attempts', 'quota exceeded'],
  },
  {
    title: 'a provider names its last list and the next',
    paragraph: () => {
      const context: ProviderContext = { provider: 'east', listIntervalMs: 5 * S, listStartedAt: NOW - 20 * S, listedAt: NOW - 20 * S, listFailures: 2, draining: false, newWaits: false };
      return explainActor({ actorId: 'provider-east', machine: 'provider', state: 'nodes, listing.idle', context, history: [] }, NOW);
    },
    says: ['Provider east', 'last good list was taken 20s ago', '2 list calls failed', 'next list is due in 10s'],
  },
  {
    title: 'the pool names its next allocation',
    paragraph: () => {
      const context: PoolContext = { providers: [], allocateIntervalMs: 10 * S, allocationStartedAt: NOW - 4 * S, allocationWanted: false, stopping: false };
      return explainActor({ actorId: 'pool', machine: 'pool', state: 'providers, allocation.idle', context, history: [] }, NOW);
    },
    says: ['last allocation ran 4s ago', 'next runs in 6s'],
  },
  {
    title: 'the builder names its survey',
    paragraph: () => {
      const context: BuilderContext = { buildWorkers: 1, uploadWorkers: 4, surveyIntervalMs: 10 * S, lastSurveyAt: NOW - 2 * S, surveyFailures: 0 };
      return explainActor({ actorId: 'builder', machine: 'builder', state: 'supervision, survey.surveying', context, history: [] }, NOW);
    },
    says: ['1 build worker, 4 upload workers', 'survey is running, started 2s ago'],
  },
  {
    title: 'a snapshot missing its fields still gets an explanation',
    paragraph: () => explainActor({ actorId: 'node-3', machine: 'node', state: 'deleting.deleteFailed', context: { deleteAttempts: 'x' }, history: [] }, NOW),
    says: ['Node 3 is in deleting.deleteFailed', 'no reason recorded', 'pause of 10s that starts at the next tick'],
  },
  // ---- labels
  {
    title: 'a label whose image has no ready upload',
    paragraph: () => explainLabel(labelView({ readyUploads: [] }), NOW),
    says: ['No node launches although 2 nodes wanted', 'none of its providers has a ready image of debian', 'east has no ready upload of image debian'],
  },
  {
    title: 'a provider with a stand-in image launches before any upload',
    paragraph: () => explainLabel(labelView({ readyUploads: [], bootsWithoutUpload: ['east'] }), NOW),
    says: ['Nodes are being launched: 0 building', 'east (room for 10 servers)'],
  },
  {
    title: 'a label whose only provider is at max-servers (every state counts, sub-nodes too)',
    paragraph: () =>
      explainLabel(
        labelView({
          config: config([small(), { ...small(), name: 'multi', subnodes: 2 }], [provider('east', 10)]),
          counts: [count('hold', 2), count('delete', 2), count('used', 2, 'east', 'multi')],
        }),
        NOW,
      ),
    says: ['every provider it may use is full', 'east is at max-servers (it holds 10 servers of its max-servers 10)', 'wait until servers are freed', '2 hold, 2 delete'],
  },
  {
    title: 'a label whose provider is over its cloud quota',
    paragraph: () => explainLabel(labelView({ quotaHeadroom: { east: 0 } }), NOW),
    says: ['every provider it may use is full', 'east is over its cloud quota (headroom 0)'],
  },
  {
    title: 'a disabled label',
    paragraph: () => explainLabel(labelView({ config: config([small({ minReady: -1 })], [provider('east')]) }), NOW),
    says: ['min-ready -1', 'disabled', 'not even sub-nodes'],
  },
  {
    title: 'a label whose min-ready is met',
    paragraph: () => explainLabel(labelView({ counts: [count('ready', 1), count('building', 1), count('hold', 3)] }), NOW),
    says: ['none is wanted', 'min-ready 2 is met by 2 counted nodes', '1 ready, 1 building', 'no queued job waits'],
  },
  {
    title: 'a label whose only provider left the configuration',
    paragraph: () =>
      explainLabel(
        labelView({ config: config([small({ providers: [{ name: 'old' }] })], [provider('east')]), counts: [count('ready', 1, 'old')], retiredProviders: ['old'] }),
        NOW,
      ),
    says: ['none of its providers can launch', 'old left the configuration', '1 node of it remains in provider old', 'it finishes there'],
  },
  {
    title: 'a label whose only provider is retired with max-servers -1',
    paragraph: () => explainLabel(labelView({ config: config([small()], [provider('east', -1)]) }), NOW),
    says: ['none of its providers can launch', 'east is retired (max-servers -1)'],
  },
  {
    title: 'a label being launched, with queued demand and a full second provider',
    paragraph: () =>
      explainLabel(
        labelView({
          config: config([small({ providers: [{ name: 'east' }, { name: 'west' }] })], [provider('east'), provider('west', 1)]),
          counts: [count('building', 2), count('ready', 1, 'west')],
          readyUploads: [{ provider: 'east', image: 'debian' }, { provider: 'west', image: 'debian' }],
          demand: 3,
        }),
        NOW,
      ),
    says: ['Nodes are being launched: 2 building', '2 nodes wanted (3 queued + min-ready 2 - 3 counted)', 'east (room for 8 servers)', 'west is at max-servers (it holds 1 server of its max-servers 1)'],
  },
];

describe('explainActor and explainLabel', () => {
  it.each(situations)('$title', ({ paragraph, says }) => {
    const text = paragraph();
    for (const phrase of says) {
      if (typeof phrase === 'string') expect(text).toContain(phrase);
      else expect(text).toMatch(phrase);
    }
    // One paragraph: no line breaks, no empty sentence, no undefined leaking through.
    expect(text).not.toMatch(/\n|undefined|NaN|\.\s*\./);
  });

  it('covers at least fourteen situations', () => {
    expect(situations.length).toBeGreaterThanOrEqual(14);
  });
});

describe('relativeTime', () => {
  it.each([
    [NOW + 4 * M + 10 * S, 'in 4m10s'],
    [NOW - 5 * M, '5m ago'],
    [NOW + 12 * S, 'in 12s'],
    [NOW - (2 * H + 3 * M + 20 * S), '2h3m ago'],
    [NOW + 2 * H, 'in 2h'],
    [NOW - (3 * 24 * H + 4 * H), '3d4h ago'],
    [NOW + 400, 'now'],
    [NOW - 59_600, '1m ago'],
  ])('%s is %s', (at, text) => {
    expect(relativeTime(at, NOW)).toBe(text);
  });

  it('spans without a direction', () => {
    expect(durationText(90 * S)).toBe('1m30s');
    expect(durationText(-6 * H)).toBe('6h');
  });
});
