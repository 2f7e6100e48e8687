import { Command, InvalidArgumentError, Option } from 'commander';
import { packageVersion } from '../version.js';
import { validateConfig } from './commands/config-validate.js';
import { deleteBuild, deleteUpload, listBuilds, listUploads, requestBuild } from './commands/images.js';
import { createJob, deleteJob, listJobs } from './commands/jobs.js';
import { holdNode, listNodes, markNodeForDeletion, type ListingOptions } from './commands/nodes.js';
import { withContext } from './context.js';
import { DEFAULT_CONFIG_FILE, DEFAULT_SECURE_FILE, type GlobalOptions } from './global-options.js';
import { processOutput, type Output } from './output.js';
import { parseCount, parseId, parseJobName, parseReason } from './parse-args.js';
import { ACTOR_MACHINES, type ActorMachine } from '../inspection/persisted-actors.js';
import { runProgram } from './run-program.js';

/**
 * The commands that reach the clouds load the actor host, the gateways and
 * the drivers; they are imported when run, so the commands that only read or
 * mark records (`list`, `hold`, `delete`) start quickly.
 */
const aliens = () => import('./commands/aliens.js');
const deleteNow = () => import('./commands/delete-now.js');
const actors = () => import('./commands/actors.js');
const providers = () => import('./commands/providers.js');

export const SUBCOMMANDS = [
  'list', 'image-list', 'dib-image-list', 'image-build', 'alien-list', 'alien-image-list', 'hold', 'delete',
  'image-delete', 'dib-image-delete', 'config-validate', 'job-list', 'job-create', 'job-delete',
  'actor-list', 'actor-show', 'why', 'provider-list', 'daemon-list', 'daemon-drain', 'daemon-undrain',
] as const;

/** Kept here (not imported from the command) so that `--help` does not load the actor commands. */
function parseMachine(value: string): ActorMachine {
  if ((ACTOR_MACHINES as readonly string[]).includes(value)) return value as ActorMachine;
  throw new InvalidArgumentError(`must be one of ${ACTOR_MACHINES.join(', ')}`);
}

function jsonOption(): Option {
  return new Option('--json', 'print the rows as JSON');
}

export function nodepoolProgram(output: Output): Command {
  const program = new Command('nodepool')
    .description('Node pool.')
    .option('-c <CONFIG>', 'path to config file', DEFAULT_CONFIG_FILE)
    .option('-s <SECURE>', `path to secure file (default: ${DEFAULT_SECURE_FILE} when present)`)
    .option('-l <LOGCONFIG>', 'path to log config file')
    .version(packageVersion(), '--version', 'show version')
    .option('--debug', 'show DEBUG level logging')
    .helpOption('-h, --help', 'show this help message and exit')
    .helpCommand(false)
    .showHelpAfterError('(run with --help for usage)');

  const globals = (command: Command): GlobalOptions => {
    const opts = command.optsWithGlobals<{ c: string; s?: string; l?: string; debug?: boolean }>();
    return { config: opts.c, secure: opts.s, logconfig: opts.l, debug: opts.debug };
  };

  // Every subcommand, or the type check fails.
  const define: Record<(typeof SUBCOMMANDS)[number], (command: Command) => void> = {
    list: (command) =>
      command
        .description('list nodes')
        .addOption(jsonOption())
        .action(async (options: ListingOptions, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => listNodes(db, output, options)),
        ),
    'image-list': (command) =>
      command
        .description('list images from providers')
        .addOption(jsonOption())
        .action(async (options: ListingOptions, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => listUploads(db, output, options)),
        ),
    'dib-image-list': (command) =>
      command
        .description('list images built with diskimage-builder')
        .addOption(jsonOption())
        .action(async (options: ListingOptions, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => listBuilds(db, output, options)),
        ),
    'image-build': (command) =>
      command
        .description('build image using diskimage-builder')
        .argument('<image>', 'image name')
        .action(async (image: string, _options: unknown, cmd: Command) => {
          const options = globals(cmd);
          // The refusal names the configuration file the image was looked up in.
          await withContext(options, ({ db, config }) => requestBuild(db, config, options.config, output, image));
        }),
    'alien-list': (command) =>
      command
        .description('list nodes not accounted for by nodepool')
        .argument('[provider]', 'provider name')
        .addOption(jsonOption())
        .action(async (provider: string | undefined, options: ListingOptions, cmd: Command) =>
          withContext(globals(cmd), async ({ db, config }) => (await aliens()).listAlienServers(db, config, output, { ...options, provider })),
        ),
    'alien-image-list': (command) =>
      command
        .description('list images not accounted for by nodepool')
        .argument('[provider]', 'provider name')
        .addOption(jsonOption())
        .action(async (provider: string | undefined, options: ListingOptions, cmd: Command) =>
          withContext(globals(cmd), async ({ db, config }) => (await aliens()).listAlienImages(db, config, output, { ...options, provider })),
        ),
    hold: (command) =>
      command
        .description('place a node in the HOLD state')
        .argument('<id>', 'node id', parseId)
        .option('--reason <REASON>', 'Optional reason this node is held', parseReason)
        .action(async (id: number, options: { reason?: string }, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => holdNode(db, output, id, options.reason)),
        ),
    delete: (command) =>
      command
        .description('place a node in the DELETE state')
        .argument('<id>', 'node id', parseId)
        .option('--now', 'delete the node in the foreground')
        .action(async (id: number, options: { now?: boolean }, cmd: Command) =>
          withContext(globals(cmd), async ({ db, config, logging, secure }) =>
            options.now
              ? (await deleteNow()).deleteNodeNow(db, config, logging, output, id, { secureJenkins: secure?.jenkins })
              : markNodeForDeletion(db, output, id),
          ),
        ),
    'image-delete': (command) =>
      command
        .description('delete an image')
        .addOption(new Option('--provider <provider>', 'provider name').makeOptionMandatory())
        .addOption(new Option('--image <image>', 'image name').makeOptionMandatory())
        .addOption(new Option('--upload-id <upload_id>', 'image upload id').argParser(parseId).makeOptionMandatory())
        .addOption(new Option('--build-id <build_id>', 'image build id').argParser(parseId).makeOptionMandatory())
        .action(async (options: { provider: string; image: string; uploadId: number; buildId: number }, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => deleteUpload(db, output, options)),
        ),
    'dib-image-delete': (command) =>
      command
        .description('delete image built with diskimage-builder')
        .argument('<id>', 'build id as dib-image-list shows it (<image>-<build id>), or the bare build id')
        .action(async (id: string, _options: unknown, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => deleteBuild(db, output, id)),
        ),
    'config-validate': (command) =>
      command.description('Validate configuration file').action((_options: unknown, cmd: Command) => {
        process.exitCode = validateConfig(globals(cmd).config, output);
      }),
    'job-list': (command) =>
      command
        .description('list jobs')
        .addOption(jsonOption())
        .action(async (options: ListingOptions, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => listJobs(db, output, options)),
        ),
    'job-create': (command) =>
      command
        .description('create job')
        .argument('<name>', 'job name', parseJobName)
        .option('--hold-on-failure <HOLD_ON_FAILURE>', 'number of nodes to hold when this job fails', parseCount, 0)
        .action(async (name: string, options: { holdOnFailure: number }, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => createJob(db, output, name, options.holdOnFailure)),
        ),
    'job-delete': (command) =>
      command
        .description('delete job')
        .argument('<id>', 'job id', parseId)
        .action(async (id: number, _options: unknown, cmd: Command) =>
          withContext(globals(cmd), ({ db }) => deleteJob(db, id)),
        ),
    'actor-list': (command) =>
      command
        .description('list the persisted actors: machine, state, time in state, owner')
        .addOption(new Option('--machine <MACHINE>', 'only this machine (node, subnode, build, upload, provider, pool, builder)').argParser(parseMachine))
        .option('--state <STATE>', 'only actors in this state (a top state matches the states under it)')
        .addOption(jsonOption())
        .action(async (options: { machine?: ActorMachine; state?: string; json?: boolean }, cmd: Command) =>
          withContext(globals(cmd), async ({ db }) => (await actors()).listActorsCommand(db, output, options)),
        ),
    'actor-show': (command) =>
      command
        .description('show an actor: its state, context and timeline')
        .argument('<id>', 'a node id, or an actor id (node-12, upload-3, provider-NAME, pool)')
        .addOption(jsonOption())
        .action(async (id: string, options: { json?: boolean }, cmd: Command) =>
          withContext(globals(cmd), async ({ db }) => (await actors()).showActorCommand(db, output, id, options)),
        ),
    why: (command) =>
      command
        .description('say why an actor is where it is and what it waits for, or why a label launches no node')
        .argument('<id>', 'a node id, an actor id (node-12, upload-3, ...), or label:NAME')
        .addOption(jsonOption())
        .action(async (id: string, options: { json?: boolean }, cmd: Command) =>
          withContext(globals(cmd), async ({ db, config }) => (await actors()).whyCommand(db, config, output, id, options)),
        ),
    'provider-list': (command) =>
      command
        .description('list providers: the nodepoold managing each (its lease), its nodes and max-servers')
        .addOption(jsonOption())
        .action(async (options: ListingOptions, cmd: Command) =>
          withContext(globals(cmd), async ({ db, config }) => (await providers()).listProviders(db, config, output, options)),
        ),
    'daemon-list': (command) =>
      command
        .description('list the nodepoold daemons sharing the database: state, providers, allocation')
        .addOption(jsonOption())
        .action(async (options: ListingOptions, cmd: Command) =>
          withContext(globals(cmd), async ({ db }) => (await providers()).listDaemons(db, output, options)),
        ),
    'daemon-drain': (command) =>
      command
        .description('ask a nodepoold to hand its providers over to the other daemons')
        .argument('<name>', 'the daemon: nodepoold:HOST:PID, or HOST:PID as daemon-list shows it')
        .action(async (name: string, _options: unknown, cmd: Command) =>
          withContext(globals(cmd), async ({ db }) => (await providers()).setDaemonDraining(db, output, name, true)),
        ),
    'daemon-undrain': (command) =>
      command
        .description('let a drained nodepoold take providers again')
        .argument('<name>', 'the daemon: nodepoold:HOST:PID, or HOST:PID as daemon-list shows it')
        .action(async (name: string, _options: unknown, cmd: Command) =>
          withContext(globals(cmd), async ({ db }) => (await providers()).setDaemonDraining(db, output, name, false)),
        ),
  };

  // Upstream's order, so `--help` reads as operators know it.
  for (const name of SUBCOMMANDS) define[name](program.command(name).helpOption('-h, --help', 'show this help message and exit'));
  return program;
}

export function runNodepool(argv: readonly string[], output: Output = processOutput): Promise<number> {
  return runProgram(nodepoolProgram(output), argv, output);
}
