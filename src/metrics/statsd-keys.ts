/**
 * The statsd keys Nodepool 0.4 sent, so that a Graphite dashboard made for
 * it keeps working (docs/metrics.md, "statsd"). Pure: names in, keys out.
 *
 * Names are used as they are, dots included (a dot is a level in Graphite,
 * as it was upstream); only the characters that would break the statsd line
 * itself (`:`, `|`, `@`, whitespace) become `_`.
 */
import type { NodeState } from '../db/records.js';

/** A node's launch as its keys name it. */
export interface LaunchKeyFields {
  provider: string;
  image: string;
  target: string;
  az?: string;
  /** The manager that took the node (assign-via-gearman): named instead of the target. */
  manager?: string;
}

/** How a launch ended, in the words of its key: `ready`, or `error.<reason>`. */
export type LaunchResult = 'ready' | 'timeout' | 'status' | 'network' | 'auth' | 'other';

/** 0.4 called an unclassified failure `unknown`. */
export function launchSubkey(result: LaunchResult): string {
  if (result === 'ready') return 'ready';
  return `error.${result === 'other' ? 'unknown' : result}`;
}

export function safeName(name: string): string {
  return name.replace(/[:|@\s]/g, '_');
}

/** `nodepool.launch.provider.P.S`, `.image.I.S`, `.S`, `.provider.P.AZ.S` with a zone, and `.manager.M.S` or `.target.T.S`. */
export function launchKeys(fields: LaunchKeyFields, result: LaunchResult): string[] {
  const subkey = launchSubkey(result);
  const provider = safeName(fields.provider);
  const keys = [`nodepool.launch.provider.${provider}.${subkey}`, `nodepool.launch.image.${safeName(fields.image)}.${subkey}`, `nodepool.launch.${subkey}`];
  if (fields.az) keys.push(`nodepool.launch.provider.${provider}.${safeName(fields.az)}.${subkey}`);
  keys.push(fields.manager ? `nodepool.launch.manager.${safeName(fields.manager)}.${subkey}` : `nodepool.launch.target.${safeName(fields.target)}.${subkey}`);
  return keys;
}

/** A node's deletion: `nodepool.delete.IMAGE.PROVIDER.TARGET`. */
export function deleteKey(image: string, provider: string, target: string): string {
  return `nodepool.delete.${safeName(image)}.${safeName(provider)}.${safeName(target)}`;
}

/** An upload that became ready: `nodepool.image_update.IMAGE.PROVIDER`. */
export function imageUpdateKey(image: string, provider: string): string {
  return `nodepool.image_update.${safeName(image)}.${safeName(provider)}`;
}

/** The size on disk of a built image file: `nodepool.dib_image_build.IMAGE.EXT.size`. */
export function dibImageSizeKey(image: string, ext: string): string {
  return `nodepool.dib_image_build.${safeName(image)}.${safeName(ext)}.size`;
}

/** `nodepool.provider.PROVIDER.max_servers`. */
export function maxServersKey(provider: string): string {
  return `nodepool.provider.${safeName(provider)}.max_servers`;
}

/**
 * A job that succeeded: `nodepool.job.JOB`, then `.BRANCH`, `.LABEL`,
 * `.PROVIDER`, each level a key of its own (each gets `.runtime` and
 * `.builds`). Without a branch the job's key alone is sent.
 */
export function jobKeys(job: string, branch: string | undefined, label: string, provider: string): string[] {
  const keys = [`nodepool.job.${safeName(job)}`];
  if (branch === undefined || branch === '') return keys;
  for (const level of [branch, label, provider]) keys.push(`${keys[keys.length - 1]}.${safeName(level)}`);
  return keys;
}

/** One group of nodes, as the database counts them. */
export interface NodeTally {
  provider: string;
  label: string;
  target: string;
  state: NodeState;
  count: number;
}

/** What a gauge is zero for when no node is there: the configuration's names and every state. */
export interface GaugeScope {
  states: readonly NodeState[];
  providers: readonly string[];
  labels: readonly string[];
  targets: readonly string[];
}

/**
 * The node gauges of 0.4's updateStats: `nodepool.nodes.STATE`,
 * `nodepool.provider.P.nodes.STATE`, `nodepool.label.L.nodes.STATE` and
 * `nodepool.target.T.nodes.STATE`. Every configured name gets every state,
 * 0 when no node is there, so a graph falls to 0 instead of keeping its last
 * value. (0.4 counted a node a Gearman manager took under
 * `nodepool.manager.M.nodes.STATE` instead of its target; the records here
 * name the launching host as the manager of every node, so the target's
 * gauge counts them all.)
 */
export function nodeGauges(tallies: readonly NodeTally[], scope: GaugeScope): Map<string, number> {
  const gauges = new Map<string, number>();
  const add = (key: string, count: number) => gauges.set(key, (gauges.get(key) ?? 0) + count);
  for (const state of scope.states) {
    add(`nodepool.nodes.${state}`, 0);
    for (const target of scope.targets) add(`nodepool.target.${safeName(target)}.nodes.${state}`, 0);
    for (const label of scope.labels) add(`nodepool.label.${safeName(label)}.nodes.${state}`, 0);
    for (const provider of scope.providers) add(`nodepool.provider.${safeName(provider)}.nodes.${state}`, 0);
  }
  for (const t of tallies) {
    add(`nodepool.nodes.${t.state}`, t.count);
    add(`nodepool.target.${safeName(t.target)}.nodes.${t.state}`, t.count);
    add(`nodepool.label.${safeName(t.label)}.nodes.${t.state}`, t.count);
    add(`nodepool.provider.${safeName(t.provider)}.nodes.${t.state}`, t.count);
  }
  return gauges;
}
