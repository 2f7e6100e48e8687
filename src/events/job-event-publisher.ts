/**
 * A stand-in for a Jenkins master's ZeroMQ event publisher, for the tests and
 * for a simulated CI: it binds an endpoint and sends `onStarted`,
 * `onCompleted` and `onFinalized` messages in the document the Jenkins
 * plugin writes (see ./job-event.ts), so what nodepool hears from it is what
 * it would hear from Jenkins.
 *
 * It binds an XPUB socket rather than a plain PUB: a subscriber sees no
 * difference, and the subscriptions arriving on it tell when a listener is
 * really there. ZeroMQ drops whatever a PUB socket sends before a
 * subscriber's subscription has reached it, so a test or simulator that must
 * not lose its first events waits for `waitForSubscribers()` first.
 */
import { setTimeout as pause } from 'node:timers/promises';
import type { XPublisher } from 'zeromq';
import { JOB_EVENT_TOPICS } from './job-event.js';
import type { JenkinsJobState, JobEventTopic } from './job-event.js';

/** One build of a job, as far as its events tell. */
export interface JenkinsBuild {
  job: string;
  number: number;
  /** The node the build runs on (a nodepool node's name). */
  nodeName: string;
  /** Left out of the messages when absent, as Jenkins does for a build without parameters. */
  parameters?: Record<string, string>;
}

export interface JobEventPublisherOptions {
  /** Jenkins's root URL, which `full_url` starts with. Default `https://jenkins.example.org/`. */
  rootUrl?: string;
  /**
   * How long `bind` keeps trying an endpoint that is in use. A publisher
   * closed a moment ago frees its port in ZeroMQ's I/O thread, a little after
   * `close()` returned. Default 2000 ms.
   */
  bindTimeoutMs?: number;
}

const DEFAULT_ROOT_URL = 'https://jenkins.example.org/';

const PHASES = {
  [JOB_EVENT_TOPICS.started]: 'STARTED',
  [JOB_EVENT_TOPICS.completed]: 'COMPLETED',
  [JOB_EVENT_TOPICS.finalized]: 'FINISHED',
} as const satisfies Record<JobEventTopic, JenkinsJobState['build']['phase']>;

/**
 * The one frame Jenkins sends for a phase of a build. The keys are in the
 * plugin's order, and a field with no value is left out, as Jenkins's JSON
 * writer leaves out nulls (`status` before the build has a result).
 */
export function jenkinsEventMessage(
  topic: JobEventTopic,
  build: JenkinsBuild,
  options: { status?: string; rootUrl?: string } = {},
): string {
  const jobUrl = `job/${encodeURIComponent(build.job)}/`;
  const buildUrl = `${jobUrl}${build.number}/`;
  const state: JenkinsJobState = {
    name: build.job,
    url: jobUrl,
    build: {
      full_url: `${options.rootUrl ?? DEFAULT_ROOT_URL}${buildUrl}`,
      number: build.number,
      phase: PHASES[topic],
      ...(options.status === undefined ? {} : { status: options.status }),
      url: buildUrl,
      ...(build.parameters === undefined ? {} : { parameters: build.parameters }),
      node_name: build.nodeName,
    },
  };
  return `${topic} ${JSON.stringify(state)}`;
}

export class JobEventPublisher {
  private subscriptions = 0;
  private readonly waiters = new Set<() => void>();
  /** ZeroMQ allows one send in progress per socket: sends queue here. */
  private sending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly socket: XPublisher,
    /** The endpoint bound, with the port ZeroMQ chose when it was asked for `*`. */
    readonly endpoint: string,
    private readonly rootUrl: string,
  ) {
    void this.countSubscriptions();
  }

  /** Binds `endpoint` (`tcp://127.0.0.1:*` for a free port; see `endpoint` for the one chosen). */
  static async bind(endpoint: string, options: JobEventPublisherOptions = {}): Promise<JobEventPublisher> {
    const { XPublisher } = await import('zeromq');
    const socket = new XPublisher({ linger: 0 });
    // Every subscribe and unsubscribe, so the count is of subscribers, not of distinct subscriptions.
    socket.verbosity = 'allSubsUnsubs';
    const deadline = Date.now() + (options.bindTimeoutMs ?? 2000);
    for (;;) {
      try {
        await socket.bind(endpoint);
        break;
      } catch (err) {
        if ((err as { code?: string }).code === 'EADDRINUSE' && Date.now() < deadline) {
          await pause(20);
          continue;
        }
        socket.close();
        throw err;
      }
    }
    return new JobEventPublisher(socket, socket.lastEndpoint ?? endpoint, options.rootUrl ?? DEFAULT_ROOT_URL);
  }

  /** How many subscriptions have reached this publisher (one per listening socket). */
  get subscribers(): number {
    return this.subscriptions;
  }

  /** Resolves once at least `count` subscribers are there; rejects after `timeoutMs`. */
  waitForSubscribers(count = 1, timeoutMs = 5000): Promise<void> {
    return this.waitFor(() => this.subscriptions >= count, `${count} subscriber(s)`, timeoutMs);
  }

  /** Resolves once at most `count` subscribers are left; rejects after `timeoutMs`. */
  waitForSubscribersAtMost(count: number, timeoutMs = 5000): Promise<void> {
    return this.waitFor(() => this.subscriptions <= count, `at most ${count} subscriber(s)`, timeoutMs);
  }

  started(build: JenkinsBuild): Promise<void> {
    return this.send(jenkinsEventMessage(JOB_EVENT_TOPICS.started, build, { rootUrl: this.rootUrl }));
  }

  completed(build: JenkinsBuild, status: string): Promise<void> {
    return this.send(jenkinsEventMessage(JOB_EVENT_TOPICS.completed, build, { status, rootUrl: this.rootUrl }));
  }

  finalized(build: JenkinsBuild, status: string): Promise<void> {
    return this.send(jenkinsEventMessage(JOB_EVENT_TOPICS.finalized, build, { status, rootUrl: this.rootUrl }));
  }

  /** Any one frame, as a misbehaving publisher might send it. */
  send(frame: string | Uint8Array): Promise<void> {
    const sent = this.sending.then(() => this.socket.send(frame));
    this.sending = sent.catch(() => undefined);
    return sent;
  }

  /** Closes the socket at once; what was not yet sent is dropped. */
  close(): void {
    this.socket.close();
  }

  private async countSubscriptions(): Promise<void> {
    try {
      // A subscription is a frame of 1 then its prefix, an unsubscription 0 then its prefix; the loop ends at close.
      for await (const [frame] of this.socket) {
        if (frame?.[0] === 1) this.subscriptions++;
        else if (frame?.[0] === 0) this.subscriptions = Math.max(0, this.subscriptions - 1);
        for (const check of this.waiters) check();
      }
    } catch {
      // The count only helps callers wait; a socket that fails shows in send(), where it matters.
    }
  }

  private waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.endpoint}: waited ${timeoutMs} ms for ${what}; ${this.subscriptions} now`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}
