import { tmpdir } from 'node:os';
import type { ActorHost } from '../actors/host.js';
import type { Logger } from '../log/index.js';
import { dumpActors } from '../actors/actor-dump.js';
import { SignalProfiler } from './profiler.js';

/**
 * SIGUSR2 as both daemons answer it: a dump of every live actor, and CPU
 * profiling on (first signal) and written out (second). Returns the remover.
 */
export function onSigusr2(log: Logger, host: Pick<ActorHost, 'roots' | 'eventsReceived'>): () => void {
  const profiler = new SignalProfiler(tmpdir());
  const handler = () => {
    const actors = host.roots().flatMap((root) => dumpActors(root));
    const line = (a: (typeof actors)[number]) => `${'  '.repeat(a.depth)}${a.id}: ${a.state || a.status} (${host.eventsReceived(a.id)} events)`;
    log.info({ actors: actors.length }, `live actors:\n${actors.map(line).join('\n')}`);
    profiler.toggle().then(
      (file) => log.info(file ? `CPU profile written to ${file}; profiling stopped` : 'CPU profiling started; send SIGUSR2 again to write it'),
      (err: unknown) => log.error({ err }, 'profiling failed'),
    );
  };
  process.on('SIGUSR2', handler);
  return () => process.off('SIGUSR2', handler);
}
