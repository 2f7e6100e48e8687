import { spawn } from 'node:child_process';

/**
 * Without `-d` a daemon detaches, as the 0.4 daemons did: the same command
 * starts again in the background with `-d` in its own session, and this
 * process exits. Logs go where the logging configuration says (a file, for a
 * detached daemon).
 */
export function detach(argv: readonly string[]): number {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string, ...argv, '-d'], {
    detached: true,
    stdio: 'ignore',
    env: process.env,
  });
  child.unref();
  return child.pid ?? -1;
}

/** Resolves with the first of the signals that arrives. */
export function nextSignal(signals: readonly NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handlers = signals.map((signal) => {
      const handler = () => {
        for (const [s, h] of handlers) process.off(s, h);
        resolve(signal);
      };
      process.on(signal, handler);
      return [signal, handler] as const;
    });
  });
}

/** Resolves after `ms` at the latest, whatever `work` does. */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
