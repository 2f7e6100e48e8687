/**
 * What changed between two validated configurations, named so that each
 * actor can act on its part without comparing configurations itself: the
 * provider actor learns whether it needs a new driver or only new limits,
 * the builder which diskimages to rebuild, the allocator which labels moved.
 *
 * Pure. Mapping key order never matters, and neither does the order of
 * entries in a list of named things (providers, labels, images, a label's
 * providers): entries are matched by name. Other lists (elements, networks,
 * availability zones) are compared in order, because their order is data.
 */
import type { CronConfig, DiskImage, Label, NodepoolConfig, Provider, ProviderImage, Target } from './types.js';

/**
 * Which part of a provider a change touches, so its actor knows what to redo:
 * - `driver`: how to reach the cloud (driver kind, cloud, credentials,
 *   endpoints, api-timeout); the actor needs a new driver.
 * - `limits`: max-servers, rate, boot- and launch-timeout; applied in place.
 * - `nodes`: how new nodes are launched and cleaned up (networks,
 *   availability zones, keypair, hostname template, ipv6, floating IPs);
 *   nodes already up are not touched.
 * - `images`: the provider's images (see `images`) or the upload format
 *   (image-type).
 * - `fake`: the simulated cloud's settings (driver: fake only).
 */
export type ProviderAspect = 'driver' | 'limits' | 'nodes' | 'images' | 'fake';

/** The top-level keys that are not sections of named entries. */
export type TopLevelSetting = 'elementsDir' | 'imagesDir' | 'dburi' | 'zmqPublishers' | 'gearmanServers' | 'gearmanPollIntervalS' | 'actorHistoryHours' | 'providerLeaseSeconds' | 'providerLeaseRenewSeconds' | 'webapp' | 'ciSimulator';

/** Field names of T other than its name. */
type Field<T> = Exclude<keyof T, 'name'>;

/** One changed entry of a named section and which of its fields differ. */
export interface EntryChange<T> {
  name: string;
  fields: Field<T>[];
}

/** A section of named entries: names in the order of the file that has them. */
export interface SectionDiff<C> {
  added: string[];
  removed: string[];
  changed: C[];
}

export interface ProviderChange extends EntryChange<Provider> {
  aspects: ProviderAspect[];
  images: SectionDiff<EntryChange<ProviderImage>>;
}

export interface ConfigDiff {
  providers: SectionDiff<ProviderChange> & {
    /** Changed providers whose max-servers went from above 0 to 0 or -1: no new launches, drain. */
    retiring: string[];
  };
  labels: SectionDiff<EntryChange<Label>>;
  targets: SectionDiff<EntryChange<Target>>;
  diskimages: SectionDiff<EntryChange<DiskImage>>;
  /** The cron lines that changed. */
  cron: (keyof CronConfig)[];
  /** Other top-level settings that changed (most take effect at the next restart). */
  settings: TopLevelSetting[];
}

// Each table lists every field of its type (the mapped types make a field
// added to types.ts a compile error here until it is classified).
const PROVIDER_ASPECTS: { readonly [K in Field<Provider>]-?: ProviderAspect } = {
  driver: 'driver', cloud: 'driver', username: 'driver', password: 'driver', projectId: 'driver',
  projectName: 'driver', authUrl: 'driver', regionName: 'driver', serviceType: 'driver',
  serviceName: 'driver', apiTimeout: 'driver',
  maxServers: 'limits', rate: 'limits', bootTimeout: 'limits', launchTimeout: 'limits',
  availabilityZones: 'nodes', keypair: 'nodes', networks: 'nodes', ipv6Preferred: 'nodes',
  templateHostname: 'nodes', cleanFloatingIps: 'nodes',
  images: 'images', imageType: 'images',
  fake: 'fake',
};
const ASPECT_ORDER: readonly ProviderAspect[] = ['driver', 'limits', 'nodes', 'images', 'fake'];

type FieldTable<T> = { readonly [K in Field<T>]-?: true };
const LABEL_FIELDS: FieldTable<Label> = { image: true, minReady: true, subnodes: true, readyScript: true, providers: true };
const TARGET_FIELDS: FieldTable<Target> = { hostname: true, subnodeHostname: true, rate: true, assignViaGearman: true, jenkins: true };
const DISKIMAGE_FIELDS: FieldTable<DiskImage> = { elements: true, release: true, rebuildAge: true, envVars: true, pause: true, dibCmd: true };
const IMAGE_FIELDS: FieldTable<ProviderImage> = {
  diskimage: true, minRam: true, nameFilter: true, pause: true, username: true, userHome: true,
  privateKey: true, configDrive: true, meta: true,
};
const CRON_FIELDS: readonly (keyof CronConfig)[] = ['cleanup', 'check'];
const SETTINGS: { readonly [K in TopLevelSetting]-?: true } = {
  elementsDir: true, imagesDir: true, dburi: true, zmqPublishers: true, gearmanServers: true, gearmanPollIntervalS: true, webapp: true,
  ciSimulator: true, actorHistoryHours: true, providerLeaseSeconds: true, providerLeaseRenewSeconds: true,
};

/**
 * The difference from `previous` to `next`. With no previous configuration
 * (a daemon starting) everything in `next` is added and every cron line and
 * setting that has a value counts as changed.
 */
export function diffConfig(previous: NodepoolConfig | undefined, next: NodepoolConfig): ConfigDiff {
  const providers = diffSection(previous?.providers ?? [], next.providers, diffProvider);
  const before = new Map((previous?.providers ?? []).map((p) => [p.name, p]));
  const retiring = providers.changed
    .filter((c) => (before.get(c.name)?.maxServers ?? 0) > 0 && (byName(next.providers, c.name)?.maxServers ?? 0) <= 0)
    .map((c) => c.name);
  return {
    providers: { ...providers, retiring },
    labels: diffSection(previous?.labels ?? [], next.labels, (a, b) => entryChange(a, b, keysOf(LABEL_FIELDS), { providers: sameNameSet })),
    targets: diffSection(previous?.targets ?? [], next.targets, (a, b) => entryChange(a, b, keysOf(TARGET_FIELDS))),
    diskimages: diffSection(previous?.diskimages ?? [], next.diskimages, (a, b) => entryChange(a, b, keysOf(DISKIMAGE_FIELDS))),
    cron: CRON_FIELDS.filter((k) => !same(previous?.cron[k], next.cron[k])),
    settings: keysOf(SETTINGS).filter((k) => !same(previous?.[k], next[k])),
  };
}

/** True when nothing an actor acts on changed. */
export function isEmpty(diff: ConfigDiff): boolean {
  const sections = [diff.providers, diff.labels, diff.targets, diff.diskimages];
  return sections.every((s) => s.added.length === 0 && s.removed.length === 0 && s.changed.length === 0)
    && diff.cron.length === 0 && diff.settings.length === 0;
}

/** One line for a log: `providers added: a; providers changed: b (limits); cron: check`. */
export function describeDiff(diff: ConfigDiff): string {
  if (isEmpty(diff)) return 'no changes';
  const parts: string[] = [];
  const section = <C extends { name: string; fields: string[] }>(title: string, s: SectionDiff<C>, detail = (c: C) => c.fields.join(', ')) => {
    if (s.added.length > 0) parts.push(`${title} added: ${s.added.join(', ')}`);
    if (s.removed.length > 0) parts.push(`${title} removed: ${s.removed.join(', ')}`);
    if (s.changed.length > 0) parts.push(`${title} changed: ${s.changed.map((c) => `${c.name} (${detail(c)})`).join(', ')}`);
  };
  section('providers', diff.providers, (c) => c.aspects.join(', '));
  if (diff.providers.retiring.length > 0) parts.push(`providers retiring: ${diff.providers.retiring.join(', ')}`);
  section('labels', diff.labels);
  section('targets', diff.targets);
  section('diskimages', diff.diskimages);
  if (diff.cron.length > 0) parts.push(`cron: ${diff.cron.join(', ')}`);
  if (diff.settings.length > 0) parts.push(`settings: ${diff.settings.join(', ')}`);
  return parts.join('; ');
}

function diffProvider(a: Provider, b: Provider): ProviderChange | undefined {
  const images = diffSection(a.images, b.images, (x, y) => entryChange(x, y, keysOf(IMAGE_FIELDS)));
  const imagesChanged = images.added.length + images.removed.length + images.changed.length > 0;
  const fields = keysOf(PROVIDER_ASPECTS).filter((k) => (k === 'images' ? imagesChanged : !same(a[k], b[k])));
  if (fields.length === 0) return undefined;
  const touched = new Set(fields.map((k) => PROVIDER_ASPECTS[k]));
  return { name: b.name, fields, aspects: ASPECT_ORDER.filter((x) => touched.has(x)), images };
}

type Comparers<T> = Partial<{ [K in Field<T>]: (a: T[K], b: T[K]) => boolean }>;

function entryChange<T extends { name: string }>(a: T, b: T, fields: Field<T>[], comparers: Comparers<T> = {}): EntryChange<T> | undefined {
  const changed = fields.filter((k) => {
    const compare = comparers[k] as ((x: unknown, y: unknown) => boolean) | undefined;
    return !(compare ?? same)(a[k], b[k]);
  });
  return changed.length === 0 ? undefined : { name: b.name, fields: changed };
}

function diffSection<T extends { name: string }, C>(
  previous: readonly T[],
  next: readonly T[],
  compare: (a: T, b: T) => C | undefined,
): SectionDiff<C> {
  const before = new Map(previous.map((e) => [e.name, e]));
  const after = new Map(next.map((e) => [e.name, e]));
  const changed: C[] = [];
  for (const [name, entry] of after) {
    const old = before.get(name);
    const change = old === undefined ? undefined : compare(old, entry);
    if (change !== undefined) changed.push(change);
  }
  return {
    added: [...after.keys()].filter((n) => !before.has(n)),
    removed: [...before.keys()].filter((n) => !after.has(n)),
    changed,
  };
}

function byName<T extends { name: string }>(entries: readonly T[], name: string): T | undefined {
  return entries.find((e) => e.name === name);
}

function sameNameSet(a: readonly { name: string }[], b: readonly { name: string }[]): boolean {
  const names = (xs: readonly { name: string }[]) => [...new Set(xs.map((x) => x.name))].sort();
  return same(names(a), names(b));
}

function keysOf<K extends string>(table: { readonly [k in K]: unknown }): K[] {
  return Object.keys(table) as K[];
}

/** Structural equality of plain data; a key holding `undefined` counts as absent. */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  return [...keys].every((k) => same(ra[k], rb[k]));
}
