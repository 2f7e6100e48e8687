/** POSIX shell quoting for commands sent over SSH (like Python's shlex.quote). */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The value as one shell word: unchanged when plainly safe, else single-quoted. */
export function shellQuote(value: string): string {
  if (SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

export interface ReadyScriptCommand {
  directory: string;
  script: string;
  hostname: string;
  env: Readonly<Record<string, string>>;
}

/**
 * `cd DIR && NAME=value ... ./SCRIPT HOSTNAME`, every value quoted. Variable
 * names cannot be quoted, so a name that is not a plain identifier is refused.
 */
export function readyScriptCommand({ directory, script, hostname, env }: ReadyScriptCommand): string {
  const assignments = Object.entries(env).map(([name, value]) => {
    if (!isEnvName(name)) throw new RangeError(`environment variable name ${JSON.stringify(name)} is not a shell identifier`);
    return `${name}=${shellQuote(value)}`;
  });
  const run = [...assignments, shellQuote(`./${script}`), shellQuote(hostname)].join(' ');
  return `cd ${shellQuote(directory)} && ${run}`;
}

/** The `NODEPOOL_*` variables of an environment (docs/behaviour.md, launch step 9: passed to the ready script). */
export function nodepoolEnvironment(environment: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(environment)) {
    if (name.startsWith('NODEPOOL_') && value !== undefined && isEnvName(name)) picked[name] = value;
  }
  return picked;
}
