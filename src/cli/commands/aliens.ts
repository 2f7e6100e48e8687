/**
 * `alien-list` and `alien-image-list` (docs/behaviour.md, "Alien
 * resources"): what a cloud holds that no record accounts for. Both ask each
 * provider's cloud through its gateway, so they work for any driver kind
 * and with the daemons stopped; they change nothing.
 *
 * The clouds are asked before the database is read, so a server (or image)
 * whose row is written while the command runs is not taken for an alien for
 * want of a row that came a moment after the records were read.
 */
import type { NodepoolConfig, Provider } from '../../config/types.js';
import type { Database } from '../../db/index.js';
import type { CloudImage, ProviderDriver, Server } from '../../drivers/driver.js';
import { GatewayRegistry, type ProviderGateway } from '../../gateway/index.js';
import { Logging } from '../../log/index.js';
import { CommandFailure } from '../failure.js';
import type { Output } from '../output.js';
import { renderTable } from '../../listings/table.js';
import type { ListingOptions } from './nodes.js';

export const ALIEN_SERVER_COLUMNS = ['Provider', 'Hostname', 'Server ID', 'IP'] as const;
export const ALIEN_IMAGE_COLUMNS = ['Provider', 'Name', 'Image ID'] as const;

/** The image property every upload of nodepool-builder carries: an image without it is the cloud's own. */
export const BUILD_ID_PROPERTY = 'nodepool_build_id';

export interface AlienOptions extends ListingOptions {
  /** Only this provider; undefined for every configured one (retired ones too: they may hold leftovers). */
  provider?: string;
  /** How a provider's driver is made; default the factory (tests substitute failing clouds). */
  createDriver?: (provider: Provider) => ProviderDriver;
  logging?: Logging;
}

export interface AlienServer {
  provider: string;
  hostname: string;
  server_id: string;
  ip: string | null;
}

export interface AlienImage {
  provider: string;
  name: string;
  image_id: string;
}

// ---- alien-list ----------------------------------------------------------------

/** `alien-list [PROVIDER]`: servers whose id no node or sub-node row of that provider records. */
export async function listAlienServers(db: Database, config: NodepoolConfig, out: Output, options: AlienOptions): Promise<void> {
  const survey = await askClouds(config, options, 'servers', (gateway) => gateway.call('listServers', (d) => d.listServers()));
  const recorded = await recordedServers(db);
  const rows = survey.listed.flatMap(({ provider, items }) =>
    items
      .filter((s) => !recorded.has(provider.name, s.id))
      .map((s): AlienServer => ({ provider: provider.name, hostname: s.name, server_id: s.id, ip: serverIp(s) })),
  );
  report(out, survey, () =>
    options.json
      ? JSON.stringify(rows, null, 2)
      : renderTable(ALIEN_SERVER_COLUMNS, rows.map((r) => [r.provider, r.hostname, r.server_id, r.ip])),
  );
}

/** The address an operator reaches the server at: public v4, else public v6, else private v4. */
export function serverIp(server: Pick<Server, 'addresses'>): string | null {
  const { publicV4, publicV6, privateV4 } = server.addresses;
  return publicV4 || publicV6 || privateV4 || null;
}

/** Server ids recorded per provider: a node row's, and its sub-nodes' (which belong to the node's provider). */
async function recordedServers(db: Database): Promise<RecordedIds> {
  const recorded = new RecordedIds();
  const providerOf = new Map<number, string>();
  for (const node of await db.nodes.list()) {
    providerOf.set(node.id, node.provider);
    if (node.externalId) recorded.add(node.provider, node.externalId);
  }
  for (const subnode of await db.subnodes.list()) {
    // A sub-node row always has its node (the foreign key cascades); should one not, its server is not called alien.
    if (subnode.externalId) recorded.add(providerOf.get(subnode.nodeId), subnode.externalId);
  }
  return recorded;
}

// ---- alien-image-list ----------------------------------------------------------

/** `alien-image-list [PROVIDER]`: images nodepool made (they carry nodepool_build_id) that no ready upload holds. */
export async function listAlienImages(db: Database, config: NodepoolConfig, out: Output, options: AlienOptions): Promise<void> {
  const survey = await askClouds(config, options, 'images', (gateway) => gateway.call('listImages', (d) => d.listImages()));
  const recorded = new RecordedIds();
  for (const upload of await db.uploads.list({ states: ['ready'] })) {
    if (upload.externalId) recorded.add(upload.provider, upload.externalId);
  }
  const rows = survey.listed.flatMap(({ provider, items }) =>
    items
      .filter((i) => madeByNodepool(i) && !recorded.has(provider.name, i.id))
      .map((i): AlienImage => ({ provider: provider.name, name: i.name, image_id: i.id })),
  );
  report(out, survey, () =>
    options.json
      ? JSON.stringify(rows, null, 2)
      : renderTable(ALIEN_IMAGE_COLUMNS, rows.map((r) => [r.provider, r.name, r.image_id])),
  );
}

function madeByNodepool(image: CloudImage): boolean {
  return Object.hasOwn(image.properties, BUILD_ID_PROPERTY);
}

// ---- asking the clouds ---------------------------------------------------------

/** Ids recorded per provider; an id recorded without a known provider counts for every provider. */
class RecordedIds {
  private readonly byProvider = new Map<string, Set<string>>();
  private readonly anywhere = new Set<string>();

  add(provider: string | undefined, id: string): void {
    if (provider === undefined) {
      this.anywhere.add(id);
      return;
    }
    let ids = this.byProvider.get(provider);
    if (!ids) this.byProvider.set(provider, (ids = new Set()));
    ids.add(id);
  }

  has(provider: string, id: string): boolean {
    return this.anywhere.has(id) || (this.byProvider.get(provider)?.has(id) ?? false);
  }
}

interface Listed<T> {
  provider: Provider;
  items: T[];
}

interface Failed {
  provider: Provider;
  /** One line: why the provider's cloud could not be listed. */
  reason: string;
}

interface Survey<T> {
  /** Both in configuration order. */
  listed: Listed<T>[];
  failed: Failed[];
}

/**
 * Asks every selected provider's cloud, all at once, each through its
 * gateway. A provider whose driver cannot be made, whose cloud no other
 * process can reach, or whose call fails is left out with the reason; every
 * driver opened is closed again.
 */
async function askClouds<T>(
  config: NodepoolConfig,
  options: AlienOptions,
  what: string,
  read: (gateway: ProviderGateway) => Promise<T[]>,
): Promise<Survey<T>> {
  const make = options.createDriver;
  const gateways = new GatewayRegistry({ logging: options.logging ?? new Logging(), ...(make && { makeDriver: (p: Provider) => make(p) }) });
  try {
    const outcomes = await Promise.all(
      selectProviders(config, options.provider).map(async (provider): Promise<Listed<T> | Failed> => {
        let gateway: ProviderGateway;
        try {
          gateway = gateways.open(provider);
        } catch (err) {
          return { provider, reason: messageOf(err) };
        }
        const { capabilities } = gateway;
        if (!capabilities.sharedAcrossProcesses) {
          // A driver made here would see a new, empty cloud and report nothing, which would read as "no aliens".
          return { provider, reason: `${capabilities.localOnlyReason ?? 'its cloud lives only inside the daemon'}, where no command can reach it` };
        }
        try {
          return { provider, items: await read(gateway) };
        } catch (err) {
          return { provider, reason: `listing its ${what} failed: ${messageOf(err)}` };
        }
      }),
    );
    const survey: Survey<T> = { listed: [], failed: [] };
    for (const outcome of outcomes) {
      if ('items' in outcome) survey.listed.push(outcome);
      else survey.failed.push(outcome);
    }
    return survey;
  } finally {
    await gateways.close();
  }
}

function selectProviders(config: NodepoolConfig, name: string | undefined): Provider[] {
  if (name === undefined) return config.providers;
  const provider = config.providers.find((p) => p.name === name);
  if (!provider) throw new CommandFailure(`Provider ${name} not found.`);
  return [provider];
}

/** One line, whatever the driver's message spans. */
function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * A warning on stderr for each provider left out, the rows of the others on
 * stdout, and then exit 1 if any was left out: the listing is incomplete.
 */
function report(out: Output, survey: Survey<unknown>, rendered: () => string): void {
  const { failed } = survey;
  for (const { provider, reason } of failed) out.err(`nodepool: warning: provider ${provider.name} skipped: ${reason}`);
  out.out(rendered());
  if (failed.length === 0) return;
  const names = failed.map((f) => f.provider.name).join(', ');
  const what = failed.length === 1 ? `Provider ${names} was` : `Providers ${names} were`;
  const rest = survey.listed.length > 0 ? '; the rows shown are those of the other providers' : '';
  throw new CommandFailure(`${what} not listed${rest}.`);
}
