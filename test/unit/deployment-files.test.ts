/**
 * The Dockerfile and compose.yaml cannot be built here (no Docker engine), so
 * the Dockerfile's build and start steps are scripts/release.sh subcommands,
 * which CI runs (`scripts/release.sh check`). This checks that the files say
 * what the README promises and call only subcommands the script has.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/config';
import { SHUTDOWN_AFTER_GRACE_MS } from '../../src/main';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

describe('Dockerfile and compose.yaml', () => {
  const dockerfile = read('Dockerfile');
  const script = read('scripts/release.sh');
  const subcommands = [...script.matchAll(/^ {2}(\w+)\) \w+ "\$@" ;;$/gm)].map((m) => m[1]);

  it('builds in two Node 20 slim stages and runs as a non-root user with a readiness health check on all interfaces', () => {
    expect(dockerfile.match(/^FROM node:20-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/readyz/m);
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
  });

  it('builds and starts through scripts/release.sh subcommands that exist (the ones CI runs)', () => {
    expect(subcommands).toStrictEqual(['pack', 'install', 'start', 'check']);
    const instructions = dockerfile
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .join('\n');
    const used = [...instructions.matchAll(/(?:release\.sh|order-gateway-release)"?,? "?(\w+)/g)].map(
      (m) => m[1],
    );
    expect(new Set(used)).toStrictEqual(new Set(['pack', 'install', 'start']));
    expect(read('.ci/run')).toContain('scripts/release.sh check');
  });

  it("installs only into an empty folder: an older install's files would stay beside the new ones", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'og-release-'));
    try {
      fs.mkdirSync(path.join(tmp, 'pkg'));
      fs.writeFileSync(path.join(tmp, 'pkg', 'order-gateway-0.1.0.tgz'), '');
      fs.writeFileSync(path.join(tmp, 'pkg', 'package-lock.json'), '{}');
      fs.mkdirSync(path.join(tmp, 'app'));
      fs.writeFileSync(path.join(tmp, 'app', 'old-module.js'), 'old');
      const run = spawnSync(
        'bash',
        [
          path.join(ROOT, 'scripts/release.sh'),
          'install',
          path.join(tmp, 'pkg', 'order-gateway-0.1.0.tgz'),
          path.join(tmp, 'app'),
        ],
        { encoding: 'utf8' },
      );
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`${path.join(tmp, 'app')} is not empty`);
      expect(fs.readdirSync(path.join(tmp, 'app'))).toStrictEqual(['old-module.js']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('compose runs PostgreSQL, Redis, a migration step before the gateways, with REDIS_URL shared', () => {
    const compose = read('compose.yaml');
    for (const service of ['postgres:', 'redis:', 'migrate:', 'gateway:'])
      expect(compose).toContain(`\n  ${service}`);
    expect(compose).toContain('command: ["migrate"]');
    expect(compose).toContain('REDIS_URL: redis://redis:6379');
    expect(compose).toContain('service_completed_successfully');
    // Both of the gateway's own services run under an init, which passes SIGTERM on from the start.
    expect(compose.match(/^ {4}init: true$/gm)).toHaveLength(2);
  });

  it('packs dist/ and leaves src/ out; prepare and prestart build only when TypeScript is there', () => {
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.files).toContain('dist/');
    expect(pkg.files).not.toContain('src/');
    expect(pkg.scripts.prepare).toBe('node scripts/build-if-needed.js');
    expect(pkg.scripts.prestart).toBe('node scripts/build-if-needed.js --if-stale');
  });

  it('compose, read as Docker Compose reads it, gives a gateway time to drain before the kill and probes readiness', () => {
    interface Service {
      init?: boolean;
      environment?: Record<string, string>;
      stop_grace_period?: string;
      healthcheck?: unknown;
      ports?: string[];
      deploy?: { replicas?: number };
    }
    const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
    const gateway = compose.services.gateway;
    // Compose's duration syntax: 1m30s, 15s, 500ms.
    const duration = (text: string) =>
      [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)].reduce(
        (ms, [, n, unit]) =>
          ms +
          Number(n) *
            { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 }[unit as 'h' | 'm' | 's' | 'ms' | 'us'],
        0,
      );
    // The environment the gateway gets: the image's ENV, then compose's (METRICS_TOKEN interpolated).
    const imageEnv = Object.fromEntries(
      [...read('Dockerfile').matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)(?:\s*\\)?$/gm)].map(
        ([, name, value]) => [name, value],
      ),
    );
    const environment = Object.fromEntries(
      Object.entries({ ...imageEnv, ...gateway.environment }).map(([name, value]) => [
        name,
        String(value).replace(/\$\{[^}]+\}/, 'x'.repeat(16)),
      ]),
    );
    const config = loadConfig(environment);
    // SIGTERM, requests in flight for SHUTDOWN_GRACE_MS, then at most 2 s more: all before Docker's SIGKILL.
    expect(duration(gateway.stop_grace_period ?? '10s')).toBeGreaterThan(
      config.shutdownGraceMs + SHUTDOWN_AFTER_GRACE_MS,
    );
    expect(config.host).toBe('0.0.0.0');
    expect(gateway.init).toBe(true);
    // No override: the image's HEALTHCHECK on /readyz, at the port the gateway listens on.
    expect(gateway.healthcheck).toBeUndefined();
    expect(read('Dockerfile')).toMatch(/process\.env\.PORT\|\|3000\)\+'\/readyz'/);
    expect(config.port).toBe(3000);
    // One published host port per replica.
    const [range] = gateway.ports ?? [];
    const [from, to] = (/^(\d+)-(\d+):3000$/.exec(range ?? '') ?? []).slice(1).map(Number);
    expect(to - from + 1).toBe(gateway.deploy?.replicas);
  });

  it('compose gives its several gateways NATS with JetStream, so that a subscriber on either hears every change', () => {
    interface Service {
      image?: string;
      command?: string[];
      environment?: Record<string, string>;
      healthcheck?: { test?: string[] };
      depends_on?: Record<string, { condition?: string }>;
      deploy?: { replicas?: number };
    }
    const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
    const gateway = compose.services.gateway;
    expect(gateway.deploy?.replicas).toBeGreaterThan(1);
    // README, "Across processes": without NATS, several processes on one PostgreSQL split the events.
    const natsUrl = new URL(gateway.environment?.NATS_URL ?? 'missing:');
    expect(natsUrl.protocol).toBe('nats:');
    const nats = compose.services[natsUrl.hostname];
    expect(nats?.image).toMatch(/^nats:2\./);
    expect(nats?.command).toContain('-js');
    expect(nats?.healthcheck?.test?.join(' ')).toContain('/healthz');
    expect(gateway.depends_on?.[natsUrl.hostname]?.condition).toBe('service_healthy');
  });
});
