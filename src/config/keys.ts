/**
 * Keys that are not part of the schema. Unknown keys are warnings, not
 * errors, so that a 0.4 file with a key we never heard of still loads; keys
 * that 0.4 (or 0.3) had and that we accept without acting on are reported
 * separately as ignored.
 */
import { driverOf } from './schema.js';
import {
  ciSimulatorJobShape, ciSimulatorShape, cronShape, diskimageShape, fakeFailureShape, fakeFlavorShape, fakeLatencyShape, fakeQuotaShape, fakeShape,
  gearmanShape, jenkinsShape, labelProviderShape, labelShape, networkShape, providerImageShape, providerShape,
  targetShape, topShape, webappShape,
} from './schema.js';

interface Section {
  known: readonly string[];
  /** Key -> why it is ignored. */
  ignored?: Readonly<Record<string, string>>;
  /** Keys ignored because of other values of the same mapping. */
  ignoredWhen?: (value: Record<string, unknown>) => Record<string, string>;
  children?: Readonly<Record<string, { list: boolean; section: Section }>>;
}

export interface KeyFinding {
  path: PropertyKey[];
  kind: 'unknown' | 'ignored';
  message: string;
}

const SNAPSHOT = 'snapshot images (Nodepool 0.3) are not supported; images are built from diskimages';

const keysOf = (shape: object): string[] => Object.keys(shape);
const leaf = (shape: object, ignored?: Record<string, string>): Section => ({ known: keysOf(shape), ignored });

const fakeSection: Section = {
  known: keysOf(fakeShape),
  children: {
    latency: { list: false, section: leaf(fakeLatencyShape) },
    'failure-rate': { list: false, section: leaf(fakeFailureShape) },
    quota: { list: false, section: leaf(fakeQuotaShape) },
    flavors: { list: true, section: leaf(fakeFlavorShape) },
  },
};

const providerSection: Section = {
  known: keysOf(providerShape),
  ignored: { pool: 'accepted for compatibility with 0.4, not used' },
  ignoredWhen: (p): Record<string, string> =>
    driverOf(p) !== 'fake' ? { fake: `only used by driver fake; this provider's driver is ${driverOf(p)}` } : {},
  children: {
    images: {
      list: true,
      section: leaf(providerImageShape, {
        'base-image': SNAPSHOT, setup: SNAPSHOT, reset: SNAPSHOT, install: SNAPSHOT,
        install_poll_interval: SNAPSHOT, install_poll_count: SNAPSHOT,
        install_done_stamp: SNAPSHOT, launch_done_stamp: SNAPSHOT,
      }),
    },
    networks: { list: true, section: leaf(networkShape, { public: 'already ignored by Nodepool 0.4' }) },
    fake: { list: false, section: fakeSection },
  },
};

const TOP: Section = {
  known: keysOf(topShape),
  ignored: {
    'zookeeper-servers': 'coordination is done through the database',
    'script-dir': SNAPSHOT,
  },
  children: {
    cron: { list: false, section: leaf(cronShape, { 'image-update': 'images are rebuilt after rebuild-age (0.3 key)' }) },
    'gearman-servers': { list: true, section: leaf(gearmanShape) },
    webapp: { list: false, section: leaf(webappShape) },
    labels: { list: true, section: { known: keysOf(labelShape), children: { providers: { list: true, section: leaf(labelProviderShape) } } } },
    diskimages: { list: true, section: leaf(diskimageShape) },
    providers: { list: true, section: providerSection },
    targets: { list: true, section: { known: keysOf(targetShape), children: { jenkins: { list: false, section: leaf(jenkinsShape) } } } },
    'ci-simulator': { list: false, section: { known: keysOf(ciSimulatorShape), children: { jobs: { list: true, section: leaf(ciSimulatorJobShape) } } } },
  },
};

export function findExtraKeys(raw: unknown): KeyFinding[] {
  const out: KeyFinding[] = [];
  walk(raw, TOP, [], out);
  return out;
}

function walk(value: unknown, section: Section, path: PropertyKey[], out: KeyFinding[]): void {
  if (!isMapping(value)) return; // the schema reports the wrong type
  const ignored = { ...section.ignored, ...section.ignoredWhen?.(value) };
  for (const [key, child] of Object.entries(value)) {
    const here = [...path, key];
    const why = ignored[key];
    if (why !== undefined) {
      out.push({ path: here, kind: 'ignored', message: `'${key}' is ignored: ${why}` });
      continue;
    }
    if (!section.known.includes(key)) {
      out.push({ path: here, kind: 'unknown', message: unknownKeyMessage(key, section.known) });
      continue;
    }
    const sub = section.children?.[key];
    if (!sub) continue;
    if (!sub.list) walk(child, sub.section, here, out);
    else if (Array.isArray(child)) child.forEach((item, i) => walk(item, sub.section, [...here, i], out));
  }
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = known.find((k) => editDistance(k, key) <= 2);
  return `unknown key '${key}' (ignored)${near ? `; did you mean '${near}'?` : ''}`;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
