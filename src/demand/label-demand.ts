/**
 * Queued work per label from the Gearman status of every server (docs:
 * interfaces.md, "Demand"), read the way Nodepool 0.4 read it
 * (`GearmanClient.getNeededWorkers`):
 *
 * - `build:<job>:<label>` is work for `<label>`. With more colons, the last
 *   part is the label and the one before it the job, as upstream split it.
 * - A plain `build:<job>` can run on any of the job's labels; its queue goes
 *   to the first label seen for that job: the first `build:<job>:<label>`
 *   row, walking the servers in the order given and each server's rows in
 *   its order. gearmand lists a function once a worker registered it or a
 *   job was submitted for it, and keeps listing it after (0 queued, 0
 *   workers), so "seen" does not need anything queued. A job with no such
 *   row on any server gives its queue to no label.
 * - Every other function is someone else's work and is ignored.
 *
 * The work counted is the function's total, running jobs included, as in
 * Nodepool 0.4: a running job holds a node in the `used` state, and the
 * allocation counts used nodes against the demand (docs/behaviour.md,
 * section 3), so subtracting the running jobs here as well would count them
 * twice.
 *
 * The first label is chosen before unknown labels are dropped, as upstream
 * did: when several pools share a Gearman server, a plain job's queue is then
 * claimed by one pool only, not launched for by each.
 */
import type { GearmanStatusRow } from './gearman-status.js';

const BUILD_PREFIX = 'build:';

/** What a function name asks for, or undefined for a function that is not a build. */
export type BuildFunction =
  | { kind: 'labelled'; job: string; label: string }
  | { kind: 'plain'; job: string };

export function readBuildFunction(fn: string): BuildFunction | undefined {
  if (!fn.startsWith(BUILD_PREFIX)) return undefined;
  const parts = fn.slice(BUILD_PREFIX.length).split(':');
  if (parts.length === 1) return { kind: 'plain', job: parts[0] ?? '' };
  return { kind: 'labelled', job: parts[parts.length - 2] ?? '', label: parts[parts.length - 1] ?? '' };
}

/**
 * Queued work per label. `statuses` holds each server's rows, in the order
 * the servers are configured; `labels` are the labels of the configuration,
 * the only ones that count. Labels with nothing queued are left out.
 */
export function labelDemand(statuses: readonly (readonly GearmanStatusRow[])[], labels: Iterable<string>): Record<string, number> {
  const queued = new Map<string, number>();
  const firstLabelOfJob = new Map<string, string>();
  const plainQueued = new Map<string, number>();
  const add = (into: Map<string, number>, key: string, amount: number) => into.set(key, (into.get(key) ?? 0) + amount);

  for (const rows of statuses) {
    for (const row of rows) {
      const build = readBuildFunction(row.fn);
      if (build === undefined) continue;
      if (build.kind === 'labelled') {
        if (!firstLabelOfJob.has(build.job)) firstLabelOfJob.set(build.job, build.label);
        if (row.total > 0) add(queued, build.label, row.total);
      } else if (row.total > 0) {
        add(plainQueued, build.job, row.total);
      }
    }
  }
  // After every server: the first label of a job may be on a later server than its plain function.
  for (const [job, amount] of plainQueued) {
    const label = firstLabelOfJob.get(job);
    if (label !== undefined) add(queued, label, amount);
  }

  const known = new Set(labels);
  // fromEntries makes own properties, so even a label named `__proto__` is an ordinary key.
  return Object.fromEntries([...queued].filter(([label]) => known.has(label)));
}
