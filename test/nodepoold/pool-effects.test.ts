import { createActor } from 'xstate';
import { expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { Logging } from '../../src/log/index.js';
import { poolMachineWithEffects } from '../../src/nodepoold/pool-effects.js';
import { flush } from '../support/deferred.js';

it('an allocation that fails while the database does not answer is logged once, and once when it runs again', async () => {
  const lines: { level: string; msg: string }[] = [];
  const logging = new Logging({ level: 'debug', destination: 'stderr', loggers: {} }, { stream: { write: (t: string) => void lines.push(JSON.parse(t) as never) } });
  let down = true;
  let attempts = 0;
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' });
  const machine = poolMachineWithEffects({
    db: {} as Database,
    config: () => ({}) as never,
    gateway: () => undefined,
    clock: { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} },
    log: logging.get('nodepool.NodePool'),
    logging,
    deletesAllowed: () => true,
    deleteLease: {} as never,
    allocate: async () => {
      attempts += 1;
      if (down) throw refused;
      return [];
    },
  });
  const pool = createActor(machine, { input: { providers: [], allocateIntervalMs: 1_000 } });
  pool.start();
  for (let second = 1; second <= 5; second += 1) {
    pool.send({ type: 'tick', now: second * 1_000 });
    await flush();
  }
  down = false;
  pool.send({ type: 'tick', now: 7_000 });
  await flush();
  pool.stop();
  expect(attempts).toBeGreaterThanOrEqual(4);
  const failures = lines.filter((l) => l.msg.startsWith('allocation failed'));
  expect(failures.map((l) => [l.level, l.msg])).toEqual([['error', 'allocation failed: the database does not answer; it is tried again until it does']]);
  expect(lines.filter((l) => l.msg === 'allocation runs again')).toHaveLength(1);
});
