/**
 * When nodepoold is ready to be relied on (`/readyz`): its database
 * answers, its configuration is loaded, and every provider's last list of
 * servers succeeded recently, since that list is how nodepoold sees its
 * nodes come up and go away. Anything else is a reason, one line each.
 */
import type { NodepoolConfig, Provider } from '../config/types.js';
import { listIntervalMs, type ServerListOutcome } from '../gateway/index.js';

export interface ReadinessProbe {
  /** Resolves when a cheap query answers; rejects (or never settles) otherwise. */
  pingDatabase(): Promise<void>;
  /** The configuration in force, or undefined before one is loaded. */
  config(): Pick<NodepoolConfig, 'providers'> | undefined;
  /** How the provider's lists of servers have gone; undefined before its gateway exists. */
  serverList(provider: string): ServerListOutcome | undefined;
  now(): number;
}

/** How long the database may take to answer before it counts as not answering: a probe must answer quickly itself. */
export const DATABASE_PING_TIMEOUT_MS = 2_000;

/** How old a provider's last good list may be: several missed lists, never under a minute (a slow rate spaces them widely). */
export function serverListBoundMs(provider: Pick<Provider, 'rate'>): number {
  return Math.max(60_000, 5 * listIntervalMs(provider));
}

export async function readinessProblems(probe: ReadinessProbe): Promise<string[]> {
  const problems: string[] = [];
  const database = await databaseProblem(probe);
  if (database) problems.push(database);
  const config = probe.config();
  if (!config) return [...problems, 'the configuration is not loaded'];
  for (const provider of config.providers) {
    const problem = serverListProblem(provider, probe.serverList(provider.name), probe.now());
    if (problem) problems.push(problem);
  }
  return problems;
}

async function databaseProblem(probe: ReadinessProbe): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`the database did not answer within ${DATABASE_PING_TIMEOUT_MS / 1000} s`), DATABASE_PING_TIMEOUT_MS);
  });
  const ping = probe.pingDatabase().then(
    () => undefined,
    (err: unknown) => `the database does not answer: ${oneLine(err)}`,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function serverListProblem(provider: Pick<Provider, 'name' | 'rate'>, outcome: ServerListOutcome | undefined, now: number): string | undefined {
  const name = `provider ${provider.name}`;
  if (outcome?.failure) return `${name}: the last server list failed ${secondsAgo(outcome.failure.at, now)}: ${outcome.failure.message}`;
  if (outcome?.succeededAt === undefined) return `${name}: no server list yet`;
  const bound = serverListBoundMs(provider);
  if (now - outcome.succeededAt > bound) {
    return `${name}: the last good server list is ${secondsAgo(outcome.succeededAt, now)}, more than ${bound / 1000} s`;
  }
  return undefined;
}

function secondsAgo(at: number, now: number): string {
  return `${Math.max(0, Math.round((now - at) / 1000))} s ago`;
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
