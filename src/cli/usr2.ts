import { tmpdir } from 'node:os';
import type { AnyActorRef } from 'xstate';
import type { Logger } from '../log/index.js';
import { dumpActors } from '../runtime/actor-dump.js';
import { SignalProfiler } from '../runtime/profiler.js';

/**
 * SIGUSR2 as both daemons answer it: a dump of every live actor, and CPU
 * profiling on (first signal) and written out (second). Returns the remover.
 */
export function onSigusr2(log: Logger, roots: () => (AnyActorRef | undefined)[]): () => void {
  const profiler = new SignalProfiler(tmpdir());
  const handler = () => {
    const actors = roots().flatMap((root) => (root ? dumpActors(root) : []));
    log.info({ actors: actors.length }, `live actors:\n${actors.map((a) => `${'  '.repeat(a.depth)}${a.id}: ${a.state || a.status}`).join('\n')}`);
    profiler.toggle().then(
      (file) => log.info(file ? `CPU profile written to ${file}; profiling stopped` : 'CPU profiling started; send SIGUSR2 again to write it'),
      (err: unknown) => log.error({ err }, 'profiling failed'),
    );
  };
  process.on('SIGUSR2', handler);
  return () => process.off('SIGUSR2', handler);
}
