/**
 * HAProxy (Debian's `haproxy` package) in front of gateway processes, for the
 * tests of running behind a real load balancer: a config of the test's own, a
 * stats page to read which servers it routes to, 127.0.0.1 only.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './nats';
import { spawnTracked, stopChild } from './processes';
import type { Availability } from './services';

/**
 * Whether `haproxy` runs. When it does not, prints why once and skips, or throws under
 * REQUIRE_SERVICES=1 (CI installs it), like `natsServerInstalled`.
 */
export function haproxyInstalled(binary = 'haproxy'): Availability {
  const run = spawnSync(binary, ['-v'], { stdio: 'ignore', timeout: 10_000 });
  if (!run.error) return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but no ${binary} is on PATH`);
  const reason = `skipped: no ${binary} on PATH (apt-get install haproxy to run these; CI runs them)`;
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}

export interface RunningHaproxy {
  url: string;
  /** Server name → HAProxy's status for it (`UP`, `DOWN`, `UP 1/2`, …). */
  states(): Promise<Record<string, string>>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * HAProxy balancing round-robin over `servers` (name → port), with the README's readiness check:
 * `GET /readyz` every `checkIntervalMs`, down after 2 failures, up after 2 successes.
 */
export async function startHaproxy(servers: Record<string, number>, checkIntervalMs = 500): Promise<RunningHaproxy> {
  const port = await freePort();
  const statsPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-haproxy-'));
  const config = [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout tunnel 60s',
    '  retries 3',
    '  option redispatch',
    '  option forwardfor',
    'frontend api',
    `  bind 127.0.0.1:${port}`,
    // The proxy names each request (HAProxy's documented unique-id format) unless the client did,
    // passes the id on as X-Request-Id and logs it; the gateway keeps a sane incoming one.
    '  unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid',
    '  http-request set-header X-Request-Id %[unique-id] unless { req.hdr(x-request-id) -m found }',
    '  http-response set-header X-Proxy-Unique-Id %[unique-id]',
    '  default_backend gateways',
    'backend gateways',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    `  default-server check inter ${checkIntervalMs} fall 2 rise 2`,
    ...Object.entries(servers).map(([name, serverPort]) => `  server ${name} 127.0.0.1:${serverPort}`),
    'frontend stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config);
  const child = spawnTracked('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const states = async () => {
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
    const lines = csv.split('\n');
    const header = (lines[0] ?? '').replace(/^# /, '').split(',');
    const at = (name: string) => header.indexOf(name);
    const result: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      if (cells[at('pxname')] === 'gateways' && cells[at('svname')] in servers) result[cells[at('svname')]] = cells[at('status')];
    }
    return result;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
    if (await states().then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    states,
    output: () => output,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
