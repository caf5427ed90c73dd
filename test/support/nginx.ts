/**
 * Debian's nginx in front of a gateway with the config we ship,
 * deploy/nginx/order-gateway.conf: the file is read as it is, and only the lines
 * marked `# test:` (the upstream servers, the listen address) and the timeouts a
 * test shortens are replaced. nginx runs in the foreground on a free 127.0.0.1
 * port with its pid, logs and temp folders in a temporary folder; never the
 * system service.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './nats';
import { spawnTracked, stopChild } from './processes';

export const NGINX_BINARY = '/usr/sbin/nginx';
export const SHIPPED_CONFIG = path.resolve(__dirname, '../../deploy/nginx/order-gateway.conf');

export interface RunningNginx {
  url: string;
  port: number;
  /** nginx's error log and output so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** `host:port` of each upstream server, in order. */
  upstreams: string[];
  /** Directives to replace in the shipped file, e.g. `{ proxy_read_timeout: '15s' }`. */
  replace?: Record<string, string>;
  /**
   * Serve the gateway under this path prefix (`/orders/`), as the README's "Under a path prefix"
   * says: `location /orders/ { proxy_pass http://order_gateway/; proxy_redirect / /orders/; … }`.
   */
  prefix?: string;
}

/** The shipped server config with the test's upstreams, port and replacements, inside an `http {}` of the test's own. */
export function nginxConfig(shipped: string, port: number, dir: string, options: NginxOptions): string {
  let body = shipped
    .replace(/^\s*server \S+;\s*# test: upstream.*$/m, options.upstreams.map((upstream) => `    server ${upstream};`).join('\n'))
    .replace(/^\s*listen \S+;\s*# test: listen.*$/m, `    listen 127.0.0.1:${port};`);
  for (const [directive, value] of Object.entries(options.replace ?? {})) {
    const pattern = new RegExp(`^(\\s*)${directive} [^;]+;`, 'm');
    if (!pattern.test(body)) throw new Error(`the shipped nginx config has no ${directive} to replace`);
    body = body.replace(pattern, `$1${directive} ${value};`);
  }
  if (options.prefix) {
    const prefix = options.prefix;
    const before = body;
    body = body
      .replace(/^(\s*)location \/ \{$/m, `$1location ${prefix} {`)
      .replace(/^(\s*)proxy_pass http:\/\/order_gateway;$/m, `$1proxy_pass http://order_gateway/;\n$1proxy_redirect / ${prefix};`);
    if (body === before || !body.includes(`location ${prefix} {`) || !body.includes('proxy_redirect')) {
      throw new Error('the shipped nginx config has no `location / {` with `proxy_pass http://order_gateway;` to put under a prefix');
    }
  }
  if (/# test: (upstream|listen)/.test(body)) throw new Error('a `# test:` line of the shipped nginx config was not replaced');
  return [
    ...(os.userInfo().uid === 0 ? ['user root root;'] : []),
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log info;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${dir}/access.log;`,
    `  client_body_temp_path ${dir}/body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    body,
    '}',
    '',
  ].join('\n');
}

export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  if (!fs.existsSync(NGINX_BINARY)) {
    throw new Error(`${NGINX_BINARY} is missing: apt-get install -y nginx (CI installs it; the nginx test does not skip)`);
  }
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-nginx-front-'));
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, nginxConfig(fs.readFileSync(SHIPPED_CONFIG, 'utf8'), port, dir, options));
  const child = spawnTracked(NGINX_BINARY, ['-p', dir, '-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const read = () => `${output}${fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : ''}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${read()}`);
    // nginx answers its own 404 for a location it has none for? Every path proxies, so ask for the pid file.
    if (fs.existsSync(`${dir}/nginx.pid`)) {
      const open = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
        () => true,
        () => false,
      );
      if (open) break;
    }
    if (Date.now() > deadline) throw new Error(`nginx did not start: ${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    output: read,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
