/**
 * The layout's rules, checked by tools others wrote (README, "Architecture"):
 *
 * - dependency-cruiser with the committed `.dependency-cruiser.cjs`: transports reach the database only
 *   through the services, dependencies point inwards, `src/config` imports nothing else, no run-time cycle,
 *   nothing in `src/` loads test code, nothing reads a file outside the clone, no orphan module in `src/`,
 *   every import resolves. Each exception is in the config with its reason.
 * - knip with the committed `knip.json`: no unused file, dependency or export, no unlisted dependency or
 *   binary; with `--production`, every `dependencies` entry is used by the shipped code.
 *
 * Each tool is also run once with one of the config's exceptions taken out, to show that it sees the real
 * code and that the check can fail.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'node_modules/.bin');
const run = promisify(execFile);
/** Each tool parses the whole TypeScript tree: slow on a busy machine. */
const TIMEOUT = 180_000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'architecture-rules-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

/** dependency-cruiser's violations for `paths`, one line each. */
async function cruise(config: string, paths: string[]): Promise<string[]> {
  const { stdout } = await run(
    path.join(BIN, 'depcruise'),
    [...paths, '--config', config, '--output-type', 'json', '--no-progress'],
    { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 },
  );
  const { summary } = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return summary.violations.map((v) =>
    `${v.rule.name}: ${v.from} → ${v.cycle ? v.cycle.map((step) => step.name).join(' → ') : v.to}`,
  );
}

/** knip's findings as its JSON reporter writes them, and whether it passed. */
async function knip(args: string[]): Promise<{ ok: boolean; report: string }> {
  try {
    const { stdout } = await run(path.join(BIN, 'knip'), ['--no-progress', '--reporter', 'json', ...args], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { ok: true, report: stdout };
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    return { ok: false, report: `${stdout ?? ''}${stderr ?? ''}` };
  }
}

describe('dependency-cruiser: the layer rules of .dependency-cruiser.cjs', () => {
  it(
    'finds no violation in src, test, bench or scripts',
    async () => {
      expect(await cruise('.dependency-cruiser.cjs', ['src', 'test', 'bench', 'scripts'])).toStrictEqual([]);
    },
    TIMEOUT,
  );

  it(
    'without its one exception, reports the events module that builds the REST order (so the rules see the code)',
    async () => {
      const config = path.join(dir, 'no-exception.cjs');
      fs.writeFileSync(
        config,
        `const base = require(${JSON.stringify(path.join(ROOT, '.dependency-cruiser.cjs'))});\n` +
          `const rule = base.forbidden.find((r) => r.name === 'domain-not-to-transports');\n` +
          `delete rule.to.pathNot;\nmodule.exports = base;\n`,
      );
      expect(await cruise(config, ['src/events'])).toStrictEqual([
        'domain-not-to-transports: src/events/order-events.ts → src/rest/order.presenter.ts',
      ]);
    },
    TIMEOUT,
  );
});

describe('knip: nothing unused, nothing unlisted (knip.json)', () => {
  it(
    'finds no unused file, dependency or export and no unlisted dependency or binary',
    async () => {
      const { ok, report } = await knip([]);
      expect(report).not.toMatch(/"(files|dependencies|devDependencies|unlisted|binaries|exports|types)":\[\{/);
      expect(ok, report).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'in production mode, every entry of dependencies is used by the shipped code',
    async () => {
      const { ok, report } = await knip(['--production', '--include', 'files,dependencies,unlisted']);
      expect(ok, report).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'without its explained exceptions, reports the packages used by name only (so the check can fail)',
    async () => {
      const base = fs.readFileSync(path.join(ROOT, 'knip.json'), 'utf8');
      const config = path.join(dir, 'knip.json');
      fs.writeFileSync(config, base.replace(/"ignoreDependencies": \[[^\]]*\]/, '"ignoreDependencies": []'));
      const { ok, report } = await knip(['--config', config, '--include', 'dependencies']);
      expect(ok).toBe(false);
      for (const name of ['graphiql', 'pino-pretty', 'openapi-fetch', 'relay-compiler']) expect(report).toContain(`"${name}"`);
    },
    TIMEOUT,
  );
});
