import { readFileSync } from 'node:fs';
import type { FakeCloudState } from '../../src/drivers/fake/index.js';
import { isGone } from '../../src/simulated-cloud/index.js';

/** The simulated cloud as its state file says it is (what another process, the daemon, left there). */
export function cloudState(stateFile: string): FakeCloudState {
  return JSON.parse(readFileSync(stateFile, 'utf8')) as FakeCloudState;
}

/** Servers the simulated cloud still has (not deleted and gone). */
export function liveServers(stateFile: string): FakeCloudState['servers'] {
  return cloudState(stateFile).servers.filter((s) => !isGone(s, Date.now()));
}
