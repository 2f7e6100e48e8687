/**
 * The node machine's effects (docs/behaviour.md, "Nodes" and "Deleting"):
 * creating the server, the SSH check, the node-set files and the ready
 * script, deleting the server. Every cloud call goes through the provider's
 * gateway; every wait is bounded by a deadline the machine gives.
 */
import { fromPromise } from 'xstate';
import type { Label, NodepoolConfig, ProviderImage } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { FreshFor } from '../core/fresh-for.js';
import { Semaphore } from '../core/semaphore.js';
import { serverMetadata } from '../core/server-metadata.js';
import type { Database, NodeRecord, SubnodeRecord } from '../db/index.js';
import { DriverError, type Flavor } from '../drivers/driver.js';
import type { ProviderGateway } from '../gateway/index.js';
import type { Logger } from '../log/index.js';
import type { TargetRegistry } from '../targets/index.js';
import {
  buildNodeSetFiles,
  checkSsh,
  generateNodeSetKeyPair,
  nodepoolEnvironment,
  runReadyScript,
  writeNodeSetFiles,
  type SshConnectionOptions,
} from '../ssh/index.js';
import type { NodeRole } from '../../machines/node.machine.js';
import { nodeMachine } from '../../machines/node.machine.js';
import { bootImage, type BootImage } from './boot-image.js';
import type { DeleteLease } from './delete-lease.js';
import { asNodeError, NodeEffectError } from './node-effect-error.js';

export interface NodeEffectDeps {
  db: Database;
  /** The configuration in force now (it changes on reload). */
  config: () => NodepoolConfig;
  /** The gateway of a provider this process drives, if any. */
  gateway: (name: string) => ProviderGateway | undefined;
  clock: Clock;
  log: Logger;
  /** `--no-deletes`. */
  deletesAllowed: () => boolean;
  /** How the node's delete lease is held around a delete call. */
  deleteLease: DeleteLease;
  /** How many creates read what they need from the database at once (default PREPARING_AT_ONCE). */
  preparingAtOnce?: number;
  /** The targets' gateways: where a node is registered before it is ready. */
  targets?: TargetRegistry;
}

export const PREPARING_AT_ONCE = 32;
/** How long the answer to "which image does a node boot from" is used before it is read again. */
export const BOOT_IMAGE_FRESH_MS = 1000;

interface NodeSetting {
  /** The node's row; for a sub-node, its primary's. */
  row: NodeRecord;
  /** The sub-node's own row, when the effect is a sub-node's. */
  subnode?: SubnodeRecord;
  gateway: ProviderGateway;
  label: Label;
  image: ProviderImage;
}

/** The node's row and the configuration it was launched under, or a clear failure. */
async function settingOf(deps: NodeEffectDeps, nodeId: number, role: NodeRole = 'primary'): Promise<NodeSetting> {
  const subnode = role === 'sub' ? await deps.db.subnodes.get(nodeId) : undefined;
  if (role === 'sub' && !subnode) throw new NodeEffectError('other', `sub-node ${nodeId} has no row`);
  const row = await deps.db.nodes.get(subnode ? subnode.nodeId : nodeId);
  if (!row) throw new NodeEffectError('other', `node ${subnode ? subnode.nodeId : nodeId} has no row`);
  const gateway = deps.gateway(row.provider);
  if (!gateway) throw new NodeEffectError('other', `provider ${row.provider} is not running`);
  const label = deps.config().labels.find((l) => l.name === row.label);
  if (!label) throw new NodeEffectError('other', `label ${row.label} is no longer configured`);
  const image = gateway.provider.images.find((i) => i.name === label.image);
  if (!image) throw new NodeEffectError('other', `provider ${row.provider} has no image ${label.image}`);
  return { row, gateway, label, image, ...(subnode ? { subnode } : {}) };
}

/**
 * The node's provider reaches nothing over SSH at this address (a simulated
 * cloud without an SSH endpoint): its effects have nothing to do, and need
 * not read the row to learn it. Unknown provider or address: read the row.
 */
function nothingToReach(deps: NodeEffectDeps, provider: string | undefined, ip: string | undefined): boolean {
  const gateway = provider === undefined || ip === undefined ? undefined : deps.gateway(provider);
  return gateway !== undefined && ip !== undefined && gateway.capabilities.sshEndpoint(ip) === undefined;
}

function connectionOf(setting: NodeSetting, endpoint: { host: string; port: number }, clock: Clock): SshConnectionOptions {
  return { ...endpoint, username: setting.image.username, privateKey: setting.image.privateKey, clock };
}

/** The gateway whose latest list shows the server (a row-less server: a leak, or a node `delete --now` removed). */
async function gatewayListing(deps: NodeEffectDeps, serverId: string): Promise<ProviderGateway | undefined> {
  for (const { name } of deps.config().providers) {
    const gateway = deps.gateway(name);
    if (gateway && (await gateway.knownServers()).some((s) => s.id === serverId)) return gateway;
  }
  return undefined;
}

/**
 * What a create needs, read before its call: the node's row and setting,
 * the server a previous attempt made (then nothing is created), the image
 * and the flavor.
 */
async function prepareCreate(
  deps: NodeEffectDeps,
  bootImages: FreshFor<BootImage | undefined>,
  nodeId: number,
  role: NodeRole,
): Promise<{ existing: string; setting?: undefined } | { existing?: undefined; setting: NodeSetting; boot: BootImage; flavor: Flavor }> {
  const setting = await settingOf(deps, nodeId, role);
  const { gateway, row, image, subnode } = setting;
  // A restored actor repeats this effect: a server from the first attempt is reused.
  const existing = subnode ? await gateway.serverOfSubnode(subnode.id) : await gateway.serverOfNode(row.id);
  if (existing) return { existing: existing.id };
  const boot = await bootImages.get(`${gateway.name}/${image.name}`, () => bootImage(deps.db, gateway, image));
  if (!boot) throw new NodeEffectError('other', `no ready image ${image.name} in provider ${gateway.name}`);
  const flavor = await gateway.flavorFor(image).catch((err: unknown) => {
    throw asNodeError(err, 'other');
  });
  return { setting, boot, flavor };
}

/** The name a target knows the node by: its node name, as job events name it. */
const agentNameOf = (row: NodeRecord) => row.nodename ?? row.hostname ?? `node-${row.id}`;

/** The node machine with its effects bound to the database, the gateways and SSH. */
export function nodeMachineWithEffects(deps: NodeEffectDeps) {
  // A burst of thousands prepares its creates a few dozen at a time, so the
  // first create is not queued behind everyone's database reads; the calls
  // then wait their turn in the provider's rate queue, in order.
  const preparing = new Semaphore(deps.preparingAtOnce ?? PREPARING_AT_ONCE);
  // The creates of a burst boot the same image: they ask the database once a second, not once each.
  const bootImages = new FreshFor<BootImage | undefined>(deps.clock, BOOT_IMAGE_FRESH_MS);
  return nodeMachine.provide({
    actors: {
      createServer: fromPromise(async ({ input }) => {
        const plan = await preparing.run(() => prepareCreate(deps, bootImages, input.nodeId, input.role));
        if (plan.existing !== undefined) return { serverId: plan.existing };
        const { setting, boot, flavor } = plan;
        const { gateway, row, image, subnode } = setting;
        try {
          const { provider } = gateway;
          const { id } = await gateway.call('createServer', (driver) =>
            driver.createServer({
              name: (subnode ? subnode.hostname : row.hostname) ?? `node-${row.id}`,
              imageId: boot.imageId,
              flavorId: flavor.id,
              metadata: serverMetadata({ image: image.name, provider: gateway.name, nodeId: row.id, subnodeId: subnode?.id, meta: image.meta }),
              availabilityZone: row.az ?? undefined,
              keyName: provider.keypair,
              configDrive: image.configDrive,
              networks: provider.networks.map((n) => ({ id: n.netId, name: n.name ?? n.netLabel })),
            }),
          );
          if (boot.uploadId !== null && !subnode) await deps.db.nodes.update(row.id, { uploadId: boot.uploadId });
          deps.log.debug({ node: row.id, ...(subnode && { subnode: subnode.id }), server: id, provider: gateway.name }, 'server created');
          return { serverId: id };
        } catch (err) {
          throw asNodeError(err, 'other');
        }
      }),

      checkSsh: fromPromise(async ({ input }) => {
        if (nothingToReach(deps, input.provider, input.ip)) return;
        const setting = await settingOf(deps, input.nodeId, input.role);
        const endpoint = setting.gateway.capabilities.sshEndpoint(input.ip);
        if (!endpoint) return;
        try {
          await checkSsh({ ...connectionOf(setting, endpoint, deps.clock), deadline: input.deadline });
        } catch (err) {
          throw asNodeError(err, 'network');
        }
      }),

      prepareNode: fromPromise(async ({ input }) => {
        if (nothingToReach(deps, input.provider, input.ip)) return;
        const setting = await settingOf(deps, input.nodeId);
        const { row, gateway, label } = setting;
        const endpoint = row.ip ? gateway.capabilities.sshEndpoint(row.ip) : undefined;
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
          provider: { name: gateway.name, cloud: gateway.provider.cloud, region: gateway.provider.regionName, az: row.az },
          serverId: row.externalId ?? '',
        });
        try {
          await writeNodeSetFiles(connection, files);
          if (label.readyScript) {
            await runReadyScript(connection, {
              script: label.readyScript,
              hostname: row.hostname ?? row.nodename ?? String(row.id),
              env: nodepoolEnvironment(process.env),
              // The launch deadline bounds the script too: a script that hangs fails the launch, not the node for ever.
              timeoutMs: Math.max(1000, input.deadline - deps.clock.now()),
              onOutput: (line) => deps.log.info({ node: row.id, provider: gateway.name }, `ready script: ${line}`),
            });
          }
        } catch (err) {
          throw asNodeError(err, 'other');
        }
      }),

      registerNode: fromPromise(async ({ input }) => {
        const { row, image } = await settingOf(deps, input.nodeId);
        const target = deps.targets?.get(row.target);
        if (!target) throw new NodeEffectError('other', `target ${row.target} is not configured`);
        const name = agentNameOf(row);
        const host = input.ip ?? row.ip;
        if (!host) throw new NodeEffectError('network', `node ${row.id} has no address to register`);
        return target.register({ name, host, label: row.label, userHome: image.userHome, username: image.username, privateKey: image.privateKey });
      }),

      unregisterNode: fromPromise(async ({ input }) => {
        const row = await deps.db.nodes.get(input.nodeId);
        // No row: `delete --now` already went through this step in its own process.
        if (!row) return;
        const target = deps.targets?.get(row.target);
        if (!target) {
          deps.log.warn({ node: row.id, target: row.target }, `node ${row.id}: target ${row.target} is no longer configured; its registration there cannot be removed`);
          return;
        }
        await target.unregister({ name: agentNameOf(row), ...(input.manager !== undefined && { manager: input.manager }) });
      }),

      deleteServer: fromPromise(async ({ input }) => {
        // A sub-node is deleted under its primary's lease, as `delete --now` deletes both.
        const subnode = input.role === 'sub' ? await deps.db.subnodes.get(input.nodeId) : undefined;
        const nodeId = subnode ? subnode.nodeId : input.nodeId;
        const row = input.role === 'sub' && !subnode ? undefined : await deps.db.nodes.get(nodeId);
        // Without a row (a leaked server, or a launch in flight when `delete --now` removed the row),
        // the server is deleted through the provider whose list shows it.
        const gateway = row ? deps.gateway(row.provider) : await gatewayListing(deps, input.serverId);
        if (!row && !gateway) return;
        if (!gateway) throw new NodeEffectError('other', `node ${input.nodeId}: its provider is not running`);
        // Never two deletes of one node at once: the loser tries again after the pause,
        // by when the list usually shows the server gone and the node ends without a second call.
        try {
          await deps.deleteLease.hold(nodeId, async () => {
            // `delete --now` may have finished between the read above and the lease: then the server is gone.
            if (row && !(await deps.db.nodes.get(nodeId))) return;
            deps.log.info({ node: input.nodeId, server: input.serverId, provider: gateway.name }, `deleting server ${input.serverId} of node ${input.nodeId}`);
            await gateway.call('deleteServer', (driver) => driver.deleteServer(input.serverId));
          });
        } catch (err) {
          // Already gone counts as deleted (docs/behaviour.md, "Deleting").
          if (err instanceof DriverError && err.kind === 'not-found') return;
          if (err instanceof NodeEffectError) deps.log.info({ node: input.nodeId, server: input.serverId }, `${err.message}; trying again later`);
          throw err;
        }
      }),
    },
    guards: { deletesAllowed: () => deps.deletesAllowed() },
  });
}
