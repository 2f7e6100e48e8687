import { Command, InvalidArgumentError, Option } from 'commander';
import { readToolOptions, type CliOutput } from '../tool-program.js';
import type { OpenStackSimulatorOptions } from './options.js';
import { startOpenStackSimulator, type OpenStackSimulator } from './simulator.js';

export type { CliOutput } from '../tool-program.js';

interface CliOptions {
  port: number;
  region: string;
  activeSeconds: number;
  deleteSeconds: number;
  errorRate: number;
  errorNamePattern?: string;
  tokenLifetime: number;
  quotaInstances: number;
  quotaCores: number;
  quotaRam: number;
  latency: number;
  floatingIps: boolean;
  seed?: number;
  cloudName: string;
}

type Kind = 'seconds' | 'count' | 'probability' | 'port';

const VALID: Record<Kind, (n: number) => boolean> = {
  seconds: (n) => n >= 0,
  probability: (n) => n >= 0 && n <= 1,
  count: (n) => Number.isInteger(n) && n >= -1,
  port: (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
};

/** A commander parser for a number of this kind; anything else is a usage error. */
function number(kind: Kind) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || !VALID[kind](n)) throw new InvalidArgumentError(`not a valid ${kind}: '${value}'`);
    return n;
  };
}

export function simulatorProgram(): Command {
  return new Command('openstack-simulator')
    .description('An OpenStack cloud (Keystone, Nova, Glance, Neutron) simulated over HTTP on 127.0.0.1.')
    .addOption(new Option('--port <n>', 'port to listen on (0: any free port)').default(0).argParser(number('port')))
    .addOption(new Option('--region <name>', 'region in the catalog').default('RegionOne'))
    .addOption(new Option('--active-seconds <s>', 'BUILD to ACTIVE (or ERROR)').default(2).argParser(number('seconds')))
    .addOption(new Option('--delete-seconds <s>', 'DELETE to 404').default(1).argParser(number('seconds')))
    .addOption(new Option('--error-rate <p>', 'probability that a server ends in ERROR').default(0).argParser(number('probability')))
    .addOption(new Option('--error-name-pattern <regexp>', 'servers whose name matches end in ERROR'))
    .addOption(new Option('--token-lifetime <s>', 'Keystone token lifetime in seconds').default(86400).argParser(number('seconds')))
    .addOption(new Option('--quota-instances <n>', 'Nova instances quota (-1: unlimited)').default(10).argParser(number('count')))
    .addOption(new Option('--quota-cores <n>', 'Nova cores quota (-1: unlimited)').default(20).argParser(number('count')))
    .addOption(new Option('--quota-ram <mb>', 'Nova RAM quota in MB (-1: unlimited)').default(51200).argParser(number('count')))
    .addOption(new Option('--latency <ms>', 'added to every answer').default(0).argParser(number('seconds')))
    .addOption(new Option('--no-floating-ips', 'Neutron without the L3 plugin: /v2.0/floatingips is 404'))
    .addOption(new Option('--seed <n>', 'seed for the error-rate draws').argParser(number('count')))
    .addOption(new Option('--cloud-name <name>', 'cloud name in the printed clouds.yaml').default('openstack-simulator'))
    .helpOption('-h, --help', 'show this help message and exit');
}

export function toOptions(cli: CliOptions): OpenStackSimulatorOptions {
  return {
    port: cli.port,
    region: cli.region,
    timings: { activeMs: cli.activeSeconds * 1000, deleteMs: cli.deleteSeconds * 1000 },
    errorRate: cli.errorRate,
    errorNamePattern: cli.errorNamePattern,
    tokenLifetimeSeconds: cli.tokenLifetime,
    quota: { instances: cli.quotaInstances, cores: cli.quotaCores, ram: cli.quotaRam },
    latencyMs: cli.latency > 0 ? { '*': cli.latency } : {},
    floatingIps: cli.floatingIps,
    seed: cli.seed,
  };
}

export function banner(sim: OpenStackSimulator, cloudName: string): string {
  return [
    `OpenStack simulator listening on ${sim.endpoints.base} (region ${sim.region})`,
    `auth URL: ${sim.url}`,
    `user ${sim.credentials.username} / password ${sim.credentials.password}, project ${sim.credentials.projectName}, domain Default`,
    '',
    '# clouds.yaml',
    sim.cloudsYaml(cloudName),
  ].join('\n');
}

/**
 * Parses argv, starts the simulator, prints where it is, and runs until
 * `stopped` settles. Exit codes as the other programs: 0, 1 failure, 2 usage.
 */
export async function runSimulatorProgram(argv: readonly string[], output: CliOutput, stopped: Promise<unknown>): Promise<number> {
  const read = readToolOptions<CliOptions>(simulatorProgram(), argv, output);
  if ('exitCode' in read) return read.exitCode;
  const cli = read.options;
  let sim: OpenStackSimulator;
  try {
    sim = await startOpenStackSimulator(toOptions(cli));
  } catch (error) {
    output.err(`openstack-simulator: ${(error as Error).message}\n`);
    return 1;
  }
  output.out(`${banner(sim, cli.cloudName)}\n`);
  await stopped;
  await sim.close();
  output.out('openstack-simulator: stopped\n');
  return 0;
}
