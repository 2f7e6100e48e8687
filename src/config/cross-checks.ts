/**
 * Checks that need more than one part of the file: names that must refer to
 * each other, and names that must be unique. Each problem points at the line
 * of the entry to fix.
 */
import type { CloudEntry } from './clouds.js';
import type { ConfigProblem, Severity } from './problems.js';
import { formatPath } from './problems.js';
import type { DataPath, SourcePositions } from './positions.js';
import type { Label, NodepoolConfig, Provider } from './types.js';

export interface CrossCheckInput {
  config: NodepoolConfig;
  file: string;
  positions: SourcePositions;
  /** The clouds of the clouds.yaml that was found, when one was found and readable. */
  clouds?: { file: string; entries: Record<string, CloudEntry> };
}

export function crossCheck(input: CrossCheckInput): ConfigProblem[] {
  const { config } = input;
  const report = reporter(input);
  checkUnique(config.labels, ['labels'], 'label', report);
  checkUnique(config.providers, ['providers'], 'provider', report);
  checkUnique(config.targets, ['targets'], 'target', report);
  checkUnique(config.diskimages, ['diskimages'], 'diskimage', report);
  config.providers.forEach((p, i) => checkUnique(p.images, ['providers', i, 'images'], `image of provider '${p.name}'`, report));
  config.labels.forEach((label, i) => checkLabel(label, i, config.providers, report));
  config.providers.forEach((p, i) => checkProviderImages(p, i, config, report));
  config.providers.forEach((p, i) => checkCredentials(p, i, input.clouds, report));
  checkCiSimulator(config, report);
  checkProviderLease(config, report);
  return report.problems;
}

/** A lease renewed less than twice within its time lapses at the first slow beat, and its providers move for nothing. */
function checkProviderLease(config: NodepoolConfig, report: Reporter): void {
  if (config.providerLeaseRenewSeconds * 2 > config.providerLeaseSeconds) {
    report(
      ['provider-lease-renew-seconds'],
      `provider-lease-renew-seconds (${config.providerLeaseRenewSeconds}) must be at most half of provider-lease-seconds (${config.providerLeaseSeconds})`,
    );
  }
}

interface Reporter {
  (path: DataPath, message: string, severity?: Severity): void;
  problems: ConfigProblem[];
  lineOf(path: DataPath): number | undefined;
}

function reporter({ file, positions }: CrossCheckInput): Reporter {
  const problems: ConfigProblem[] = [];
  const report = ((path: DataPath, message: string, severity: Severity = 'error') => {
    problems.push({ file, line: positions.lineOf(path), path: formatPath(path), message, severity });
  }) as Reporter;
  report.problems = problems;
  report.lineOf = (path) => positions.lineOf(path);
  return report;
}

/** The second of two equal names is the one reported, with the line of the first. */
function checkUnique(items: readonly { name: string }[], base: PropertyKey[], what: string, report: Reporter): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const earlier = first.get(item.name);
    if (earlier === undefined) {
      first.set(item.name, i);
      return;
    }
    const line = report.lineOf([...base, earlier, 'name']);
    const where = line === undefined ? `entry ${earlier}` : `line ${line}`;
    report([...base, i, 'name'], `duplicate ${what} name '${item.name}' (first defined at ${where})`);
  });
}

function checkLabel(label: Label, i: number, providers: readonly Provider[], report: Reporter): void {
  if (label.providers.length === 0 && label.minReady !== -1) {
    report(['labels', i], `label '${label.name}' has no providers; list at least one or set min-ready: -1 to disable it`);
  }
  label.providers.forEach((lp, j) => {
    const provider = providers.find((p) => p.name === lp.name);
    if (!provider) {
      report(['labels', i, 'providers', j, 'name'], `label '${label.name}' requests non-existent provider '${lp.name}'`);
    } else if (!provider.images.some((img) => img.name === label.image)) {
      report(['labels', i, 'providers', j, 'name'],
        `provider '${lp.name}' has no image '${label.image}' (the image of label '${label.name}')`);
    }
  });
}

/**
 * 0.4 looked a provider image up among the diskimages and failed when it was
 * missing; a file without any diskimages loaded, but such an image can never
 * be built, so that case is a warning rather than a refusal.
 */
function checkProviderImages(p: Provider, i: number, config: NodepoolConfig, report: Reporter): void {
  p.images.forEach((img, j) => {
    if (config.diskimages.some((d) => d.name === img.diskimage)) return;
    const key = img.diskimage === img.name ? 'name' : 'diskimage';
    if (config.diskimages.length === 0) {
      report(['providers', i, 'images', j, key],
        `no diskimage named '${img.diskimage}' (the file defines no diskimages), so this image is never built or uploaded`, 'warning');
    } else {
      report(['providers', i, 'images', j, key], `no diskimage named '${img.diskimage}'`);
    }
  });
}

/** The simulator's jobs run on the pool's labels: a run of a label nothing launches would wait for ever. */
function checkCiSimulator(config: NodepoolConfig, report: Reporter): void {
  const jobs = config.ciSimulator?.jobs ?? [];
  checkUnique(jobs, ['ci-simulator', 'jobs'], 'ci-simulator job', report);
  jobs.forEach((job, i) => {
    const label = config.labels.find((l) => l.name === job.label);
    if (!label) {
      report(['ci-simulator', 'jobs', i, 'label'], `ci-simulator job '${job.name}' runs on non-existent label '${job.label}'`);
    } else if (label.minReady < 0) {
      report(['ci-simulator', 'jobs', i, 'label'], `ci-simulator job '${job.name}' runs on label '${job.label}', which is disabled (min-ready: -1): its runs wait for ever`, 'warning');
    }
  });
}

function checkCredentials(p: Provider, i: number, clouds: CrossCheckInput['clouds'], report: Reporter): void {
  // A fake provider needs no credentials; a `cloud` there is simply unused.
  if (p.driver !== 'openstack') return;
  if (p.cloud === undefined) {
    if (p.authUrl === undefined) report(['providers', i], `provider '${p.name}' has no credentials: set cloud or auth-url`, 'warning');
    return;
  }
  if (clouds && !(p.cloud in clouds.entries)) {
    const known = Object.keys(clouds.entries);
    const list = known.length > 0 ? ` (it defines: ${known.join(', ')})` : '';
    report(['providers', i, 'cloud'], `cloud '${p.cloud}' is not defined in ${clouds.file}${list}`);
  }
}
