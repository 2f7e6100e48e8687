import { renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ReplaySubject, elementAt, firstValueFrom, timeout } from 'rxjs';
import type { Subscription } from 'rxjs';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import type { ConfigResult, NodepoolConfig } from '../../src/config/index.js';
import { watchConfig } from '../../src/streams/index.js';
import type { ConfigUpdate, WatchConfigOptions } from '../../src/streams/index.js';
import { cleanTempDirs, configYaml, eventually, memoryLogger, tempDir, write } from './support.js';

const subscriptions: Subscription[] = [];

afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  cleanTempDirs();
});

/** A nodepool.yaml in a fresh directory, loaded where no clouds.yaml can be found. */
function configFile(text = configYaml()): { file: string; dir: string; load: (file: string) => ConfigResult; reads: () => number } {
  const dir = tempDir();
  const file = join(dir, 'nodepool.yaml');
  write(file, text);
  let count = 0;
  const load = (f: string) => {
    count++;
    return loadConfig(f, { env: {}, cwd: dir, homeDir: dir, cloudsSystemDir: dir });
  };
  return { file, dir, load, reads: () => count };
}

/** Subscribes and keeps every update; `update(n)` waits (bounded) for the n-th, counting from 0. */
function watch(file: string, options: Partial<WatchConfigOptions> & Pick<WatchConfigOptions, 'logger'>) {
  const updates: ConfigUpdate[] = [];
  const updates$ = new ReplaySubject<ConfigUpdate>();
  const subscription = watchConfig(file, { intervalMs: 60_000, debounceMs: 20, ...options }).subscribe({
    next: (u) => {
      updates.push(u);
      updates$.next(u);
    },
    error: (e: unknown) => updates$.error(e),
  });
  subscriptions.push(subscription);
  const update = (n: number) => firstValueFrom(updates$.pipe(elementAt(n), timeout(5000)));
  return { updates, update, subscription };
}

function maxServers(config: NodepoolConfig | undefined, provider = 'east'): number | undefined {
  return config?.providers.find((p) => p.name === provider)?.maxServers;
}

describe('watchConfig: the file on disk', () => {
  it('emits the initial configuration at once, everything added', async () => {
    const { file, load } = configFile();
    const { logger } = memoryLogger();
    const { updates, update } = watch(file, { logger, load });
    expect(updates).toHaveLength(1);
    const first = await update(0);
    expect(first.previous).toBeUndefined();
    expect(first.diff.providers.added).toEqual(['east']);
    expect(first.diff.labels.added).toEqual(['small']);
    expect(maxServers(first.config)).toBe(5);
  });

  it('an edit of the file emits the difference', async () => {
    const { file, load } = configFile();
    const { logger, lines } = memoryLogger();
    const { update } = watch(file, { logger, load });
    write(file, configYaml({ maxServers: 10 }));
    const second = await update(1);
    expect(second.diff.providers.changed).toMatchObject([{ name: 'east', fields: ['maxServers'], aspects: ['limits'] }]);
    expect(maxServers(second.previous)).toBe(5);
    expect(maxServers(second.config)).toBe(10);
    expect(lines.some((l) => l.level === 'info' && l.msg === 'configuration reloaded: providers changed: east (limits)')).toBe(true);
  });

  it('a file replaced by rename, as editors save, is seen', async () => {
    const { file, dir, load } = configFile();
    const { logger } = memoryLogger();
    const { update } = watch(file, { logger, load });
    const swap = join(dir, '.nodepool.yaml.swp');
    write(swap, configYaml({ providers: ['east', 'west'] }));
    renameSync(swap, file);
    const second = await update(1);
    expect(second.diff.providers.added).toEqual(['west']);
    // The watch survives the replacement: a second save is seen too.
    write(swap, configYaml({ providers: ['west'] }));
    renameSync(swap, file);
    const third = await update(2);
    expect(third.diff.providers.removed).toEqual(['east']);
  });

  it('an invalid edit is logged with its problems and ignored; the next valid edit is compared with the last good one', async () => {
    const { file, load } = configFile();
    const { logger, waitForLine } = memoryLogger();
    const { updates, update } = watch(file, { logger, load });

    write(file, configYaml().replace('max-servers: 5', 'max-servers: lots'));
    const logged = await waitForLine((l) => l.level === 'error');
    expect(logged.msg).toContain(`configuration file ${file} is invalid; keeping the running configuration`);
    expect(logged.msg).toMatch(/nodepool\.yaml:6: providers\[0\]\.max-servers: expected an integer/);
    expect(logged.problems).toEqual([expect.stringMatching(/providers\[0\]\.max-servers/)]);
    expect(updates).toHaveLength(1);

    write(file, configYaml({ maxServers: 7 }));
    const second = await update(1);
    expect(maxServers(second.previous)).toBe(5);
    expect(maxServers(second.config)).toBe(7);
    expect(second.diff.providers.changed.map((c) => c.fields)).toEqual([['maxServers']]);
  });

  it('a file deleted mid-edit keeps the running configuration until it is back', async () => {
    const { file, load } = configFile();
    const { logger, waitForLine } = memoryLogger();
    const { updates, update } = watch(file, { logger, load });

    unlinkSync(file);
    const logged = await waitForLine((l) => l.level === 'warn' && l.msg.includes('missing'));
    expect(logged.msg).toBe(`configuration file ${file} is missing; keeping the running configuration until it is back`);
    expect(updates).toHaveLength(1);

    write(file, configYaml({ minReady: 3 }));
    const second = await update(1);
    expect(second.diff.labels.changed).toEqual([{ name: 'small', fields: ['minReady'] }]);
    expect(maxServers(second.previous)).toBe(5);
  });

  it('a rewrite that changes nothing the configuration holds emits nothing', async () => {
    const { file, load, reads } = configFile();
    const { logger } = memoryLogger();
    const { updates } = watch(file, { logger, load });
    const before = reads();
    write(file, `# reformatted, same content\n${configYaml()}`);
    await eventually(() => reads() > before);
    expect(updates).toHaveLength(1);
  });

  it('a file changed after the running configuration was read (while a daemon starts) is a reload at once, with no event needed', async () => {
    const { file, load } = configFile(configYaml({ maxServers: 10 }));
    const running = load(file).config as NodepoolConfig;
    write(file, configYaml({ maxServers: 12 }));
    const { logger } = memoryLogger();
    const { updates } = watch(file, { logger, load, running, debounceMs: 60_000 });
    // The first update is the running configuration; the second, the file as it is now.
    expect(updates).toHaveLength(2);
    expect(maxServers(updates[0]?.config)).toBe(10);
    expect(maxServers(updates[1]?.config)).toBe(12);
    expect(updates[1]?.diff.providers.changed.map((c) => c.name)).toEqual(['east']);
  });

  it('unsubscribing closes the directory watch and the timers', async () => {
    const { file, load } = configFile();
    const { logger } = memoryLogger();
    const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    // Watches of earlier tests close asynchronously; start from a quiet process.
    await eventually(() => count('FSEventWrap') === 0);
    const watchers = count('FSEventWrap');
    const timers = count('Timeout');

    const subscription = watchConfig(file, { logger, load, intervalMs: 1000 }).subscribe();
    expect(count('FSEventWrap')).toBe(watchers + 1);
    expect(count('Timeout')).toBe(timers + 1);

    subscription.unsubscribe();
    // At most as many as before: a timer of an earlier test that was active then may have ended meanwhile.
    await eventually(() => count('FSEventWrap') <= watchers && count('Timeout') <= timers)
      .catch(() => { throw new Error(`still active: ${process.getActiveResourcesInfo().join(', ')}`); });
  });

  it('a daemon cannot start on an invalid file: the stream errors with every problem', async () => {
    const { file, load } = configFile(configYaml().replace('min-ram: 1024', 'min-ram: -1'));
    const { logger } = memoryLogger();
    const error = await firstValueFrom(watchConfig(file, { logger, load })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/nodepool\.yaml:\d+: providers\[0\]\.images\[0\]\.min-ram: must not be negative/);
  });

  it('nor on a missing one', async () => {
    const dir = tempDir();
    const { logger } = memoryLogger();
    const error = await firstValueFrom(watchConfig(join(dir, 'nope.yaml'), { logger })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(1);
  });
});

describe('watchConfig: the periodic re-read (simulated clock)', () => {
  /** The file is written once; what `load` returns is what a re-read would find. */
  function simulated() {
    const { file, load: realLoad, dir } = configFile();
    let current: ConfigResult = realLoad(file);
    const base = current.config as NodepoolConfig;
    const clock = new SimulatedClock();
    const { logger, lines } = memoryLogger();
    const { updates } = watch(file, { logger, clock, intervalMs: 60_000, load: () => current });
    return {
      updates, lines, clock, base, dir,
      set(result: ConfigResult) { current = result; },
      edit(change: (c: NodepoolConfig) => void) {
        const next = structuredClone(base);
        change(next);
        current = { config: next, problems: [], ignored: [] };
      },
    };
  }

  it('picks up a change that the directory watch did not report', () => {
    const sim = simulated();
    sim.edit((c) => { c.providers[0]!.maxServers = 0; });
    sim.clock.increment(59_999);
    expect(sim.updates).toHaveLength(1);
    sim.clock.increment(1);
    expect(sim.updates).toHaveLength(2);
    expect(sim.updates[1]?.diff.providers.retiring).toEqual(['east']);
  });

  it('an unchanged re-read emits nothing, an identical copy neither', () => {
    const sim = simulated();
    sim.clock.increment(60_000);
    sim.edit(() => undefined);
    sim.clock.increment(60_000);
    expect(sim.updates).toHaveLength(1);
  });

  it('an invalid file is logged once however often it is re-read, and again after a good one', () => {
    const sim = simulated();
    const invalid: ConfigResult = {
      problems: [{ file: 'nodepool.yaml', line: 3, path: 'labels[0].image', message: 'no such image', severity: 'error' }],
      ignored: [],
    };
    sim.set(invalid);
    for (let i = 0; i < 3; i++) sim.clock.increment(60_000);
    const errors = () => sim.lines.filter((l) => l.level === 'error');
    expect(errors()).toHaveLength(1);
    expect(errors()[0]?.msg).toContain('nodepool.yaml:3: labels[0].image: no such image');

    sim.edit((c) => { c.labels[0]!.minReady = 4; });
    sim.clock.increment(60_000);
    expect(sim.updates).toHaveLength(2);
    sim.set(invalid);
    sim.clock.increment(60_000);
    expect(errors()).toHaveLength(2);
    expect(sim.updates).toHaveLength(2);
  });

  it('warnings in a new valid file are logged once with the update', () => {
    const sim = simulated();
    const next = structuredClone(sim.base);
    next.labels[0]!.minReady = 2;
    sim.set({ config: next, problems: [{ file: 'nodepool.yaml', line: 9, path: 'labels[0].color', message: "unknown key 'color'", severity: 'warning' }], ignored: [] });
    sim.clock.increment(60_000);
    sim.clock.increment(60_000);
    const warnings = sim.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain("nodepool.yaml:9: labels[0].color: warning: unknown key 'color'");
    expect(sim.updates).toHaveLength(2);
  });
});
