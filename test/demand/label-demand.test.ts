/** Queued work per label from the status rows of every server, as Nodepool 0.4 read them. */
import { describe, expect, it } from 'vitest';
import { labelDemand, readBuildFunction } from '../../src/demand/index.js';
import type { GearmanStatusRow } from '../../src/demand/index.js';

const LABELS = ['small', 'large', 'gpu'];

/** A status row: `row(fn, total, running?, workers?)`. */
function row(fn: string, total: number, running = 0, workers = 0): GearmanStatusRow {
  return { fn, total, running, workers };
}

describe('a function name', () => {
  it('is a build for a label, a plain build, or not a build', () => {
    expect(readBuildFunction('build:job:small')).toEqual({ kind: 'labelled', job: 'job', label: 'small' });
    expect(readBuildFunction('build:job')).toEqual({ kind: 'plain', job: 'job' });
    expect(readBuildFunction('merger:merge')).toBeUndefined();
    expect(readBuildFunction('Build:job:small')).toBeUndefined();
  });

  it('with more colons, has its label last and its job just before, as upstream split it', () => {
    expect(readBuildFunction('build:folder:job:small')).toEqual({ kind: 'labelled', job: 'job', label: 'small' });
  });
});

describe('queued work per label', () => {
  it('is the total of each build:<job>:<label>, summed over jobs', () => {
    expect(labelDemand([[row('build:job:small', 7), row('build:other:small', 2), row('build:job:large', 1)]], LABELS))
      .toEqual({ small: 9, large: 1 });
  });

  it('counts running jobs too: their nodes are `used`, which the allocation counts against the demand', () => {
    expect(labelDemand([[row('build:job:small', 7, 3, 3)]], LABELS)).toEqual({ small: 7 });
  });

  it('gives a plain build:<job> to the first label seen for that job, even one with nothing queued', () => {
    const rows = [row('build:other:large', 0, 0, 1), row('build:other', 2), row('build:other:small', 4)];
    expect(labelDemand([rows], LABELS)).toEqual({ large: 2, small: 4 });
  });

  it('looks for that first label across the servers in the order given, whichever server the plain job is on', () => {
    const east = [row('build:other', 2)];
    const west = [row('build:other:gpu', 0), row('build:other:small', 1)];
    const north = [row('build:other:large', 0), row('build:other', 3)];
    expect(labelDemand([east, west, north], LABELS)).toEqual({ gpu: 5, small: 1 });
    expect(labelDemand([north, west, east], LABELS)).toEqual({ large: 5, small: 1 });
  });

  it('gives a plain job with no labelled function on any server to no label', () => {
    expect(labelDemand([[row('build:lonely', 4), row('build:job:small', 1)]], LABELS)).toEqual({ small: 1 });
  });

  it('sums one label over several servers', () => {
    expect(labelDemand([[row('build:job:small', 7)], [row('build:job:small', 5)]], LABELS)).toEqual({ small: 12 });
  });

  it('ignores functions that are not builds', () => {
    expect(labelDemand([[row('merger:merge', 9), row('executor:execute', 3), row('build:job:small', 1)]], LABELS)).toEqual({ small: 1 });
  });

  it('drops labels the configuration does not know, also when one is the first label of a plain job', () => {
    const rows = [row('build:job:huge', 4), row('build:job', 2), row('build:job:small', 1)];
    expect(labelDemand([rows], LABELS)).toEqual({ small: 1 });
  });

  it('leaves out labels with nothing queued, and is empty for no servers', () => {
    expect(labelDemand([[row('build:job:small', 0, 0, 2)]], LABELS)).toEqual({});
    expect(labelDemand([], LABELS)).toEqual({});
  });

  it('takes a label named like an object property as a plain label', () => {
    const demand = labelDemand([[row('build:job:__proto__', 2), row('build:job:constructor', 1)]], ['__proto__', 'constructor']);
    expect(Object.keys(demand).sort()).toEqual(['__proto__', 'constructor']);
    expect(demand['__proto__']).toBe(2);
    expect(demand['constructor']).toBe(1);
  });
});
