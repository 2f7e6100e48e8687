/**
 * Launch step 9, second half: run the label's ready script on the node and
 * stream its output, so an operator sees why a node never became ready.
 */
import { systemClock } from '../core/clock.js';
import { abortError, targetOf, withConnection, type SshConnectionOptions } from './connection.js';
import { ReadyScriptFailed, SshConnectionFailed } from './errors.js';
import { readyScriptCommand } from './shell.js';

export type OutputStream = 'stdout' | 'stderr';

export interface ReadyScriptOptions {
  /** File name in the scripts directory. */
  script: string;
  /** Passed as the script's only argument. */
  hostname: string;
  /** Set on the command line (e.g. every `NODEPOOL_*` of the daemon's environment). */
  env: Readonly<Record<string, string>>;
  /** Default `/opt/nodepool-scripts`. */
  directory?: string;
  /** Every complete output line, as it arrives. */
  onOutput?: (line: string, stream: OutputStream) => void;
  /** How many last lines a failure carries. Default 20. */
  tailLines?: number;
  /** Give up (and close the session) after this long. Default: no limit. */
  timeoutMs?: number;
}

export interface ReadyScriptResult {
  command: string;
  lastLines: string[];
}

export const READY_SCRIPT_DIRECTORY = '/opt/nodepool-scripts';

/** Run `cd DIR && NODEPOOL_...=... ./SCRIPT HOSTNAME`; resolve on exit status 0. */
export async function runReadyScript(connection: SshConnectionOptions, options: ReadyScriptOptions): Promise<ReadyScriptResult> {
  const command = readyScriptCommand({
    directory: options.directory ?? READY_SCRIPT_DIRECTORY,
    script: options.script,
    hostname: options.hostname,
    env: options.env,
  });
  const target = targetOf(connection);
  const clock = connection.clock ?? systemClock;
  const tailLines = options.tailLines ?? 20;
  const tail: string[] = [];
  const emit = (line: string, stream: OutputStream): void => {
    tail.push(line);
    if (tail.length > tailLines) tail.shift();
    options.onOutput?.(line, stream);
  };

  return withConnection(connection, ({ client }) => new Promise<ReadyScriptResult>((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) {
        reject(new SshConnectionFailed(target, 'other', `cannot run the ready script: ${error.message}`, { cause: error }));
        return;
      }
      let exitCode: number | null = null;
      let signal: string | null = null;
      let settled = false;
      const stdout = lineSplitter((line) => emit(line, 'stdout'));
      const stderr = lineSplitter((line) => emit(line, 'stderr'));
      const finish = (outcome: Error | null): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        connection.signal?.removeEventListener('abort', onAbort);
        if (outcome) reject(outcome);
        else resolve({ command, lastLines: [...tail] });
      };
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : clock.setTimeout(() => {
              finish(new ReadyScriptFailed(target, options.script, null, null, [...tail], options.timeoutMs));
              channel.close();
            }, options.timeoutMs);
      const onAbort = (): void => {
        finish(abortError(connection.signal as AbortSignal));
        channel.close();
      };
      connection.signal?.addEventListener('abort', onAbort, { once: true });

      channel.on('data', (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      channel.on('exit', (code: number | null, signalName?: string) => {
        exitCode = code;
        signal = signalName ?? null;
      });
      channel.on('close', () => {
        stdout.end();
        stderr.end();
        if (exitCode === 0) finish(null);
        else finish(new ReadyScriptFailed(target, options.script, exitCode, signal, [...tail]));
      });
      channel.end(); // no input: a script that reads stdin sees end of file
    });
  }));
}

/** Cut a byte stream into lines (without `\n` or `\r\n`); the last partial line comes out at end. */
function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let pending = '';
  const decoder = new TextDecoder('utf-8');
  const flushLines = (): void => {
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      onLine(pending.slice(0, newline).replace(/\r$/, ''));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  };
  return {
    push(chunk) {
      pending += decoder.decode(chunk, { stream: true });
      flushLines();
    },
    end() {
      pending += decoder.decode();
      flushLines();
      if (pending !== '') onLine(pending.replace(/\r$/, ''));
      pending = '';
    },
  };
}
