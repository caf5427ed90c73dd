import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePort } from '../support/pg-cluster';
import { natsServerInstalled } from '../support/nats';
import { optionalService, redisAnswers } from '../support/services';

const servers: net.Server[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

/** A TCP server on 127.0.0.1 that answers every chunk with `reply` (or nothing). */
async function fakeServer(reply: string | null): Promise<number> {
  const server = net.createServer((socket) => socket.on('data', () => reply !== null && socket.write(reply)));
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as net.AddressInfo).port;
}

describe('tests that need Redis without one', () => {
  it('a port nobody listens on, a silent server and a bad URL are no Redis; +PONG and -NOAUTH are', async () => {
    expect(await redisAnswers(`redis://127.0.0.1:${await freePort()}`)).toBe(false);
    expect(await redisAnswers(`redis://127.0.0.1:${await fakeServer(null)}`, 300)).toBe(false);
    expect(await redisAnswers('not a url')).toBe(false);
    expect(await redisAnswers(`redis://127.0.0.1:${await fakeServer('+PONG\r\n')}`)).toBe(true);
    expect(await redisAnswers(`redis://127.0.0.1:${await fakeServer('-NOAUTH Authentication required.\r\n')}`)).toBe(true);
  });

  it('skips with the reason printed, naming the URL', async () => {
    vi.stubEnv('REQUIRE_SERVICES', '0');
    const url = `redis://127.0.0.1:${await freePort()}`;
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const availability = await optionalService('Redis', url, redisAnswers);
      expect(availability).toStrictEqual({ up: false, reason: `skipped: no Redis answers at ${url} (start one, or set the URL variable; CI runs these)` });
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining(availability.reason));
    } finally {
      stderr.mockRestore();
    }
  });

  it('fails instead of skipping under REQUIRE_SERVICES=1, as CI runs', async () => {
    vi.stubEnv('REQUIRE_SERVICES', '1');
    const url = `redis://127.0.0.1:${await freePort()}`;
    await expect(optionalService('Redis', url, redisAnswers)).rejects.toThrow(`REQUIRE_SERVICES=1 but no Redis answers at ${url}`);
  });
});

describe('tests that start a nats-server of their own, without the binary', () => {
  it('skip with the reason printed when nats-server is not on PATH, and run when it is found', () => {
    vi.stubEnv('REQUIRE_SERVICES', '0');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const missing = natsServerInstalled('nats-server-that-is-not-installed');
      expect(missing).toStrictEqual({
        up: false,
        reason:
          'skipped: no nats-server-that-is-not-installed on PATH (install nats-server to run these; CI runs them)',
      });
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining(missing.reason));
      // Any program that runs stands in for the binary here.
      expect(natsServerInstalled(process.execPath)).toStrictEqual({ up: true, reason: '' });
    } finally {
      stderr.mockRestore();
    }
  });

  it('fails instead of skipping under REQUIRE_SERVICES=1, as CI runs', () => {
    vi.stubEnv('REQUIRE_SERVICES', '1');
    expect(() => natsServerInstalled('nats-server-that-is-not-installed')).toThrow(
      'REQUIRE_SERVICES=1 but no nats-server-that-is-not-installed is on PATH',
    );
  });
});
