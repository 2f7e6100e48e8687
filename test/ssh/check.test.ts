import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { checkSsh, generateNodeSetKeyPair, SshCheckFailed, SshKeyUnusable } from '../../src/ssh/index.js';
import { freeLoopbackPort } from '../support/ssh-server.js';
import { keyFile, makeKey, serverFor } from './fixtures.js';

describe('the SSH check (launch step 7)', () => {
  it('logs in with the image key, runs true, and reports the host key fingerprint', async () => {
    const key = makeKey();
    const server = await serverFor(key);

    const result = await checkSsh({
      host: server.host,
      port: server.port,
      username: 'jenkins',
      privateKey: keyFile(key),
      deadline: Date.now() + 5_000,
    });

    expect(result.attempts).toBe(1);
    expect(result.hostKey).toEqual({ type: 'ssh-ed25519', fingerprint: server.hostKeyFingerprint });
    expect(server.received.commands).toEqual(['true']);
    expect(server.received.auth.filter((a) => a.accepted)).toHaveLength(1);
  });

  it('accepts the key as text too, and an RSA key such as the node-set pair', async () => {
    const pair = await generateNodeSetKeyPair();
    const server = await serverFor({ private: pair.privateKey, public: pair.publicKey });

    const result = await checkSsh({ host: server.host, port: server.port, username: 'jenkins', privateKey: pair.privateKey, deadline: Date.now() });

    expect(result.hostKey.fingerprint).toBe(server.hostKeyFingerprint);
  });

  it('gives up at the deadline when nothing listens, saying where, who, how often and why', async () => {
    const port = await freeLoopbackPort();
    const started = Date.now();

    const failure = await checkSsh({
      host: '127.0.0.1',
      port,
      username: 'jenkins',
      privateKey: makeKey().private,
      deadline: started + 1_000,
      retryIntervalMs: 200,
    }).catch((error: unknown) => error);

    expect(Date.now() - started).toBeLessThan(3_000);
    expect(failure).toBeInstanceOf(SshCheckFailed);
    const error = failure as SshCheckFailed;
    expect(error.attempts).toBeGreaterThanOrEqual(3);
    expect(error.reason).toBe('network');
    expect(error.lastError.kind).toBe('refused');
    expect(error.message).toContain(`jenkins@127.0.0.1:${port}`);
    expect(error.message).toContain(`after ${error.attempts} attempts`);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('with a ten-minute boot timeout retries every two seconds of clock time, without waiting for real', async () => {
    const port = await freeLoopbackPort();
    const clock = new SimulatedClock();
    const retriedAt: number[] = [];

    const failure = await checkSsh({
      host: '127.0.0.1',
      port,
      username: 'jenkins',
      privateKey: makeKey().private,
      clock,
      deadline: clock.now() + 600_000,
      // The check is now sleeping on the clock: move it on.
      onRetry: () => {
        retriedAt.push(clock.now());
        setImmediate(() => clock.increment(2_000));
      },
    }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(SshCheckFailed);
    expect((failure as SshCheckFailed).attempts).toBe(300);
    expect(retriedAt.slice(0, 3)).toEqual([0, 2_000, 4_000]);
    expect((failure as SshCheckFailed).message).toContain('in 600 s');
  });

  it('a wrong key fails as an authentication problem, and says so', async () => {
    const server = await serverFor(makeKey());

    const failure = await checkSsh({
      host: server.host,
      port: server.port,
      username: 'jenkins',
      privateKey: makeKey().private,
      deadline: Date.now() + 1_500,
      retryIntervalMs: 300,
    }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(SshCheckFailed);
    const error = failure as SshCheckFailed;
    expect(error.reason).toBe('auth');
    expect(error.message).toMatch(/last error \(auth\): All configured authentication methods failed/);
    expect(server.received.auth.some((a) => a.accepted)).toBe(false);
    expect(server.received.commands).toEqual([]);
  });

  it('the right key for the wrong user is refused too', async () => {
    const key = makeKey();
    const server = await serverFor(key);

    const failure = await checkSsh({ host: server.host, port: server.port, username: 'root', privateKey: key.private, deadline: Date.now() }).catch(
      (error: unknown) => error,
    );

    expect((failure as SshCheckFailed).reason).toBe('auth');
    expect((failure as SshCheckFailed).attempts).toBe(1);
  });

  it('a port that accepts but never speaks SSH times out each attempt', async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };

    try {
      const failure = await checkSsh({
        host: '127.0.0.1',
        port,
        username: 'jenkins',
        privateKey: makeKey().private,
        deadline: Date.now() + 1_000,
        connectTimeoutMs: 300,
        retryIntervalMs: 100,
      }).catch((error: unknown) => error);

      expect((failure as SshCheckFailed).reason).toBe('timeout');
      expect((failure as SshCheckFailed).message).toContain('no authenticated session within 300 ms');
      expect((failure as SshCheckFailed).attempts).toBeGreaterThanOrEqual(2);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('reaches a server that starts listening late, by retrying', async () => {
    const key = makeKey();
    const server = await serverFor(key, { listenAfterMs: 700 });
    const retries: string[] = [];

    const result = await checkSsh({
      host: server.host,
      port: server.port,
      username: 'jenkins',
      privateKey: key.private,
      deadline: Date.now() + 5_000,
      retryIntervalMs: 200,
      onRetry: (_attempt, error) => retries.push(error.kind),
    });

    expect(result.attempts).toBeGreaterThan(1);
    expect(retries.every((kind) => kind === 'refused')).toBe(true);
    expect(server.received.commands).toEqual(['true']);
  });

  it('keeps trying while sshd drops connections and the key is not installed yet', async () => {
    const key = makeKey();
    const server = await serverFor(key, { dropFirstConnections: 2, rejectFirstLogins: 2 });
    const retries: string[] = [];

    const result = await checkSsh({
      host: server.host,
      port: server.port,
      username: 'jenkins',
      privateKey: key.private,
      deadline: Date.now() + 5_000,
      retryIntervalMs: 50,
      onRetry: (_attempt, error) => retries.push(error.kind),
    });

    expect(result.attempts).toBe(5);
    expect(retries.slice(2)).toEqual(['auth', 'auth']);
    expect(server.received.dropped).toBe(2);
  });

  it('with a pinned host key, a different key is refused at once', async () => {
    const key = makeKey();
    const server = await serverFor(key);

    const failure = await checkSsh({
      host: server.host,
      port: server.port,
      username: 'jenkins',
      privateKey: key.private,
      deadline: Date.now() + 5_000,
      hostKeyPolicy: { fingerprint: 'SHA256:somethingelse' },
    }).catch((error: unknown) => error);

    expect((failure as SshCheckFailed).attempts).toBe(1);
    expect((failure as SshCheckFailed).lastError.kind).toBe('host-key');
    expect((failure as SshCheckFailed).message).toContain(server.hostKeyFingerprint);
  });

  it('an unreadable key file is a configuration error that names the file and never shows a key', async () => {
    await expect(checkSsh({ host: '127.0.0.1', username: 'jenkins', privateKey: '/nonexistent/id_rsa', deadline: Date.now() })).rejects.toThrow(
      new SshKeyUnusable('/nonexistent/id_rsa', 'cannot read the file (ENOENT)'),
    );
    const garbled = '-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END OPENSSH PRIVATE KEY-----\n';
    const failure = await checkSsh({ host: '127.0.0.1', username: 'jenkins', privateKey: garbled, deadline: Date.now() }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SshKeyUnusable);
    expect((failure as Error).message).toContain('(inline)');
    expect((failure as Error).message).not.toContain('c2VjcmV0');
  });

  it('stops retrying when aborted', async () => {
    const port = await freeLoopbackPort();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();

    const failure = await checkSsh({
      host: '127.0.0.1',
      port,
      username: 'jenkins',
      privateKey: makeKey().private,
      deadline: Date.now() + 60_000,
      retryIntervalMs: 2_000,
      signal: controller.signal,
    }).catch((error: unknown) => error);

    expect(Date.now() - started).toBeLessThan(1_500);
    expect((failure as Error).name).toBe('AbortError');
  });
});
