/**
 * What a Jenkins master tells nodepool about its builds (docs/behaviour.md,
 * "Jobs"), and the parser of one message as the Jenkins ZeroMQ event
 * publisher plugin sends it.
 *
 * The publisher sends one frame per event: the topic (`onStarted`,
 * `onCompleted`, `onFinalized`), a space, and the job's state as JSON:
 *
 *   onFinalized {"name":"gate-nova-python27","url":"job/gate-nova-python27/",
 *     "build":{"full_url":"https://jenkins.example.org/job/gate-nova-python27/7/",
 *     "number":7,"phase":"FINISHED","status":"FAILURE","url":"job/gate-nova-python27/7/",
 *     "parameters":{"ZUUL_BRANCH":"master"},"node_name":"devstack-trusty-rax-123"}}
 *
 * Fields whose value is null in Jenkins are left out rather than sent as
 * null: `status` before the build has a result, `parameters` for a build
 * without any, `full_url` when Jenkins has no root URL. `node_name` is the
 * name of the Jenkins node the build ran on, which for a nodepool node is the
 * node's name; a build on the master itself has an empty one.
 *
 * The parser is pure and total: every input gives an event, "ignored" or
 * "malformed" with a reason an operator can act on; it never throws.
 */

/** The topics the Jenkins publisher sends, one per phase of a build. */
export const JOB_EVENT_TOPICS = {
  started: 'onStarted',
  completed: 'onCompleted',
  finalized: 'onFinalized',
} as const;

export type JobEventTopic = (typeof JOB_EVENT_TOPICS)[keyof typeof JOB_EVENT_TOPICS];

/**
 * The job's state as the publisher serialises it. Only what nodepool reads
 * is checked by the parser; the rest is here so the publisher helper writes
 * the same document as Jenkins does.
 */
export interface JenkinsJobState {
  name: string;
  url: string;
  build: {
    full_url?: string;
    number: number;
    /** STARTED, COMPLETED or FINISHED, after the topic. */
    phase: 'STARTED' | 'COMPLETED' | 'FINISHED';
    status?: string;
    url: string;
    parameters?: Record<string, string>;
    node_name?: string;
  };
}

/** A build started on a node, or finished on it (with its result). */
export interface JobEvent {
  kind: 'started' | 'finalized';
  /** The Jenkins job's name. */
  job: string;
  /** The node the build ran on, as nodepool named it. */
  nodeName: string;
  /** The build's result (SUCCESS, FAILURE, UNSTABLE, ABORTED, ...); absent before there is one. */
  status?: string;
  /** The build's parameters (ZUUL_BRANCH, ...); empty when it has none. */
  parameters: Readonly<Record<string, string>>;
}

export type ParsedJobEventMessage =
  | { outcome: 'event'; event: JobEvent }
  /** A well-formed message nodepool has nothing to do with. */
  | { outcome: 'ignored'; reason: string }
  /** `excerpt` is the start of the message, short enough for a log line. */
  | { outcome: 'malformed'; reason: string; excerpt: string };

/** How much of a malformed message a log line shows: enough to recognise it, not a flood. */
export const MESSAGE_EXCERPT_CHARS = 200;

/**
 * One ZeroMQ message: its frames as received, or the text of its one frame.
 */
export function parseJobEventMessage(message: string | Uint8Array | readonly Uint8Array[]): ParsedJobEventMessage {
  const frames = typeof message === 'string' || message instanceof Uint8Array ? [message] : message;
  const first = frames[0];
  if (first === undefined) return malformed('the message has no frames', '');
  if (frames.length > 1) {
    return malformed(`the message has ${frames.length} frames; the Jenkins publisher sends one`, excerptOf(first));
  }
  const text = typeof first === 'string' ? first : decodeUtf8(first);
  if (text === undefined) return malformed('the message is not UTF-8 text', excerptOf(first));
  return parseFrame(text);
}

function parseFrame(text: string): ParsedJobEventMessage {
  const bad = (reason: string) => malformed(reason, excerptOf(text));
  if (text.trim() === '') return bad('the message is empty');

  // Split as upstream did (Python's str.split(None, 1)): the topic is the first word, the JSON the rest.
  const split = /^\s*(\S+)\s+(\S[\s\S]*)$/.exec(text);
  if (!split) return bad('the message has a topic but no JSON after it');
  const [, topic = '', body = ''] = split;

  // The topic decides first: a message nodepool does not act on is not its to judge, whatever its body.
  let kind: JobEvent['kind'];
  if (topic === JOB_EVENT_TOPICS.started) kind = 'started';
  else if (topic === JOB_EVENT_TOPICS.finalized) kind = 'finalized';
  else if (topic === JOB_EVENT_TOPICS.completed) return ignored('onCompleted: nodepool acts on the onFinalized that follows it');
  else return ignored(`unknown topic ${JSON.stringify(clip(topic, 40))}`);

  let state: unknown;
  try {
    state = JSON.parse(body);
  } catch (err) {
    return bad(`the JSON after ${topic} does not parse: ${(err as Error).message}`);
  }
  if (!isObject(state)) return bad(`the JSON is ${describe(state)}, not an object`);

  const build = state['build'];
  if (build === undefined) return bad('build is missing');
  if (!isObject(build)) return bad(`build is ${describe(build)}, not an object`);

  // As upstream: a build without a node (or on the master, whose name is empty) is none of nodepool's business.
  const nodeName = build['node_name'];
  if (nodeName === undefined || nodeName === null) return ignored('no build.node_name');
  if (typeof nodeName !== 'string') return bad(`build.node_name is ${describe(nodeName)}, not a string`);
  if (nodeName === '') return ignored('build.node_name is empty: the build ran on the Jenkins master');

  const job = state['name'];
  if (job === undefined || job === null) return bad('name (the job) is missing');
  if (typeof job !== 'string') return bad(`name (the job) is ${describe(job)}, not a string`);
  if (job === '') return bad('name (the job) is empty');

  const status = build['status'];
  if (status !== undefined && status !== null && typeof status !== 'string') {
    return bad(`build.status is ${describe(status)}, not a string`);
  }

  const parameters = parseParameters(build['parameters']);
  if (typeof parameters === 'string') return bad(parameters);

  const event: JobEvent = { kind, job, nodeName, parameters };
  if (typeof status === 'string') event.status = status;
  return { outcome: 'event', event };
}

/** The parameters, or the reason they are malformed. */
function parseParameters(value: unknown): Readonly<Record<string, string>> | string {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) return `build.parameters is ${describe(value)}, not an object`;
  for (const [name, parameter] of Object.entries(value)) {
    if (typeof parameter !== 'string') return `build.parameters.${clip(name, 40)} is ${describe(parameter)}, not a string`;
  }
  // fromEntries defines own properties, so a parameter named __proto__ stays a parameter.
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

function ignored(reason: string): ParsedJobEventMessage {
  return { outcome: 'ignored', reason };
}

function malformed(reason: string, excerpt: string): ParsedJobEventMessage {
  return { outcome: 'malformed', reason, excerpt };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The start of a message for a log line. Only the first bytes are decoded (a
 * character is at most four), so a huge message costs no more than a small one.
 */
function excerptOf(message: string | Uint8Array): string {
  const text = typeof message === 'string' ? message : lenientUtf8.decode(message.subarray(0, MESSAGE_EXCERPT_CHARS * 4));
  return clip(text, MESSAGE_EXCERPT_CHARS);
}

/** At most `chars` UTF-16 units, never ending in half a surrogate pair. */
function clip(text: string, chars: number): string {
  if (text.length <= chars) return text;
  const cut = text.slice(0, chars);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}
