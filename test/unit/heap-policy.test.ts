import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { applyHeapPolicy, heapGrowingFlag } from '../../src/app/heap-policy';
import { loadConfig } from '../../src/config/config';

const ROOT = path.resolve(__dirname, '../..');
const run = promisify(execFile);

/**
 * The growing factors V8 used for the old generation's limit after the
 * fixture's last three full collections (its own `gc()` calls, all after it
 * applied the policy), read from its `--trace-gc-verbose` lines. Earlier lines
 * may come from a collection while the fixture was still loading, before the
 * policy existed (seen once under CI-like load: factors 4 and 1.5). The
 * fixture's V8 is given a 4 GB heap limit, where V8's own rule starts at a
 * factor of 4 (what the gateway got on the 24 GB development machine).
 */
async function growingFactors(percent: number): Promise<number[]> {
  const { stdout } = await run(
    process.execPath,
    [
      '--max-old-space-size=4096',
      '--trace-gc-verbose',
      '--expose-gc',
      '-r',
      require.resolve('@swc-node/register'),
      path.join(ROOT, 'test/fixtures/heap-growth.ts'),
      String(percent),
    ],
    { cwd: ROOT, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  expect(stdout).toContain('kept 60 arrays');
  const limits = [
    ...stdout.matchAll(/\[HeapController\] Limit: old size: \d+ KB, new limit: \d+ KB \(([\d.]+)\)/g),
  ];
  expect(limits.length).toBeGreaterThanOrEqual(3);
  return limits.slice(-3).map((line) => Number(line[1]));
}

describe('the heap policy (HEAP_GROWING_PERCENT)', () => {
  it('is 50 % unless configured, and 0 leaves V8 alone', () => {
    expect(loadConfig({}).heapGrowingPercent).toBe(50);
    expect(loadConfig({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: '-1' })).toThrow(/HEAP_GROWING_PERCENT/);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: 'half' })).toThrow(/HEAP_GROWING_PERCENT/);

    const set: string[] = [];
    applyHeapPolicy(50, (flags) => set.push(flags));
    applyHeapPolicy(0, (flags) => set.push(flags));
    expect(set).toEqual(['--heap-growing-percent=50']);
    expect(() => heapGrowingFlag(1.5)).toThrow(RangeError);
  });

  // Node documents V8 flags changed at run time as unsupported: this checks that V8 uses this one.
  // Without the policy, V8 picks each factor from how fast it collects against
  // how fast the program allocates: 4 on an idle machine, less under load (in
  // CI the first limit was once about 3 times the old size), so only the
  // factors are compared, and only to "not 1.5 at every collection".
  it('makes V8 grow the old generation by that factor after a full collection, set at run time', async () => {
    const withPolicy = await growingFactors(50);
    const withoutPolicy = await growingFactors(0);
    expect(new Set(withPolicy)).toEqual(new Set([1.5]));
    expect(withoutPolicy.some((factor) => factor !== 1.5)).toBe(true);
  });
});
