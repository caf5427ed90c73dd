/**
 * Shared HTTP caches in front of a gateway, as a platform team would put them:
 * Debian's nginx with `proxy_cache` (`proxy_cache_valid 200 1m`, nothing else
 * tuned) and Debian's Varnish with its built-in VCL (`-b`, no VCL of ours).
 * Each runs in the foreground on a free 127.0.0.1 port, with its config,
 * cache and work folder in a temporary folder of its own; never the system
 * service.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './nats';
import { spawnTracked, stopChild } from './processes';
import type { Availability } from './services';

/**
 * Whether `binary` runs (`args` prints its version). When it does not, prints why once and
 * skips, or throws under REQUIRE_SERVICES=1 (CI installs it), like `haproxyInstalled`.
 */
export function installed(binary: string, args: string[], debianPackage: string): Availability {
  const run = spawnSync(binary, args, { stdio: 'ignore', timeout: 10_000 });
  if (!run.error) return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but no ${binary} is on PATH`);
  const reason = `skipped: no ${binary} on PATH (apt-get install ${debianPackage} to run these; CI runs them)`;
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}

export interface RunningCache {
  name: string;
  url: string;
  /** True when this answer came from the cache's store rather than from the gateway. */
  wasHit(headers: Headers): boolean;
  output(): string;
  stop(): Promise<void>;
}

async function waitUntilAnswering(url: string, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited()) throw new Error(`the cache exited: ${output()}`);
    const answered = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      () => true,
      () => false,
    );
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`the cache did not start: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * nginx with the proxy cache a platform team would plausibly write: every GET and HEAD
 * through one cache zone, `proxy_cache_valid 200 1m` for answers that say nothing about
 * caching, nginx's defaults for the rest (it keys on the URL alone and honours the
 * gateway's Cache-Control, Expires and Vary). `X-Cache-Status` tells a hit.
 */
export async function startNginx(upstreamPort: number): Promise<RunningCache> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-nginx-'));
  // Workers run as this user, so that they can write the cache in this folder.
  const user = os.userInfo();
  const config = [
    ...(user.uid === 0 ? ['user root root;'] : []),
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${dir}/body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    `  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=gateway:1m max_size=100m inactive=10m;`,
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    `      proxy_pass http://127.0.0.1:${upstreamPort};`,
    '      proxy_http_version 1.1;',
    '      proxy_set_header Host $host;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '      proxy_cache gateway;',
    '      proxy_cache_valid 200 1m;',
    '      add_header X-Cache-Status $upstream_cache_status always;',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, config);
  const child = spawnTracked('nginx', ['-p', dir, '-c', file, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const readLog = () => `${output}${fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : ''}`;
  await waitUntilAnswering(`${url}/healthz-of-the-cache-itself`, () => child.exitCode !== null, readLog);
  return {
    name: 'nginx proxy_cache',
    url,
    wasHit: (headers) => headers.get('x-cache-status') === 'HIT',
    output: readLog,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Varnish with its built-in VCL (`varnishd -b`), in the foreground. The built-in VCL
 * passes a request with Authorization or a cookie, and caches for 120 s (`default_ttl`)
 * an answer that says nothing about caching. `X-Varnish` names two transactions on a hit.
 */
export async function startVarnish(upstreamPort: number): Promise<RunningCache> {
  const port = await freePort();
  const adminPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-varnish-'));
  const child = spawnTracked(
    'varnishd',
    [
      '-F',
      '-n', dir,
      '-a', `127.0.0.1:${port}`,
      '-T', `127.0.0.1:${adminPort}`,
      '-b', `127.0.0.1:${upstreamPort}`,
      '-s', 'malloc,64m',
      // Its own user switching (the `varnish` and `vcache` users) needs the package's users; none is needed here.
      '-j', 'none',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  await waitUntilAnswering(`${url}/healthz-of-the-cache-itself`, () => child.exitCode !== null, () => output);
  return {
    name: 'Varnish, built-in VCL',
    url,
    wasHit: (headers) => /^\d+ \d+$/.test(headers.get('x-varnish') ?? ''),
    output: () => output,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
