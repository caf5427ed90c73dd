/**
 * Seat "kubernetes": the manifests in deploy/kubernetes/ as a platform engineer adopts them,
 * checked against the Kubernetes OpenAPI schemas (kubernetes-models' validate()), against the
 * checks kube-linter and Polaris make (as plain assertions: neither installs offline), against
 * the gateway's own configuration and Dockerfile, and the behaviour the probes rely on, on a
 * real gateway process: liveness through a database and a NATS outage, readiness, SIGTERM,
 * two pods migrating one PostgreSQL at once, and what the process writes (a read-only root).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { Client } from 'pg';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkServeConfig, ENV, loadConfig } from '../../src/config/config';
import { SHUTDOWN_AFTER_GRACE_MS } from '../../src/main';
import { createProcessDatabase, usingRealPostgres } from '../support/database';
import { runCli, startServer, spawnTracked, stopChild } from '../support/processes';
import { toolsInstalled } from '../support/tools';

const ROOT = path.resolve(__dirname, '../..');
const DIR = path.join(ROOT, 'deploy/kubernetes');

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
} & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

function loadManifests(): Manifest[] {
  return fs
    .readdirSync(DIR)
    .filter((file) => /\.ya?ml$/.test(file))
    .flatMap((file) =>
      parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8')).map((document) => {
        expect(document.errors, file).toEqual([]);
        return document.toJS() as Manifest;
      }),
    );
}
const manifests = loadManifests();
const one = (kind: string) => {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0];
};
const deployment = one('Deployment');
const job = one('Job');
const service = one('Service');
const configMap = one('ConfigMap');
const secret = one('Secret');
const podSpecs: [string, IPodSpec][] = [
  ['Deployment', deployment.spec.template.spec],
  ['Job', job.spec.template.spec],
];
const containers: [string, IContainer, IPodSpec][] = podSpecs.flatMap(([kind, spec]) =>
  [...(spec.initContainers ?? []), ...spec.containers].map((container): [string, IContainer, IPodSpec] => [
    `${kind}/${container.name}`,
    container,
    spec,
  ]),
);
const gateway = deployment.spec.template.spec.containers[0] as IContainer;
/** The environment a pod gets: the image's ENV lines, then the ConfigMap and the Secret. */
const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const imageEnv = Object.fromEntries(
  [...(/^ENV ([\s\S]*?)\n(?!\s)/m.exec(dockerfile)?.[1] ?? '').matchAll(/(\w+)=(\S+)/g)].map((match) => [
    match[1],
    match[2],
  ]),
);
const podEnv: Record<string, string> = { ...imageEnv, ...configMap.data, ...secret.stringData };

describe('the manifests against the Kubernetes schemas', () => {
  it.each(manifests.map((manifest) => [`${manifest.kind} ${manifest.metadata.name}`, manifest]))(
    '%s is valid',
    (_name, manifest) => {
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      expect(Model, `${manifest.apiVersion} ${manifest.kind}`).toBeDefined();
      expect(() => new Model(manifest as never).validate()).not.toThrow();
    },
  );

  it('the validator refuses a broken manifest (so the passes above mean something)', () => {
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].livenessProbe.periodSeconds = 'often';
    expect(() => new Deployment(broken).validate()).toThrow(/periodSeconds/);
  });
});

describe('what kube-linter and Polaris check', () => {
  it.each(containers)(
    '%s: non-root, read-only root, no privilege, resources, pinned image',
    (_name, container, spec) => {
      const pod = spec.securityContext ?? {};
      const own = container.securityContext ?? {};
      expect(own.runAsNonRoot ?? pod.runAsNonRoot).toBe(true);
      expect(own.runAsUser ?? pod.runAsUser).toBeGreaterThan(0);
      expect(own.readOnlyRootFilesystem).toBe(true);
      expect(own.allowPrivilegeEscalation).toBe(false);
      expect(own.privileged ?? false).toBe(false);
      expect(own.capabilities?.drop).toContain('ALL');
      expect(own.capabilities?.add ?? []).toEqual([]);
      expect(pod.seccompProfile?.type ?? own.seccompProfile?.type).toBe('RuntimeDefault');
      expect(spec.hostNetwork ?? false).toBe(false);
      expect(spec.hostPID ?? false).toBe(false);
      expect(spec.hostIPC ?? false).toBe(false);
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const kind of ['requests', 'limits'] as const)
        for (const resource of ['cpu', 'memory'])
          expect(container.resources?.[kind]?.[resource], `${kind}.${resource}`).toBeDefined();
      expect(container.image).toMatch(/:(?!latest$)[\w.-]+$/);
      // Every mounted volume exists, and every volume is one the pod may write (emptyDir), not the host's.
      const volumes = new Map((spec.volumes ?? []).map((volume) => [volume.name, volume]));
      for (const mount of container.volumeMounts ?? [])
        expect(volumes.get(mount.name), mount.name).toBeDefined();
      for (const volume of volumes.values()) expect(volume.hostPath, volume.name).toBeUndefined();
      // Environment from objects that are in the folder, never a value written into the pod spec.
      for (const source of container.envFrom ?? []) {
        const name = source.configMapRef?.name ?? source.secretRef?.name;
        expect(
          manifests.some(
            (manifest) =>
              manifest.metadata.name === name &&
              manifest.kind === (source.configMapRef ? 'ConfigMap' : 'Secret'),
          ),
        ).toBe(true);
      }
    },
  );

  it('the Deployment: two replicas or more, spread, probes that differ, a budget, a Service that finds it', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.template.spec.affinity?.podAntiAffinity).toBeDefined();
    expect(gateway.livenessProbe?.httpGet?.path).toBeDefined();
    expect(gateway.readinessProbe?.httpGet?.path).toBeDefined();
    expect(gateway.livenessProbe?.httpGet?.path).not.toBe(gateway.readinessProbe?.httpGet?.path);
    expect(gateway.startupProbe).toBeDefined();
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    for (const selector of [
      deployment.spec.selector.matchLabels,
      service.spec.selector,
      one('PodDisruptionBudget').spec.selector.matchLabels,
    ])
      expect(podLabels).toMatchObject(selector as Record<string, string>);
    // The Job's pods are not the Service's endpoints.
    expect(job.spec.template.metadata.labels).not.toMatchObject(service.spec.selector);
    const portNames = (gateway.ports ?? []).map((port) => port.name);
    for (const port of service.spec.ports) expect(portNames).toContain(port.targetPort);
    for (const probe of [gateway.livenessProbe, gateway.readinessProbe, gateway.startupProbe])
      expect(portNames).toContain(probe?.httpGet?.port);
  });
});

describe('the manifests against the gateway and its image', () => {
  it('every variable they set is one the gateway reads, with a value it accepts for serve', () => {
    const known = new Set([...Object.keys(ENV.properties), 'ENV_FILE', 'NODE_OPTIONS']);
    for (const name of [...Object.keys(configMap.data), ...Object.keys(secret.stringData)])
      expect(known, name).toContain(name);
    const config = loadConfig(podEnv);
    expect(() => checkServeConfig(config)).not.toThrow();
    expect(config.host).toBe('0.0.0.0');
    expect(config.migrateOnStart).toBe(false);
  });

  it('ports, user and volumes match the Dockerfile and the configuration', () => {
    const config = loadConfig(podEnv);
    const byName = Object.fromEntries((gateway.ports ?? []).map((port) => [port.name, port.containerPort]));
    expect(byName.http).toBe(config.port);
    expect(byName.metrics).toBe(config.metricsPort);
    // The image's user is `node` (uid 1000 in node:20-slim).
    expect(dockerfile).toMatch(/^USER node$/m);
    for (const [, spec] of podSpecs) expect(spec.securityContext?.runAsUser).toBe(1000);
    // DATA_DIR (the image's VOLUME) and /tmp are writable volumes under the read-only root.
    const mounts = (gateway.volumeMounts ?? []).map((mount) => mount.mountPath);
    expect(mounts).toContain(podEnv.DATA_DIR);
    expect(mounts).toContain('/tmp');
  });

  it('migrations: the Job runs `migrate`, the servers `serve` and do not migrate on start', () => {
    expect(job.spec.template.spec.containers[0].args).toEqual(['migrate']);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(gateway.args ?? ['serve']).toEqual(['serve']);
    expect(job.spec.template.spec.containers[0].image).toBe(gateway.image);
  });

  it('the grace period covers the preStop wait, SHUTDOWN_GRACE_MS and the rest of the shutdown', () => {
    const config = loadConfig(podEnv);
    const command = gateway.lifecycle?.preStop?.exec?.command ?? [];
    expect(command[0]).toBe('sleep');
    const preStopSeconds = Number(command[1]);
    expect(preStopSeconds).toBeGreaterThanOrEqual(5);
    const needed = preStopSeconds + (config.shutdownGraceMs + SHUTDOWN_AFTER_GRACE_MS) / 1000;
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(needed);
    // /readyz answers within DB_CONNECT_TIMEOUT_MS + 1 s: a probe timeout shorter reads a slow "no" as a failure to answer.
    expect(gateway.readinessProbe?.timeoutSeconds).toBeGreaterThanOrEqual(
      config.dbConnectTimeoutMs / 1000 + 1,
    );
    // node must not be PID 1 (it would ignore SIGTERM until serve installs its handlers).
    for (const [, spec] of podSpecs) expect(spec.shareProcessNamespace).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// Behaviour the probes rely on, on a real gateway process

/** The machine's PostgreSQL: the outage and the two-pod start need a server, whichever database the run uses. */
const SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
async function admin<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
async function serverDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `og_k8s_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () =>
      admin((client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}
/** A port nothing listens on: NATS is "down". */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
const probe = async (url: string) => {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as { status: string } };
};
async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, tries = 60): Promise<T> {
  let value = await read();
  for (let i = 0; i < tries && !ok(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    value = await read();
  }
  return value;
}

describe('probes on a real gateway', () => {
  it(
    'a database outage: /healthz stays 200, /readyz 503 then 200 again; NATS down touches neither',
    { timeout: 240_000 },
    async () => {
      const db = await serverDatabase();
      try {
        const nats = `nats://127.0.0.1:${await closedPort()}`;
        const server = await startServer({ DATABASE_URL: db.url, NATS_URL: nats, NODE_ENV: 'production' });
        try {
          expect(
            await until(
              () => probe(`${server.url}/readyz`),
              (answer) => answer.status === 200,
            ),
          ).toEqual({ status: 200, body: { status: 'ready' } });
          expect(await probe(`${server.url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
          await admin(async (client) => {
            await client.query(`alter database ${db.name} allow_connections false`);
            await client.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1`, [
              db.name,
            ]);
          });
          expect(
            (
              await until(
                () => probe(`${server.url}/readyz`),
                (answer) => answer.status === 503,
              )
            ).status,
          ).toBe(503);
          for (let i = 0; i < 3; i++)
            expect(await probe(`${server.url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
          await admin((client) => client.query(`alter database ${db.name} allow_connections true`));
          expect(
            (
              await until(
                () => probe(`${server.url}/readyz`),
                (answer) => answer.status === 200,
              )
            ).status,
          ).toBe(200);
          expect(server.child.exitCode).toBeNull();
          expect(await server.stop()).toBe(0);
        } finally {
          await stopChild(server.child);
        }
      } finally {
        await db.drop();
      }
    },
  );

  it(
    'starting before migrations: alive at once, ready only once `migrate` has run elsewhere',
    { timeout: 240_000 },
    async () => {
      const store = await createProcessDatabase('og-k8s-start-');
      try {
        if (!usingRealPostgres)
          expect((await runCli(['migrate'], { ...store.env, MIGRATE_ON_START: 'false' }, 120_000)).code).toBe(
            0,
          );
        const env = { ...store.env, MIGRATE_ON_START: 'false' };
        if (usingRealPostgres) {
          const server = await startServer(env);
          try {
            expect((await probe(`${server.url}/healthz`)).status).toBe(200);
            const pending = await probe(`${server.url}/readyz`);
            expect(pending.status).toBe(503);
            expect(pending.body.status).toMatch(/^migrations pending/);
            expect((await runCli(['migrate'], env, 120_000)).code).toBe(0);
            expect(
              await until(
                () => probe(`${server.url}/readyz`),
                (answer) => answer.status === 200,
              ),
            ).toEqual({ status: 200, body: { status: 'ready' } });
            expect(await server.stop()).toBe(0);
          } finally {
            await stopChild(server.child);
          }
        } else {
          // The embedded database belongs to one process: the Job cannot migrate beside it, so it ran first.
          const server = await startServer(env);
          expect(await probe(`${server.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready' } });
          expect(await server.stop()).toBe(0);
        }
      } finally {
        await store.cleanup();
      }
    },
  );

  it(
    'two pods starting at once on one PostgreSQL, both migrating: both ready, each migration applied once',
    { timeout: 240_000 },
    async () => {
      const db = await serverDatabase();
      try {
        const servers = await Promise.all(
          [0, 1].map(() => startServer({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true' }, 120_000)),
        );
        try {
          for (const server of servers)
            expect(
              await until(
                () => probe(`${server.url}/readyz`),
                (answer) => answer.status === 200,
              ),
            ).toEqual({ status: 200, body: { status: 'ready' } });
          const migrations = fs
            .readdirSync(path.join(ROOT, 'src/db/migrations'))
            .filter((file) => /^Migration\d+.*\.ts$/.test(file));
          const url = db.url;
          const client = new Client({ connectionString: url });
          await client.connect();
          const { rows } = await client.query<{ name: string; applied: string }>(
            'select name, count(*)::int as applied from mikro_orm_migrations group by name',
          );
          await client.end();
          expect(rows).toHaveLength(migrations.length);
          for (const row of rows) expect(row.applied, row.name).toBe(1);
          expect(await Promise.all(servers.map((server) => server.stop()))).toEqual([0, 0]);
        } finally {
          await Promise.all(servers.map((server) => stopChild(server.child)));
        }
      } finally {
        await db.drop();
      }
    },
  );
});

interface Sent {
  key: string;
  kind: 'response' | 'refused' | 'broken';
  status?: number;
  id?: string;
  error?: string;
}

/** One keyed create on its own connection, so that "refused" and "cut off" can be told apart. */
function create(url: string, bearer: string, key: string): Promise<Sent> {
  const payload = JSON.stringify({
    customer_id: key,
    items: [
      { product_id: 'p', quantity: 1, price: 3 },
      { product_id: 'q', quantity: 2, price: 1 },
    ],
    total: 5,
  });
  return new Promise((resolve) => {
    const request = http.request(
      `${url}/api/orders`,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: bearer,
          'idempotency-key': key,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => {
          const id =
            response.statusCode === 201 ? (JSON.parse(body) as { data: { id: string } }).data.id : undefined;
          resolve({ key, kind: 'response', status: response.statusCode, id });
        });
        response.on('error', () => resolve({ key, kind: 'broken' }));
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) =>
      resolve({
        key,
        kind: error.code === 'ECONNREFUSED' ? 'refused' : 'broken',
        error: error.code ?? error.message,
      }),
    );
    request.end(payload);
  });
}

describe('SIGTERM, as the kubelet sends it after preStop', () => {
  const store: { env: Record<string, string>; cleanup: () => Promise<void> } = {
    env: {},
    cleanup: async () => {},
  };
  let bearer = '';
  beforeAll(async () => {
    Object.assign(store, await createProcessDatabase('og-k8s-term-'));
    const created = await runCli(['apikey', 'create', '--workspace', 'k8s', '--json'], store.env, 120_000);
    expect(created.code, created.stderr).toBe(0);
    bearer = `Bearer ${(JSON.parse(created.stdout) as { key: string }).key}`;
  }, 180_000);
  afterAll(() => store.cleanup());

  it(
    'stops being ready at once, finishes what it accepted, exits 0, and leaves no order half-written',
    { timeout: 240_000 },
    async () => {
      const server = await startServer({
        ...store.env,
        SHUTDOWN_GRACE_MS: '10000',
        NODE_ENV: 'production',
        METRICS_PORT: '0',
      });
      let results: Sent[];
      try {
        expect((await probe(`${server.url}/readyz`)).status).toBe(200);
        // A pod that has served a while (its code loaded): the kubelet sends SIGTERM only after preStop.
        for (let i = 0; i < 3; i++)
          expect((await create(server.url, bearer, `k8s-warm-${i}`)).status).toBe(201);
        const exited = new Promise<number | null>((resolve) =>
          server.child.once('exit', (code) => resolve(code)),
        );
        const keys = Array.from({ length: 30 }, (_, i) => `k8s-term-${i}`);
        // After preStop the Service sends nothing new: SIGTERM comes while accepted requests run.
        const sending = keys.map((key) => create(server.url, bearer, key));
        await Promise.race(sending);
        server.child.kill('SIGTERM');
        await until(
          async () => server.output(),
          (output) => output.includes('shutting down'),
          40,
        );
        // Readiness after SIGTERM: a new connection is refused, or answered 503: never "ready".
        const readyAfter = await fetch(`${server.url}/readyz`).then(
          (response) => response.status,
          () => 'refused',
        );
        expect(['refused', 503]).toContain(readyAfter);
        results = await Promise.all(sending);
        expect(await exited).toBe(0);
        expect(server.output()).toContain('shut down cleanly');
        // Nothing logged at error level (50+) on the way out: the relay, the dispatcher, the pool stopped cleanly.
        const errors = server
          .output()
          .split('\n')
          .filter((line) => /"level":(50|60)/.test(line));
        expect(errors).toEqual([]);
      } finally {
        await stopChild(server.child);
      }
      // Every create was answered in full (201, or 503 having written nothing), or never reached a request
      // handler (a connection refused, or reset by the closing listener before its request was read).
      for (const result of results)
        if (result.kind === 'response') expect([201, 503]).toContain(result.status);
      expect(results.some((result) => result.status === 201)).toBe(true);
      // After a restart, each retried key tells what was written: a 201 replays with its order whole, the rest create now.
      const again = await startServer(store.env);
      try {
        for (const result of results) {
          // As a retrying client does: a 503 (the restarted process still warming up) is tried again after its Retry-After.
          const send = () =>
            fetch(`${again.url}/api/orders`, {
              method: 'POST',
              headers: {
                authorization: bearer,
                'idempotency-key': result.key,
                'content-type': 'application/json',
              },
              body: JSON.stringify({
                customer_id: result.key,
                items: [
                  { product_id: 'p', quantity: 1, price: 3 },
                  { product_id: 'q', quantity: 2, price: 1 },
                ],
                total: 5,
              }),
            });
          let retried = await send();
          for (let attempt = 0; retried.status === 503 && attempt < 10; attempt++) {
            await new Promise((resolve) =>
              setTimeout(resolve, Number(retried.headers.get('retry-after') ?? 1) * 1000),
            );
            retried = await send();
          }
          expect(retried.status, result.key).toBe(201);
          const body = (await retried.json()) as { data: { id: string; items: unknown[] } };
          expect(retried.headers.get('idempotent-replayed') === 'true', result.key).toBe(
            result.status === 201,
          );
          if (result.status === 201) expect(body.data.id).toBe(result.id);
          expect(body.data.items).toHaveLength(2);
        }
        expect(await again.stop()).toBe(0);
      } finally {
        await stopChild(again.child);
      }
    },
  );
});

// ---------------------------------------------------------------------------
// The read-only root filesystem: what the process writes, seen by strace

const strace = toolsInstalled({ strace: ['-V'] }, 'apt-get install strace');
describe.runIf(strace.up)('a read-only root filesystem', () => {
  // The image runs the compiled build (bin/order-gateway.js), not the sources through a compiler that caches in $HOME.
  beforeAll(() => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build-if-needed.js'), '--if-stale'], {
      cwd: ROOT,
      stdio: 'inherit',
      timeout: 300_000,
    });
    expect(built.status).toBe(0);
  }, 300_000);

  it('serve writes nothing outside DATA_DIR (a volume in the manifest)', { timeout: 300_000 }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-k8s-ro-'));
    const db = usingRealPostgres ? await serverDatabase() : undefined;
    const trace = path.join(dataDir, '..', `${path.basename(dataDir)}.trace`);
    try {
      const env = { ...(db ? { DATABASE_URL: db.url } : {}), DATA_DIR: dataDir };
      const key = await runCli(['apikey', 'create', '--workspace', 'ro', '--json'], env, 120_000);
      expect(key.code, key.stderr).toBe(0);
      const bearer = `Bearer ${(JSON.parse(key.stdout) as { key: string }).key}`;
      const port = await closedPort();
      const { DATABASE_URL: _unset, ...parent } = process.env;
      // The pod's environment (image, ConfigMap), here without Redis and NATS, on a free local port.
      const { REDIS_URL: _redis, NATS_URL: _nats, ...settings } = configMap.data as Record<string, string>;
      const serveEnv = {
        ...parent,
        ...imageEnv,
        ...settings,
        ...env,
        MIGRATE_ON_START: 'true',
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      };
      const child = spawnTracked(
        'strace',
        [
          '-f',
          '-qq',
          '-o',
          trace,
          '-e',
          'trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,symlink,symlinkat,link,linkat,truncate',
          process.execPath,
          path.join(ROOT, 'bin/order-gateway.js'),
          'serve',
        ],
        {
          cwd: dataDir,
          env: serveEnv,
        },
      );
      try {
        const ready = await until(
          () => probe(`http://127.0.0.1:${port}/readyz`).catch(() => ({ status: 0, body: { status: '' } })),
          (answer) => answer.status === 200,
          240,
        );
        expect(ready.status).toBe(200);
        const sent = await create(`http://127.0.0.1:${port}`, bearer, 'ro-1');
        expect(sent.status).toBe(201);
      } finally {
        // SIGTERM to the gateway, as the kubelet sends it (strace itself would only detach), then strace ends with it.
        const traced = fs
          .readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .map(Number)
          .filter(Boolean);
        for (const pid of traced) process.kill(pid, 'SIGTERM');
        await stopChild(child, 20_000);
      }
      const written = fs
        .readFileSync(trace, 'utf8')
        .split('\n')
        .filter((line) =>
          /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|\b(creat|mkdirat?|renameat2?|rename|unlinkat?|symlinkat?|linkat?|truncate)\(/.test(
            line,
          ),
        )
        .filter((line) => !/= -1 E/.test(line))
        .map((line) => /"([^"]+)"/.exec(line)?.[1] ?? line)
        .filter(
          (file) => !file.startsWith(dataDir) && !file.startsWith('/dev/') && !file.startsWith('/proc/'),
        );
      expect([...new Set(written)]).toEqual([]);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(trace, { force: true });
      await db?.drop();
    }
  });
});
