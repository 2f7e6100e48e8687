import { describe, expect, it } from 'vitest';
import { jenkinsEventMessage } from '../../src/events/job-event-publisher.js';
import { MESSAGE_EXCERPT_CHARS, parseJobEventMessage } from '../../src/events/job-event.js';
import type { ParsedJobEventMessage } from '../../src/events/job-event.js';

/** A finished build exactly as the Jenkins plugin writes it (keys in its order, nulls left out). */
const FINALIZED_FROM_JENKINS =
  'onFinalized {"name":"gate-nova-python27","url":"job/gate-nova-python27/","build":{'
  + '"full_url":"https://jenkins01.openstack.org/job/gate-nova-python27/4711/","number":4711,"phase":"FINISHED",'
  + '"status":"FAILURE","url":"job/gate-nova-python27/4711/","parameters":{"ZUUL_BRANCH":"stable/kilo",'
  + '"ZUUL_PROJECT":"openstack/nova"},"node_name":"devstack-trusty-rax-iad-123"}}';

/** A started build: no status yet, so none in the message. */
const STARTED_FROM_JENKINS =
  'onStarted {"name":"gate-nova-python27","url":"job/gate-nova-python27/","build":{'
  + '"full_url":"https://jenkins01.openstack.org/job/gate-nova-python27/4711/","number":4711,"phase":"STARTED",'
  + '"url":"job/gate-nova-python27/4711/","parameters":{"ZUUL_BRANCH":"stable/kilo"},'
  + '"node_name":"devstack-trusty-rax-iad-123"}}';

function message(topic: string, state: unknown): string {
  return `${topic} ${JSON.stringify(state)}`;
}

function finalized(build: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return message('onFinalized', { name: 'gate-nova-python27', url: 'job/gate-nova-python27/', build, ...extra });
}

function reasonOf(parsed: ParsedJobEventMessage): string {
  if (parsed.outcome === 'event') throw new Error(`expected no event, got ${JSON.stringify(parsed.event)}`);
  return parsed.reason;
}

function malformedReason(input: Parameters<typeof parseJobEventMessage>[0]): string {
  const parsed = parseJobEventMessage(input);
  expect(parsed.outcome).toBe('malformed');
  return reasonOf(parsed);
}

function ignoredReason(input: Parameters<typeof parseJobEventMessage>[0]): string {
  const parsed = parseJobEventMessage(input);
  expect(parsed.outcome).toBe('ignored');
  return reasonOf(parsed);
}

describe('a job event message as Jenkins sends it', () => {
  it('a finished build is a finalized event with its job, node, result and parameters', () => {
    expect(parseJobEventMessage(FINALIZED_FROM_JENKINS)).toEqual({
      outcome: 'event',
      event: {
        kind: 'finalized',
        job: 'gate-nova-python27',
        nodeName: 'devstack-trusty-rax-iad-123',
        status: 'FAILURE',
        parameters: { ZUUL_BRANCH: 'stable/kilo', ZUUL_PROJECT: 'openstack/nova' },
      },
    });
  });

  it('a started build is a started event without a result', () => {
    expect(parseJobEventMessage(STARTED_FROM_JENKINS)).toEqual({
      outcome: 'event',
      event: { kind: 'started', job: 'gate-nova-python27', nodeName: 'devstack-trusty-rax-iad-123', parameters: { ZUUL_BRANCH: 'stable/kilo' } },
    });
  });

  it('reads the message as received: one frame of bytes, or the frames of one message', () => {
    const bytes = Buffer.from(FINALIZED_FROM_JENKINS);
    expect(parseJobEventMessage(bytes)).toEqual(parseJobEventMessage(FINALIZED_FROM_JENKINS));
    expect(parseJobEventMessage([bytes])).toEqual(parseJobEventMessage(FINALIZED_FROM_JENKINS));
  });

  it('a build without parameters has none, and a null status is no status', () => {
    const parsed = parseJobEventMessage(finalized({ number: 1, phase: 'FINISHED', status: null, node_name: 'n1' }));
    expect(parsed).toEqual({ outcome: 'event', event: { kind: 'finalized', job: 'gate-nova-python27', nodeName: 'n1', parameters: {} } });
  });

  it('splits the topic from the JSON at any run of white space, as upstream did', () => {
    const spaced = FINALIZED_FROM_JENKINS.replace('onFinalized ', '  onFinalized \t ');
    expect(parseJobEventMessage(spaced)).toEqual(parseJobEventMessage(FINALIZED_FROM_JENKINS));
  });

  it('reads what the publisher helper sends as it reads what Jenkins sends', () => {
    const build = { job: 'gate-nova-python27', number: 4711, nodeName: 'devstack-trusty-rax-iad-123', parameters: { ZUUL_BRANCH: 'stable/kilo', ZUUL_PROJECT: 'openstack/nova' } };
    const helper = jenkinsEventMessage('onFinalized', build, { status: 'FAILURE', rootUrl: 'https://jenkins01.openstack.org/' });
    expect(helper).toBe(FINALIZED_FROM_JENKINS);
    const started = jenkinsEventMessage('onStarted', { ...build, parameters: { ZUUL_BRANCH: 'stable/kilo' } }, { rootUrl: 'https://jenkins01.openstack.org/' });
    expect(started).toBe(STARTED_FROM_JENKINS);
  });

  it('a parameter named __proto__ stays a parameter', () => {
    const parsed = parseJobEventMessage('onFinalized {"name":"j","build":{"node_name":"n","parameters":{"__proto__":"x","A":"1"}}}');
    if (parsed.outcome !== 'event') throw new Error(reasonOf(parsed));
    expect(Object.getPrototypeOf(parsed.event.parameters)).toBe(Object.prototype);
    expect(Object.keys(parsed.event.parameters)).toEqual(['__proto__', 'A']);
  });
});

describe('messages nodepool has nothing to do with are ignored', () => {
  it('onCompleted, whose onFinalized follows, whatever its body', () => {
    expect(ignoredReason(FINALIZED_FROM_JENKINS.replace('onFinalized', 'onCompleted'))).toMatch(/onCompleted/);
    expect(ignoredReason('onCompleted not json at all')).toMatch(/onCompleted/);
  });

  it('a topic nodepool does not know', () => {
    expect(ignoredReason(FINALIZED_FROM_JENKINS.replace('onFinalized', 'onDeleted'))).toBe('unknown topic "onDeleted"');
  });

  it('a build without a node', () => {
    expect(ignoredReason(finalized({ number: 1, status: 'SUCCESS' }))).toBe('no build.node_name');
    expect(ignoredReason(finalized({ number: 1, status: 'SUCCESS', node_name: null }))).toBe('no build.node_name');
  });

  it('a build on the Jenkins master, whose node name is empty', () => {
    expect(ignoredReason(finalized({ number: 1, status: 'SUCCESS', node_name: '' }))).toMatch(/master/);
  });

  it('a build without a node, even when the rest is not what nodepool would read', () => {
    expect(ignoredReason(message('onStarted', { build: { number: 1 } }))).toBe('no build.node_name');
  });
});

describe('a malformed message is refused with the reason', () => {
  const cases: [string, Parameters<typeof parseJobEventMessage>[0], RegExp][] = [
    ['no frames at all', [], /no frames/],
    ['two frames', [Buffer.from('onStarted'), Buffer.from('{}')], /2 frames/],
    ['bytes that are not UTF-8', Buffer.from([0x6f, 0x6e, 0x20, 0xff, 0xfe]), /not UTF-8/],
    ['an empty message', '', /empty/],
    ['only white space', ' \t\n', /empty/],
    ['a topic alone', 'onFinalized', /no JSON/],
    ['a topic and white space', 'onFinalized   ', /no JSON/],
    ['JSON that does not parse', 'onFinalized {"name": "j", "build": {', /does not parse/],
    ['JSON that is an array', 'onFinalized [1, 2]', /an array, not an object/],
    ['JSON that is a string', 'onFinalized "hello"', /a string, not an object/],
    ['JSON that is null', 'onFinalized null', /null, not an object/],
    ['no build', message('onFinalized', { name: 'j' }), /build is missing/],
    ['a build that is a list', message('onFinalized', { name: 'j', build: [] }), /build is an array/],
    ['a build that is text', message('onStarted', { name: 'j', build: 'n1' }), /build is a string/],
    ['a node name that is a number', finalized({ node_name: 17 }), /build\.node_name is a number/],
    ['a node name that is an object', finalized({ node_name: { name: 'n1' } }), /build\.node_name is an object/],
    ['no job name', message('onFinalized', { build: { node_name: 'n1' } }), /name \(the job\) is missing/],
    ['a job name that is a number', message('onStarted', { name: 3, build: { node_name: 'n1' } }), /name \(the job\) is a number/],
    ['an empty job name', message('onStarted', { name: '', build: { node_name: 'n1' } }), /name \(the job\) is empty/],
    ['a status that is not text', finalized({ node_name: 'n1', status: true }), /build\.status is a boolean/],
    ['parameters that are a list', finalized({ node_name: 'n1', parameters: ['A=1'] }), /build\.parameters is an array/],
    ['a parameter that is not text', finalized({ node_name: 'n1', parameters: { ZUUL_CHANGE: 4711 } }), /build\.parameters\.ZUUL_CHANGE is a number/],
  ];

  for (const [what, input, reason] of cases) {
    it(what, () => {
      expect(malformedReason(input)).toMatch(reason);
    });
  }

  it('keeps only the start of a long message for the log', () => {
    const long = `onFinalized {"name": "${'x'.repeat(100_000)}`;
    const parsed = parseJobEventMessage(long);
    expect(parsed).toMatchObject({ outcome: 'malformed', excerpt: long.slice(0, MESSAGE_EXCERPT_CHARS) });
    expect(MESSAGE_EXCERPT_CHARS).toBe(200);
  });

  it('keeps only the start of long bytes that are not UTF-8, readable', () => {
    const bytes = Buffer.concat([Buffer.from('onFinalized '), Buffer.alloc(50_000, 0xff)]);
    const parsed = parseJobEventMessage(bytes);
    if (parsed.outcome !== 'malformed') throw new Error('expected malformed');
    expect(parsed.excerpt.startsWith('onFinalized \ufffd')).toBe(true);
    expect(parsed.excerpt.length).toBe(MESSAGE_EXCERPT_CHARS);
  });

  it('never cuts a character in half', () => {
    const start = `onFinalized {${'a'.repeat(MESSAGE_EXCERPT_CHARS - 14)}`;
    const parsed = parseJobEventMessage(`${start}😀 and more`);
    if (parsed.outcome !== 'malformed') throw new Error('expected malformed');
    expect(start.length).toBe(MESSAGE_EXCERPT_CHARS - 1);
    expect(parsed.excerpt).toBe(start);
  });

  it('an excerpt is the message itself when it is short', () => {
    expect(parseJobEventMessage('onStarted [1]')).toMatchObject({ excerpt: 'onStarted [1]' });
  });
});
