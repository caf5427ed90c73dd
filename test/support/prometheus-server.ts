/**
 * Prometheus and promtool (Debian's `prometheus` package) for the tests of
 * `/metrics` as an SRE sees it: `promtool check metrics` on the exposition,
 * `promtool check rules` / `test rules` on the shipped alerts, and a real
 * Prometheus scraping a live gateway. The package's own service is never
 * used: each test runs the binary on a free port of 127.0.0.1 with a
 * temporary store, and stops it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './nats';
import { spawnTracked, stopChild } from './processes';
import type { Availability } from './services';

/**
 * Whether `promtool` and `prometheus` run. When they do not, prints why once and skips, or throws
 * under REQUIRE_SERVICES=1 (CI installs them), like `haproxyInstalled`.
 */
export function prometheusInstalled(): Availability {
  const missing = ['promtool', 'prometheus'].filter(
    (binary) => spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 10_000 }).error !== undefined,
  );
  if (missing.length === 0) return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but no ${missing.join(' or ')} is on PATH`);
  const reason = `skipped: no ${missing.join(' or ')} on PATH (apt-get install prometheus to run these; CI runs them)`;
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}

export interface PromtoolResult {
  status: number | null;
  output: string;
}

/** Runs `promtool <args>`, with `input` on its standard input. */
export function promtool(args: string[], input?: string): PromtoolResult {
  const run = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout ?? ''}${run.stderr ?? ''}` };
}

export interface RunningPrometheus {
  url: string;
  /** An instant query over the HTTP API: its vector's samples. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** Resolves once Prometheus has scraped every target at least `scrapes` more times than now. */
  scrapes(scrapes?: number): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * A Prometheus scraping `targets` (`host:port`) every second at `/metrics`, with `bearer` as its
 * bearer token, as the README tells an operator to configure it.
 */
export async function startPrometheus(targets: string[], bearer: string, ruleFiles: string[] = []): Promise<RunningPrometheus> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-prometheus-'));
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      ...(ruleFiles.length ? ['rule_files:', ...ruleFiles.map((file) => `  - ${JSON.stringify(file)}`)] : []),
      'scrape_configs:',
      '  - job_name: order-gateway',
      '    authorization:',
      `      credentials: ${JSON.stringify(bearer)}`,
      '    static_configs:',
      `      - targets: ${JSON.stringify(targets)}`,
      '',
    ].join('\n'),
  );
  let output = '';
  const child = spawnTracked(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;

  const api = async (pathAndQuery: string) => {
    const res = await fetch(`${url}${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${pathAndQuery}: ${body.error ?? res.status}`);
    return body.data;
  };
  const scrapeCounts = async () => {
    const data = (await api('/api/v1/targets?state=active')) as { activeTargets: { lastScrape: string; health: string }[] };
    return data.activeTargets.map((target) => Date.parse(target.lastScrape));
  };

  for (const deadline = Date.now() + 20_000; ; ) {
    try {
      await fetch(`${url}/-/ready`).then((res) => {
        if (!res.ok) throw new Error(String(res.status));
      });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`Prometheus did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  return {
    url,
    async query(expr) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as {
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      };
      return data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
    },
    async scrapes(count = 1) {
      // A scrape after `since` includes everything done before `since`; `count` of them leave room for a rate().
      let since = Date.now();
      for (let seen = 0; seen < count; ) {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const last = await scrapeCounts();
          if (last.length === targets.length && last.every((at) => at > since)) break;
          if (Date.now() > deadline) throw new Error(`Prometheus did not scrape its targets:\n${output}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        seen++;
        since = Date.now();
      }
    },
    output: () => output,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
