/**
 * A reload that changes how an OpenStack provider reaches its cloud makes a
 * new driver at once: nodepoold in this process (real time, real HTTP on
 * loopback) against the OpenStack simulator.
 */
import { afterEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { startOpenStackSimulator, type OpenStackSimulator } from '../../src/tools/openstack-simulator/index.js';
import { tempDir } from '../support/config-files.js';
import { createTempSqliteUri } from '../support/databases.js';
import { openDatabase } from '../../src/db/index.js';
import { startHarness, stopHarnesses } from '../support/harness.js';

let sim: OpenStackSimulator | undefined;
let db: Database | undefined;
afterEach(async () => {
  await stopHarnesses();
  await db?.close();
  await sim?.close();
});

function config(dburi: string, cloud: OpenStackSimulator, password: string) {
  return {
    dburi,
    labels: [{ name: 'small', image: 'debian', 'min-ready': 1, providers: [{ name: 'os' }] }],
    providers: [{
      name: 'os',
      'auth-url': cloud.url,
      username: cloud.credentials.username,
      password,
      'project-name': cloud.credentials.projectName,
      'max-servers': 2,
      rate: 0.01,
      'launch-timeout': 60,
      images: [{ name: 'debian', 'min-ram': 1024 }],
    }],
    targets: [{ name: 'local' }],
    diskimages: [{ name: 'debian', elements: ['debian-minimal'] }],
  };
}

it('a reload that corrects an OpenStack provider’s password takes effect without a restart', { timeout: 60_000 }, async () => {
  sim = await startOpenStackSimulator({ timings: { activeMs: 200, deleteMs: 100 } });
  const cloud = sim;
  const dburi = createTempSqliteUri();
  db = await openDatabase(dburi);
  // The image nodes boot from, as the builder would have recorded its upload.
  const image = cloud.seedImage({ name: 'template-debian', properties: { nodepool_build_id: '1', nodepool_upload_id: '1' } });
  const build = await db.builds.create({ image: 'debian', state: 'ready', formats: ['qcow2'] });
  await db.uploads.create({ buildId: build.id, provider: 'os', image: 'debian', externalId: image.id, externalName: image.name, state: 'ready' });

  const dir = tempDir();
  const h = await startHarness({ db, dir, config: config(dburi, cloud, 'not-the-password'), clock: 'real', configReadMs: 60_000 });
  await h.until('a refused list', () => h.logged((l) => l.msg === 'listing servers failed' && JSON.stringify(l).includes('401'))[0]);
  expect(cloud.servers()).toEqual([]);

  h.rewrite(config(dburi, cloud, cloud.credentials.password));
  await h.until('the new driver', () => h.logged(/^provider os: reaching the cloud with a new driver \(driver changed\)$/)[0]);
  await h.until('a server created with the new credentials', () => cloud.servers().length > 0);
  await h.until('a list that succeeds', async () => (await db?.nodes.list())?.some((n) => n.externalId));
});
