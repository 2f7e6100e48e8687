/**
 * Where statsd metrics go: STATSD_HOST (on when set), STATSD_PORT (default
 * 8125) and STATSD_PREFIX, the variables Nodepool 0.4 read.
 */
export interface StatsdSettings {
  host: string;
  port: number;
  prefix?: string;
}

export const DEFAULT_STATSD_PORT = 8125;

/** The settings in the environment, or undefined when STATSD_HOST is not set. Throws on a port that is not one. */
export function statsdSettingsFrom(env: NodeJS.ProcessEnv): StatsdSettings | undefined {
  const host = env.STATSD_HOST?.trim();
  if (!host) return undefined;
  const rawPort = env.STATSD_PORT?.trim();
  const port = rawPort ? Number(rawPort) : DEFAULT_STATSD_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`STATSD_PORT must be a port number (1-65535), not ${JSON.stringify(rawPort)}`);
  const prefix = env.STATSD_PREFIX?.trim();
  return { host, port, ...(prefix ? { prefix } : {}) };
}
