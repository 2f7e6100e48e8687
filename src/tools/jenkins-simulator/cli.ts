import { Command, InvalidArgumentError, Option } from 'commander';
import { readToolOptions, type CliOutput } from '../tool-program.js';
import type { JenkinsJobSeed, JenkinsSimulatorOptions } from './options.js';
import { startJenkinsSimulator, type JenkinsSimulator } from './simulator.js';

export type { CliOutput } from '../tool-program.js';

interface CliOptions {
  port: number;
  contextPath: string;
  user: string;
  apiToken: string;
  crumbs: boolean;
  crumbField: string;
  apiTokenSkipsCrumb: boolean;
  job: JenkinsJobSeed[];
  target: string;
}

function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`not a valid port: '${value}'`);
  return n;
}

/** `name` or `name:PARAM,PARAM`: a job, parameterized when parameters follow (each with an empty default). */
function job(value: string, previous: JenkinsJobSeed[]): JenkinsJobSeed[] {
  const [name = '', params] = value.split(':', 2);
  if (name === '') throw new InvalidArgumentError(`not a valid job: '${value}'`);
  const parameters = params === undefined ? undefined : Object.fromEntries(params.split(',').filter((p) => p !== '').map((p) => [p, '']));
  return [...previous, { name, ...(parameters ? { parameters } : {}) }];
}

export function simulatorProgram(): Command {
  return new Command('jenkins-simulator')
    .description('A Jenkins (agents, crumbs, parameterized builds) simulated over HTTP on 127.0.0.1.')
    .addOption(new Option('--port <n>', 'port to listen on (0: any free port)').default(0).argParser(port))
    .addOption(new Option('--context-path <path>', 'where Jenkins is mounted, e.g. /jenkins').default(''))
    .addOption(new Option('--user <name>', 'the API user').default('nodepool'))
    .addOption(new Option('--api-token <token>', "the user's API token").default('nodepool-api-token'))
    .addOption(new Option('--no-crumbs', 'no CSRF protection: POSTs need no crumb, /crumbIssuer is 404'))
    .addOption(new Option('--crumb-field <name>', 'the crumb header and field name').default('Jenkins-Crumb'))
    .addOption(new Option('--api-token-skips-crumb', 'API-token requests need no crumb (Jenkins 2.96 and later)').default(false))
    .addOption(new Option('--job <name[:PARAM,...]>', 'a job; with parameters it is parameterized (repeatable)').default([]).argParser(job))
    .addOption(new Option('--target <name>', 'target name in the printed secure-file section').default('jenkins-simulator'))
    .helpOption('-h, --help', 'show this help message and exit');
}

export function toOptions(cli: CliOptions): JenkinsSimulatorOptions {
  return {
    port: cli.port,
    contextPath: cli.contextPath,
    users: [{ name: cli.user, apiToken: cli.apiToken }],
    crumbs: cli.crumbs,
    crumbRequestField: cli.crumbField,
    apiTokenSkipsCrumb: cli.apiTokenSkipsCrumb,
    jobs: cli.job,
  };
}

export function banner(sim: JenkinsSimulator, target: string): string {
  return [
    `Jenkins simulator listening on ${sim.url}`,
    `user ${sim.credentials.user} / API token ${sim.credentials.apiToken}`,
    '',
    '# secure file',
    `[jenkins "${target}"]`,
    `url=${sim.url}`,
    `user=${sim.credentials.user}`,
    `apikey=${sim.credentials.apiToken}`,
    '',
  ].join('\n');
}

/**
 * Parses argv, starts the simulator, prints where it is, and runs until
 * `stopped` settles. Exit codes as the other programs: 0, 1 failure, 2 usage.
 */
export async function runJenkinsSimulatorProgram(argv: readonly string[], output: CliOutput, stopped: Promise<unknown>): Promise<number> {
  const read = readToolOptions<CliOptions>(simulatorProgram(), argv, output);
  if ('exitCode' in read) return read.exitCode;
  const cli = read.options;
  let sim: JenkinsSimulator;
  try {
    sim = await startJenkinsSimulator(toOptions(cli));
  } catch (error) {
    output.err(`jenkins-simulator: ${(error as Error).message}\n`);
    return 1;
  }
  output.out(`${banner(sim, cli.target)}\n`);
  await stopped;
  await sim.close();
  output.out('jenkins-simulator: stopped\n');
  return 0;
}
