/** The results file and the printed table. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkDatabase } from './database';
import { type PathReport, type Target, accounting } from './load';
import { checkParity } from './parity';
import { type HeapReading, RssSampler } from './processes';
import { ITEMS_PER_ORDER, type PathKey, RESULTS, ROOT, realPostgres, settings } from './settings';
import { round1 } from './util';

// ---------------------------------------------------------------------------
// Output

export function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

export function renderTable(rows: string[][], rightAligned: boolean[]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  const line = (row: string[]) =>
    row.map((cell, column) => pad(cell, widths[column], rightAligned[column])).join(' | ');
  const rule = widths.map((width) => '-'.repeat(width)).join('-|-');
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

export const fmt = (value: number | undefined | null, digits = 0) =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : value.toFixed(digits);

export interface ReportInput {
  started: number;
  notes: string[];
  commit: string;
  dirtySrc: boolean;
  built: boolean;
  sqlVersion: string;
  gatewayOverrides: Record<string, string | undefined>;
  reports: PathReport[];
  heapSeries: { path: PathKey; round: number; heap: HeapReading | null }[];
  startHeap: HeapReading | null;
  gatewayRss: RssSampler;
  baselineRss: RssSampler | undefined;
  parity: Awaited<ReturnType<typeof checkParity>>;
  correctness: Awaited<ReturnType<typeof checkDatabase>>;
  gatewayShutdown: string;
  baselineShutdown: string | undefined;
  targets: Target[];
  withBaseline: boolean;
}

/** Writes bench/results/latest.json and prints the table. */
export function writeReport(input: ReportInput): void {
  const {
    started,
    notes,
    commit,
    dirtySrc,
    built,
    gatewayOverrides,
    reports,
    heapSeries,
    startHeap,
    gatewayRss,
    baselineRss,
  } = input;
  const { parity, correctness, gatewayShutdown, baselineShutdown, targets } = input;
  const sql = { version: input.sqlVersion };
  const baselineServer = input.withBaseline ? true : undefined;
  // Results.
  const heaps = heapSeries
    .map((entry) => entry.heap?.heapUsedMb)
    .filter((value): value is number => typeof value === 'number');
  const heapGrowth = heaps.length >= 2 ? round1(heaps[heaps.length - 1] - heaps[0]) : null;
  const peakRssMb = gatewayRss.available ? round1(gatewayRss.peakKb / 1024) : null;
  const cpus = os.cpus();
  const results = {
    date: new Date().toISOString(),
    machine: {
      cores: cpus.length,
      cpu: cpus[0]?.model ?? 'unknown',
      memoryGb: round1(os.totalmem() / 1024 ** 3),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    git: { commit, srcHasUncommittedChanges: dirtySrc },
    database: { kind: realPostgres ? 'postgres' : 'embedded', version: sql.version },
    settings: {
      rounds: settings.rounds,
      seconds: settings.seconds,
      warmupSeconds: settings.warmupSeconds,
      connections: settings.connections,
      itemsPerOrder: ITEMS_PER_ORDER,
      runner: settings.runner,
      builtBeforeRun: built,
      baselineMode: input.withBaseline ? settings.baselineMode : null,
      poolMax: settings.poolMax,
      gatewayLogLevel: settings.gatewayLogLevel ?? 'gateway default',
      gatewayEnvironment: Object.fromEntries(
        Object.entries(gatewayOverrides).filter(([, value]) => value !== undefined),
      ),
      command: realPostgres ? 'DATABASE_URL=… npm run bench' : 'npm run bench',
    },
    paths: reports,
    memory: {
      gatewayPeakRssMb: peakRssMb,
      rssLimitMb: 200,
      baselinePeakRssMb: baselineRss?.available ? round1(baselineRss.peakKb / 1024) : null,
      gatewayHeapBeforeMb: startHeap?.heapUsedMb ?? null,
      gatewayHeapAfterGcPerRoundMb: heapSeries.map((entry) => ({
        path: entry.path,
        round: entry.round,
        heapUsedMb: entry.heap?.heapUsedMb ?? null,
      })),
      heapGrowthFirstToLastRoundMb: heapGrowth,
    },
    parity,
    correctness: {
      ...correctness,
      createdAnswered2xx: accounting.created,
      abandonedInFlight: accounting.abortedInFlight,
    },
    shutdown: { gateway: gatewayShutdown, baseline: baselineShutdown ?? null },
    notes,
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  // The table.
  const rows: string[][] = [
    ['path', 'gateway/s', 'p50 ms', 'p99 ms', 'baseline/s', 'p50 ms', 'p99 ms', 'ratio', 'p99 ×', 'target'],
  ];
  for (const report of reports) {
    if (!report.available || !report.gateway) {
      rows.push([report.label, report.note ?? 'not available', '', '', '', '', '', '', '', '']);
      continue;
    }
    let target = '';
    if (report.target && typeof report.ratio === 'number') {
      const met = report.ratio >= report.target.ratio;
      target = `≥${report.target.ratio.toFixed(2)} ${met ? 'met' : 'MISSED'}`;
      if (report.target.stretch) target += ` (stretch ${report.target.stretch.toFixed(2)})`;
    } else if (report.target) {
      target = 'n/a (no baseline)';
    }
    if (report.target && typeof report.p99Ratio === 'number')
      target += `; p99 ≤2× ${report.p99Ratio <= 2 ? 'met' : 'MISSED'}`;
    rows.push([
      report.label,
      fmt(report.gateway.perSecond),
      fmt(report.gateway.p50),
      fmt(report.gateway.p99),
      report.baseline ? fmt(report.baseline.perSecond) : 'n/a',
      report.baseline ? fmt(report.baseline.p50) : 'n/a',
      report.baseline ? fmt(report.baseline.p99) : 'n/a',
      typeof report.ratio === 'number' ? report.ratio.toFixed(2) : 'n/a',
      typeof report.p99Ratio === 'number' ? report.p99Ratio.toFixed(2) : 'n/a',
      target,
    ]);
  }
  const header =
    `order-gateway bench: ${realPostgres ? `PostgreSQL (${sql.version.split(' ').slice(0, 2).join(' ')})` : 'embedded PGlite'}, ` +
    `${cpus.length} cores, node ${process.version}, gateway from ${settings.runner === 'dist' ? 'dist/' : 'src/ via SWC'}` +
    `${input.withBaseline ? `, baseline ${settings.baselineMode}` : realPostgres ? ', no baseline (BENCH_BASELINE=off)' : ', no baseline (embedded)'}\n` +
    `${settings.connections} connections, ${ITEMS_PER_ORDER} items per order, ${settings.rounds} rounds × ${settings.seconds} s per target` +
    `${baselineServer ? ' (A B A B …)' : ''}; figures are medians of the rounds; creates/s count only responses that are a created order` +
    `${baselineServer ? "; the baseline's counterpart of GraphQL create is its REST create" : ''}`;
  const lines = [
    '',
    header,
    '',
    renderTable(rows, [false, true, true, true, true, true, true, true, true, false]),
    '',
    `gateway peak RSS ${fmt(peakRssMb, 1)} MB ` +
      (realPostgres
        ? `(target < 200 MB: ${peakRssMb !== null && peakRssMb < 200 ? 'met' : 'MISSED'})`
        : '(includes the embedded PostgreSQL running inside the process; the 200 MB target is for real PostgreSQL)') +
      `${results.memory.baselinePeakRssMb !== null ? `; baseline ${fmt(results.memory.baselinePeakRssMb, 1)} MB` : ''}`,
    `gateway heap after GC, per round: ${heaps.map((value) => value.toFixed(1)).join(' ') || 'n/a'} MB` +
      (heapGrowth !== null ? ` (first→last ${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(1)} MB)` : ''),
    `parity with ${targets.map((target) => target.name).join(' and ')}: ${parity.cases.filter((c) => c.ok).length}/${parity.cases.length} cases as expected${parity.ok ? '' : ' — SEE ABOVE'}`,
    ...reports.flatMap((report) =>
      (['gateway', 'baseline'] as const)
        .filter((name) => (report[name]?.bad ?? 0) > 0)
        .map(
          (name) =>
            `WARNING: ${report.label} on the ${name}: ${report[name]?.bad} responses were not a success; status codes ${JSON.stringify(report[name]?.statusCodes)}`,
        ),
    ),
    ...reports
      .filter((report) => report.gateway?.dbSessions)
      .map(
        (report) =>
          `db sessions during ${report.label} (average): ` +
          [report.gateway, report.baseline]
            .map((summary, index) =>
              summary?.dbSessions
                ? `${index === 0 ? 'gateway' : 'baseline'}: ${Object.entries(summary.dbSessions)
                    .filter(([, n]) => n >= 0.05)
                    .map(([kind, n]) => `${kind} ${n.toFixed(1)}`)
                    .join(', ')}`
                : '',
            )
            .filter(Boolean)
            .join(' | '),
      ),
    'correctness:',
    ...correctness.checks.map((check) => `  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`),
    ...notes.map((note) => `note: ${note}`),
    '',
    `wrote ${path.relative(ROOT, RESULTS)} (${results.durationSeconds} s)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
