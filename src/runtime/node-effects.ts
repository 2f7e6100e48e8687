import { fromPromise } from 'xstate';
import type { Label, NodepoolConfig, ProviderImage } from '../config/types.js';
import type { Database, NodeRecord, SubnodeRecord } from '../db/index.js';
import { DriverError } from '../drivers/driver.js';
import {
  buildNodeSetFiles,
  checkSsh,
  generateNodeSetKeyPair,
  nodepoolEnvironment,
  runReadyScript,
  writeNodeSetFiles,
  type SshConnectionOptions,
} from '../ssh/index.js';
import type { EffectError, FailureReason, NodeRole } from '../../machines/node.machine.js';
import { nodeMachine } from '../../machines/node.machine.js';
import type { Clock } from './clock.js';
import type { ProviderRuntime } from './provider-runtime.js';
import { daemonLeaseOwner, nodeDeleteLease, NODE_DELETE_LEASE_TTL_MS } from './node-lease.js';
import { serverMetadata } from './server-metadata.js';

/** An effect failure the node machine can classify (launch failures are counted by reason). */
export class NodeEffectError extends Error implements EffectError {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'NodeEffectError';
  }
}

export interface NodeEffectDeps {
  db: Database;
  /** The configuration in force now (it changes on reload). */
  config: () => NodepoolConfig;
  provider: (name: string) => ProviderRuntime | undefined;
  clock: Clock;
  /** `--no-deletes`. */
  deletesAllowed: () => boolean;
  /** Who this process is in the lease table (`delete --now` takes the same leases); default nodepoold:<host>. */
  leaseOwner?: string;
}

interface NodeSetting {
  /** The node's row; for a sub-node, its primary's. */
  row: NodeRecord;
  /** The sub-node's own row, when the effect is a sub-node's. */
  subnode?: SubnodeRecord;
  runtime: ProviderRuntime;
  label: Label;
  image: ProviderImage;
}

/** The node's row and the configuration it was launched under, or a clear failure. */
async function settingOf(deps: NodeEffectDeps, nodeId: number, role: NodeRole = 'primary'): Promise<NodeSetting> {
  const subnode = role === 'sub' ? await deps.db.subnodes.get(nodeId) : undefined;
  if (role === 'sub' && !subnode) throw new NodeEffectError('other', `sub-node ${nodeId} has no row`);
  const row = await deps.db.nodes.get(subnode ? subnode.nodeId : nodeId);
  if (!row) throw new NodeEffectError('other', `node ${subnode ? subnode.nodeId : nodeId} has no row`);
  const runtime = deps.provider(row.provider);
  if (!runtime) throw new NodeEffectError('other', `provider ${row.provider} is not running`);
  const label = deps.config().labels.find((l) => l.name === row.label);
  if (!label) throw new NodeEffectError('other', `label ${row.label} is no longer configured`);
  const image = runtime.provider.images.find((i) => i.name === label.image);
  if (!image) throw new NodeEffectError('other', `provider ${row.provider} has no image ${label.image}`);
  return { row, runtime, label, image, ...(subnode ? { subnode } : {}) };
}

/**
 * Where the node's SSH server is: the node's address, or for the simulated
 * cloud the real SSH server that `fake.ssh` names; undefined when the
 * simulated cloud has none (the check is then simulated).
 */
function sshEndpoint(setting: NodeSetting, ip: string): { host: string; port: number } | undefined {
  const { provider } = setting.runtime;
  if (provider.driver !== 'fake') return { host: ip, port: 22 };
  const ssh = provider.fake?.ssh;
  if (!ssh) return undefined;
  const at = ssh.lastIndexOf(':');
  return { host: ssh.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(ssh.slice(at + 1)) };
}

function connectionOf(setting: NodeSetting, endpoint: { host: string; port: number }, clock: Clock): SshConnectionOptions {
  return { ...endpoint, username: setting.image.username, privateKey: setting.image.privateKey, clock };
}

function asNodeError(err: unknown, fallback: FailureReason): NodeEffectError {
  if (err instanceof NodeEffectError) return err;
  const reason = (err as { reason?: unknown }).reason;
  const known: FailureReason[] = ['timeout', 'status', 'network', 'auth', 'other'];
  return new NodeEffectError(
    known.includes(reason as FailureReason) ? (reason as FailureReason) : fallback,
    err instanceof Error ? err.message : String(err),
  );
}

/** The running provider whose latest list shows the server. */
async function providerListing(deps: NodeEffectDeps, serverId: string): Promise<ProviderRuntime | undefined> {
  for (const { name } of deps.config().providers) {
    const runtime = deps.provider(name);
    if (runtime && (await runtime.knownServers()).some((s) => s.id === serverId)) return runtime;
  }
  return undefined;
}

/** The node machine with its effects bound to the database, the drivers and SSH. */
export function nodeMachineWithEffects(deps: NodeEffectDeps) {
  const owner = deps.leaseOwner ?? daemonLeaseOwner();
  return nodeMachine.provide({
    actors: {
      createServer: fromPromise(async ({ input }) => {
        const setting = await settingOf(deps, input.nodeId, input.role);
        const { runtime, row, image, subnode } = setting;
        // A restored actor repeats this effect: a server from the first attempt is reused.
        const existing = subnode ? await runtime.serverOfSubnode(subnode.id) : await runtime.serverOfNode(row.id);
        if (existing) return { serverId: existing.id };
        const boot = await runtime.bootImage(image);
        if (!boot) throw new NodeEffectError('other', `no ready image ${image.name} in provider ${runtime.name}`);
        const flavor = await runtime.flavorFor(image);
        try {
          const { id } = await runtime.queue.run('createServer', () =>
            runtime.driver.createServer({
              name: (subnode ? subnode.hostname : row.hostname) ?? `node-${row.id}`,
              imageId: boot.imageId,
              flavorId: flavor.id,
              metadata: serverMetadata({ image: image.name, provider: runtime.name, nodeId: row.id, subnodeId: subnode?.id, meta: image.meta }),
              availabilityZone: row.az ?? undefined,
              keyName: runtime.provider.keypair,
              configDrive: image.configDrive,
              networks: runtime.provider.networks.map((n) => ({ id: n.netId, name: n.name ?? n.netLabel })),
            }),
          );
          if (boot.uploadId !== null && !subnode) await deps.db.nodes.update(row.id, { uploadId: boot.uploadId });
          return { serverId: id };
        } catch (err) {
          throw asNodeError(err, 'other');
        }
      }),

      checkSsh: fromPromise(async ({ input }) => {
        const setting = await settingOf(deps, input.nodeId, input.role);
        const endpoint = sshEndpoint(setting, input.ip);
        if (!endpoint) return;
        try {
          await checkSsh({ ...connectionOf(setting, endpoint, deps.clock), deadline: input.deadline });
        } catch (err) {
          throw asNodeError(err, 'network');
        }
      }),

      prepareNode: fromPromise(async ({ input }) => {
        const setting = await settingOf(deps, input.nodeId);
        const { row, runtime, label } = setting;
        const endpoint = sshEndpoint(setting, row.ip ?? '');
        if (!endpoint || !row.ip) return;
        const connection = connectionOf(setting, endpoint, deps.clock);
        const subnodes = (await deps.db.subnodes.listForNode(row.id)).map((s) => ({ ip: s.ip ?? '', ipPrivate: s.ipPrivate ?? s.ip ?? '' }));
        const self = { ip: row.ip, ipPrivate: row.ipPrivate ?? row.ip };
        const files = buildNodeSetFiles({
          role: 'primary',
          node: self,
          primary: self,
          subnodes,
          keyPair: await generateNodeSetKeyPair(),
          provider: { name: runtime.name, cloud: runtime.provider.cloud, region: runtime.provider.regionName, az: row.az },
          serverId: row.externalId ?? '',
        });
        try {
          await writeNodeSetFiles(connection, files);
          if (label.readyScript) {
            await runReadyScript(connection, {
              script: label.readyScript,
              hostname: row.hostname ?? row.nodename ?? String(row.id),
              env: nodepoolEnvironment(process.env),
              onOutput: (line) => runtime.log.info({ node: row.id }, `ready script: ${line}`),
            });
          }
        } catch (err) {
          throw asNodeError(err, 'other');
        }
      }),

      deleteServer: fromPromise(async ({ input }) => {
        // A sub-node is deleted under its primary's lease, as `delete --now` deletes both.
        const subnode = input.role === 'sub' ? await deps.db.subnodes.get(input.nodeId) : undefined;
        const nodeId = subnode ? subnode.nodeId : input.nodeId;
        const row = input.role === 'sub' && !subnode ? undefined : await deps.db.nodes.get(nodeId);
        // `delete --now` removes the row once the server is gone; a server still listed (a launch that
        // was in flight then) is deleted through the provider that lists it.
        const runtime = row ? deps.provider(row.provider) : await providerListing(deps, input.serverId);
        if (!row && !runtime) return;
        if (!runtime) throw new NodeEffectError('other', `node ${input.nodeId}: its provider is not running`);
        const lease = nodeDeleteLease(nodeId);
        // Never two deletes of one node at once (behaviour.md section 2): the loser tries again later,
        // by when the list usually shows the server gone and the node ends without a second call.
        if (!(await deps.db.leases.tryAcquire(lease, owner, NODE_DELETE_LEASE_TTL_MS))) {
          const holder = await deps.db.leases.holder(lease);
          runtime.log.info({ node: input.nodeId, server: input.serverId, holder: holder?.owner }, `node ${input.nodeId} is being deleted by ${holder?.owner ?? 'another process'}; trying again later`);
          throw new NodeEffectError('other', `node ${input.nodeId} is being deleted by ${holder?.owner ?? 'another process'}`);
        }
        try {
          // `delete --now` may have finished between the read above and the lease: then the server is gone.
          if (row && !(await deps.db.nodes.get(nodeId))) return;
          runtime.log.info({ node: input.nodeId, server: input.serverId }, `deleting server ${input.serverId} of node ${input.nodeId}`);
          await runtime.queue.run('deleteServer', () => runtime.driver.deleteServer(input.serverId));
        } catch (err) {
          // Already gone counts as deleted (behaviour.md section 2).
          if (err instanceof DriverError && err.kind === 'not-found') return;
          throw err;
        } finally {
          await deps.db.leases.release(lease, owner).catch(() => {});
        }
      }),
    },
    guards: { deletesAllowed: () => deps.deletesAllowed() },
  });
}
