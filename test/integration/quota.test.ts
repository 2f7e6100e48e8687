/**
 * **beyond** 0.4: a provider's capacity is the lower of max-servers and what
 * the cloud's quota leaves, so nodepoold does not fill a cloud with creates
 * that can only fail.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { allocationAfter, allocationWatch, startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { poolConfig } from '../support/pool-config.js';

let daemon: RunningDaemon | undefined;
let db: Database | undefined;
afterEach(async () => {
  await daemon?.stop();
  await db?.close();
});

describe('nodepoold and the cloud quota', () => {
  it('launches no more nodes than the quota leaves, even under max-servers, and no create fails', async () => {
    const dir = tempDir();
    const dburi = `sqlite://${join(dir, 'np.db')}`;
    const config = poolConfig({ dir, dburi, labels: [{ name: 'small', minReady: 6, providers: ['fake-a'] }] });
    const provider = (config.providers as Record<string, Record<string, unknown>>[])[0] as Record<string, Record<string, unknown>>;
    provider.fake = { ...provider.fake, quota: { instances: 4, cores: 100, ram: 100_000 } };
    const watch = allocationWatch(dir);
    daemon = startNodepoold(['-c', writeConfigFile(dir, config), '--no-builder', ...watch.args], watch.env);
    db = await openDatabase(dburi);
    const running = daemon;
    await waitFor('4 ready nodes', async () => (await db?.nodes.list({ state: 'ready' }))?.length === 4).catch((e: Error) => {
      throw new Error(`${e.message}\n${running.tail()}`);
    });
    // Allocation runs that came after the fourth node was ready launch nothing more.
    const lastReady = running.lines.findLastIndex((l) => / is ready$/.test(l.msg));
    const next = await allocationAfter(running, lastReady);
    await allocationAfter(running, running.lines.indexOf(next));
    expect((await db.nodes.list()).length).toBe(4);
    expect(running.lines.filter((l) => /quota|Quota/.test(String(l.msg)) && l.level === 'error')).toEqual([]);
  });
});
