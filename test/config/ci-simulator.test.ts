/** The `ci-simulator:` section (ext): its jobs with their defaults, and every mistake named where it is. */
import { afterEach, describe, expect, it } from 'vitest';
import { diffConfig, loadConfig } from '../../src/config/index.js';
import type { ConfigProblem } from '../../src/config/index.js';
import { cleanTempDirs, configText, tempDir, writeFile } from './helpers.js';

afterEach(cleanTempDirs);

function loadWith(section: string[]) {
  const text = `${configText()}ci-simulator:\n${section.map((l) => `  ${l}`).join('\n')}\n`;
  return loadConfig(writeFile(tempDir(), 'nodepool.yaml', text));
}

const messages = (problems: ConfigProblem[], severity: 'error' | 'warning' = 'error') =>
  problems.filter((p) => p.severity === severity).map((p) => `${p.path}: ${p.message}`);

describe('the ci-simulator section', () => {
  it('reads its jobs in seconds, a missing failure-rate and hold-on-failure being 0', () => {
    const result = loadWith([
      'publish: tcp://127.0.0.1:8888',
      'jobs:',
      '  - {name: gate, label: lab, every: 10, duration: 15}',
      '  - {name: flaky, label: lab, every: 0.5, duration: 0, failure-rate: 0.5, hold-on-failure: 2}',
    ]);
    expect(messages(result.problems)).toEqual([]);
    expect(result.config?.ciSimulator).toEqual({
      publish: 'tcp://127.0.0.1:8888',
      jobs: [
        { name: 'gate', label: 'lab', everyS: 10, durationS: 15, failureRate: 0, holdOnFailure: 0 },
        { name: 'flaky', label: 'lab', everyS: 0.5, durationS: 0, failureRate: 0.5, holdOnFailure: 2 },
      ],
    });
  });

  it('is absent from a file without it, and a change to it is a changed setting', () => {
    const without = loadConfig(writeFile(tempDir(), 'nodepool.yaml', configText()));
    expect(without.config?.ciSimulator).toBeUndefined();
    const withIt = loadWith(['jobs: [{name: gate, label: lab, every: 10, duration: 15}]']);
    if (!without.config || !withIt.config) throw new Error('fixtures must load');
    expect(diffConfig(without.config, withIt.config).settings).toEqual(['ciSimulator']);
  });

  it('refuses a job that could not run, naming each mistake', () => {
    const result = loadWith([
      'publish: 127.0.0.1:8888',
      'jobs:',
      '  - {name: "a:b", label: lab, every: 0, duration: -1, failure-rate: 1.5, hold-on-failure: -1}',
      '  - {name: gate, label: nowhere, every: 10, duration: 1}',
      '  - {name: gate, label: lab, every: 10, duration: 1}',
    ]);
    expect(messages(result.problems)).toEqual([
      "ci-simulator.publish: must look like tcp://host:port",
      "ci-simulator.jobs[0].name: must not contain ':' (it separates the job from the label in build:<job>:<label>)",
      'ci-simulator.jobs[0].every: must be a positive number of seconds',
      'ci-simulator.jobs[0].duration: must not be negative (seconds)',
      'ci-simulator.jobs[0].failure-rate: must be between 0 and 1',
      'ci-simulator.jobs[0].hold-on-failure: must not be negative (nodes)',
    ]);
    const crossChecked = loadWith(['jobs:', '  - {name: gate, label: nowhere, every: 10, duration: 1}', '  - {name: gate, label: lab, every: 10, duration: 1}']);
    expect(messages(crossChecked.problems)).toEqual([
      "ci-simulator.jobs[0].label: ci-simulator job 'gate' runs on non-existent label 'nowhere'",
      "ci-simulator.jobs[1].name: duplicate ci-simulator job name 'gate' (first defined at line 19)",
    ]);
  });

  it('needs its jobs, and warns of a key it does not know', () => {
    expect(messages(loadWith(['publish: tcp://127.0.0.1:8888']).problems)).toEqual(['ci-simulator.jobs: missing required key \'jobs\'']);
    const misspelt = loadWith(['jobs: [{name: gate, label: lab, every: 10, duration: 1, failure_rate: 0.5}]']);
    expect(messages(misspelt.problems, 'warning')).toEqual(["ci-simulator.jobs[0].failure_rate: unknown key 'failure_rate' (ignored); did you mean 'failure-rate'?"]);
  });
});
