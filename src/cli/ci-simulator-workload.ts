/**
 * The CI simulator inside nodepoold, as a workload of the actor host: it
 * starts once nodepoold is listening, follows reloads of its jobs, and
 * stops before nodepoold does, so the runs it aborts reach their nodes
 * while nodepoold still handles job events.
 */
import { createMachine } from 'xstate';
import type { RootSpec, Workload } from '../actors/host.js';
import type { ConfigUpdate } from '../streams/config-watch.js';
import type { CiSimulator } from '../tools/ci-simulator/index.js';

/** The host gives every workload a root actor; the simulator has no actors, so its root does nothing. */
const IDLE_ROOT = createMachine({ id: 'ci-simulator' });
const IDLE_TICK_MS = 60_000;

export class CiSimulatorWorkload implements Workload {
  readonly name = 'ci-simulator';
  readonly kinds = [];

  constructor(private readonly simulator: CiSimulator) {}

  root(): RootSpec {
    return { id: 'ci-simulator', logic: IDLE_ROOT, input: undefined, tickMs: IDLE_TICK_MS };
  }

  async start(): Promise<void> {
    await this.simulator.start();
  }

  reconfigure({ config }: ConfigUpdate): void {
    this.simulator.reconfigure(config.ciSimulator?.jobs ?? []);
  }

  async stopping(): Promise<void> {
    await this.simulator.stop();
  }
}
