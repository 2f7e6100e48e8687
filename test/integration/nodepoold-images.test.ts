/**
 * nodepoold with its in-process builder, as an operator drives it: nodes boot
 * from the newest ready upload, `image-build` makes a new one that new nodes
 * use, and `image-delete` of the current upload sends new nodes back to the
 * previous one at once (the reason the previous one is kept).
 */
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { runExecutable } from '../support/cli.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { writePoolConfig } from '../support/pool-config.js';

const FAST_BUILDER = {
  NODEPOOL_BUILDER_TICK_SECONDS: '0.1',
  NODEPOOL_BUILDER_SURVEY_SECONDS: '0.2',
};

const running: RunningDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.stop();
});

describeEachBackend('nodepoold and its builder', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });

  it('new nodes use a new upload as soon as it is ready, and the previous one the moment the current is deleted', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 1, providers: ['fake-a'] }] });
    const nodepool = (...args: string[]) => runExecutable('nodepool', ['-c', configFile, ...args]);
    const daemon = startNodepoold(['-c', configFile], FAST_BUILDER);
    running.push(daemon);
    const failWithTail = (e: Error) => {
      throw new Error(`${e.message}\n${daemon.tail()}`);
    };

    const readyUpload = (buildId: number) =>
      waitFor(`build ${buildId} uploaded`, async () => (await db.uploads.list({ states: ['ready'] })).find((u) => u.buildId === buildId)).catch(failWithTail);
    /** Deletes the ready node and returns its replacement once that is ready. */
    const replaceNode = async () => {
      const [old] = await db.nodes.list({ state: 'ready' });
      if (!old) throw new Error(`no ready node\n${daemon.tail()}`);
      expect((await nodepool('delete', String(old.id))).code).toBe(0);
      return waitFor('a replacement node', async () => (await db.nodes.list({ state: 'ready' })).find((n) => n.id > old.id)).catch(failWithTail);
    };

    const first = await waitFor('the first build', async () => (await db.builds.list())[0]).catch(failWithTail);
    const firstUpload = await readyUpload(first.id);
    await waitFor('a ready node', async () => (await db.nodes.list({ state: 'ready' }))[0]).catch(failWithTail);
    expect((await replaceNode()).uploadId).toBe(firstUpload.id);

    const requested = await nodepool('image-build', 'debian');
    expect(requested.code, requested.stderr).toBe(0);
    const second = await waitFor('the requested build', async () => (await db.builds.list()).find((b) => b.id > first.id)).catch(failWithTail);
    const secondUpload = await readyUpload(second.id);
    expect((await replaceNode()).uploadId).toBe(secondUpload.id);

    const deleted = await nodepool(
      'image-delete', '--provider', 'fake-a', '--image', 'debian', '--build-id', String(second.id), '--upload-id', String(secondUpload.id),
    );
    expect(deleted.code, deleted.stderr).toBe(0);
    // The very next launch already boots from the previous upload.
    expect((await replaceNode()).uploadId).toBe(firstUpload.id);
    await waitFor('the deleted upload to go', async () => (await db.uploads.get(secondUpload.id)) === undefined).catch(failWithTail);

    const listed = await nodepool('image-list', '--json');
    const rows = JSON.parse(listed.stdout) as { upload_id: number; state: string }[];
    expect(rows.map((r) => [r.upload_id, r.state])).toEqual([[firstUpload.id, 'ready']]);
  });
});
