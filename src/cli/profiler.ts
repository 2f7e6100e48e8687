import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/**
 * SIGUSR2 profiling as the 0.4 daemons did with yappi: the first signal
 * starts the CPU profiler, the second writes what it collected (a
 * `.cpuprofile` for Chrome DevTools or speedscope) and stops it.
 */
export class SignalProfiler {
  private session: Session | undefined;

  constructor(private readonly directory: string) {}

  get running(): boolean {
    return this.session !== undefined;
  }

  /** Starts profiling, or stops it and returns the file written. */
  async toggle(): Promise<string | undefined> {
    if (!this.session) {
      const session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      this.session = session;
      return undefined;
    }
    const session = this.session;
    this.session = undefined;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    const file = join(this.directory, `nodepool-${process.pid}-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  }
}
