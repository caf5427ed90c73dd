/**
 * NATS for tests: the machine's server at 127.0.0.1:4222 with a stream and
 * subject prefix of the test's own (deleted afterwards), or a `nats-server`
 * of the test's own on a free port, for tests that stop and restart it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll } from 'vitest';
import type { Config } from '../../src/config/config';
import { useTestApp, type TestClient } from './app';
import type { Availability } from './services';
import { SHARED_NATS_URL } from './services';

export { SHARED_NATS_URL } from './services';

/** A stream name and subject prefix no other test uses. */
export function uniqueStream(): { stream: string; subjectPrefix: string } {
  const tag = randomBytes(5).toString('hex');
  return { stream: `OG_TEST_${tag}`, subjectPrefix: `ogtest_${tag}` };
}

/**
 * A test app whose relay publishes to a stream of its own on the shared NATS server, deleted after
 * the block; for a block that checked the server is up (`inject('nats')`).
 */
export function useTestAppOnOwnStream(overrides: Partial<Config> = {}): { t: TestClient; stream: string; subjectPrefix: string } {
  const { stream, subjectPrefix } = uniqueStream();
  const t = useTestApp({ natsUrl: SHARED_NATS_URL, natsStream: stream, natsSubjectPrefix: subjectPrefix, ...overrides });
  afterAll(() => deleteStream(SHARED_NATS_URL, stream));
  return { t, stream, subjectPrefix };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface OwnNatsServer {
  url: string;
  /** Starts it (again, on the same port and store). */
  start(): Promise<void>;
  /** Stops it and waits for the process to exit. */
  stop(): Promise<void>;
  /** Empties its store while it is stopped: the next start is a broker that lost every stream (no volume kept). */
  wipe(): void;
  /** Stops it and removes its store. */
  destroy(): Promise<void>;
}

/**
 * Whether `binary` (`nats-server`) runs, for the tests that start a broker of their own
 * (`ownNatsServer`). When it does not, prints why once and skips them, or throws under
 * REQUIRE_SERVICES=1 (CI), like the tests that need Redis or the shared NATS.
 */
export function natsServerInstalled(binary = 'nats-server'): Availability {
  const run = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 10_000 });
  if (!run.error) return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but no ${binary} is on PATH`);
  const reason = `skipped: no ${binary} on PATH (install nats-server to run these; CI runs them)`;
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}

/** A JetStream `nats-server` of the test's own, on a free port with a temporary store. */
export async function ownNatsServer(): Promise<OwnNatsServer> {
  const port = await freePort();
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'og-nats-'));
  let child: ChildProcess | undefined;
  const server: OwnNatsServer = {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      if (child) return;
      child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: 'ignore' });
      await waitForPort(port, 10_000);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    },
    wipe() {
      if (child) throw new Error('wipe the store of a stopped nats-server only');
      fs.rmSync(store, { recursive: true, force: true });
      fs.mkdirSync(store);
    },
    async destroy() {
      await server.stop();
      fs.rmSync(store, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** Every message of a stream, in stream order. */
export async function readStream(url: string, stream: string): Promise<StoredMsg[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const messages: StoredMsg[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (message) messages.push(message);
    }
    return messages;
  } finally {
    await nc.close();
  }
}

export async function deleteStream(url: string, stream: string): Promise<void> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream);
  } catch {
    // Never made, or the server is gone.
  } finally {
    await nc?.close();
  }
}

/** Polls `check` until it is true, or throws after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
