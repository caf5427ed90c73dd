/**
 * The dependency tree and the release, as an operator's security review checks them with tools
 * others wrote, offline (`npm audit` needs the registry's advisory service: see README,
 * "Dependencies and licences"):
 * - lockfile-lint: every package in package-lock.json comes from the npm registry, over https,
 *   with an integrity hash, under the name it is installed as;
 * - license-checker-rseidelsohn: every licence in the production tree is on the allowlist the
 *   README states (permissive only: no copyleft, none unknown);
 * - package.json pins every dependency exactly; every dependency with an install script is
 *   named in `allowScripts`; the production tree asks for no Node.js newer than `engines` allows
 *   (except the packages the README names, which run on Node 20);
 * - what the compiled server `require`s is a production dependency (never a dev one), so
 *   `npm install --omit=dev` runs it;
 * - the sample METRICS_TOKEN of `.env.example` is refused, so a copied `.env` never guards
 *   /metrics in production with a published value.
 * No PostgreSQL is needed; the last test runs on whichever database the run uses.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { init as licenseInit, type ModuleInfos } from 'license-checker-rseidelsohn';
import semver from 'semver';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { createProcessDatabase } from '../support/database';
import { runCli } from '../support/processes';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  license: string;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
};
interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  hasInstallScript?: boolean;
  engines?: { node?: string };
}
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockEntry>;
};
const nameOf = (lockPath: string) =>
  lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length);

/** The licence policy (README, "Dependencies and licences"): permissive licences only. */
const ALLOWED_LICENCES = new Set([
  'MIT',
  'ISC',
  'Apache-2.0',
  'BSD-2-Clause',
  'BSD-3-Clause',
  '0BSD',
  'BlueOak-1.0.0',
  'Unlicense',
  'CC0-1.0',
  'Python-2.0',
  '(MIT AND BSD-3-Clause)',
  '(MIT OR CC0-1.0)',
]);
/** Packages whose licence the checker only guesses, read by hand: name@version → what its files say. */
const REVIEWED_LICENCES: Record<string, string> = {
  // `"license": "MIT/X11"` in its package.json, which is not an SPDX expression.
  'nub@0.0.0': 'MIT',
};
/** Production packages that declare a newer Node.js than `engines`; README, "Quick start": CI runs them on Node 20. */
const RUN_ON_NODE_20 = new Set([
  '@nats-io/nuid',
  'cookie',
  'content-disposition',
  '@whatwg-node/promise-helpers',
]);

describe('supply chain: the lockfile and package.json', () => {
  it('lockfile-lint finds every package on the npm registry, over https, with integrity and its own name', () => {
    const bin = path.join(ROOT, 'node_modules/lockfile-lint/bin/lockfile-lint.js');
    const args = [
      '--path',
      'package-lock.json',
      '--type',
      'npm',
      '--allowed-hosts',
      'npm',
      '--validate-https',
      '--validate-integrity',
      '--validate-package-names',
    ];
    // Throws (exit 1, with lockfile-lint's findings) on any issue.
    const output = execFileSync(process.execPath, [bin, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    expect(output).toContain('No issues detected');
  });

  it('pins every dependency and dev dependency to one exact version', () => {
    const ranges = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(
      ([, spec]) => semver.valid(spec) === null,
    );
    expect(ranges).toEqual([]);
  });

  it('names in allowScripts every package of the tree that has an install script', () => {
    const unreviewed = Object.entries(lock.packages)
      .filter(([lockPath, entry]) => lockPath !== '' && entry.hasInstallScript)
      .map(([lockPath]) => nameOf(lockPath))
      .filter((name) => !(name in pkg.allowScripts));
    expect(unreviewed).toEqual([]);
  });

  it('asks for no Node.js in the production tree that engines does not promise', () => {
    const oldest = semver.minVersion(pkg.engines.node)?.version as string;
    expect(semver.satisfies('20.19.5', pkg.engines.node)).toBe(true);
    const tooNew = Object.entries(lock.packages)
      .filter(([lockPath, entry]) => lockPath !== '' && !entry.dev && entry.engines?.node)
      .filter(([lockPath]) => !RUN_ON_NODE_20.has(nameOf(lockPath)))
      .filter(([, entry]) => !semver.satisfies(oldest, entry.engines?.node as string))
      .map(([lockPath, entry]) => `${nameOf(lockPath)}@${entry.version} wants node ${entry.engines?.node}`);
    expect(tooNew).toEqual([]);
  });
});

describe('supply chain: licences of the production tree', { timeout: 120_000 }, () => {
  it('has only allowlisted licences, none unknown, none copyleft', async () => {
    const all: ModuleInfos = await promisify(licenseInit)({ start: ROOT, production: true, unknown: true });
    // The project itself (UNLICENSED: proprietary, which every permissive licence allows).
    const packages = Object.fromEntries(
      Object.entries(all).filter(([name]) => !name.startsWith(`${pkg.name}@`)),
    );
    const names = Object.keys(packages);
    // The production tree, not the whole one (about 500 packages, against about 1,800 with dev).
    expect(names.length).toBeGreaterThan(100);
    expect(names.some((name) => name.startsWith('fastify@'))).toBe(true);
    expect(names.some((name) => name.startsWith('vitest@'))).toBe(false);
    const refused = Object.entries(packages)
      .map(([name, info]) => [name, REVIEWED_LICENCES[name] ?? String(info.licenses)] as const)
      .filter(([, licence]) => !ALLOWED_LICENCES.has(licence));
    expect(refused).toEqual([]);
  });
});

describe('supply chain: the server runs on production dependencies', { timeout: 120_000 }, () => {
  /** Every package the compiled server requires: src/ compiled as the build compiles it (type-only imports vanish). */
  function runTimeImports(): Map<string, string> {
    const imports = new Map<string, string>();
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith('.ts') && !file.endsWith('.d.ts')) {
          const js = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
            fileName: file,
            compilerOptions: {
              module: ts.ModuleKind.CommonJS,
              target: ts.ScriptTarget.ES2022,
              experimentalDecorators: true,
              emitDecoratorMetadata: true,
              esModuleInterop: true,
            },
          }).outputText;
          for (const match of js.matchAll(
            /\brequire(?:\.resolve)?\(\s*["']([^"'./][^"']*)["']|\bimport\(\s*["']([^"'./][^"']*)["']/g,
          )) {
            const spec = match[1] ?? match[2];
            if (isBuiltin(spec)) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
            if (!imports.has(name)) imports.set(name, path.relative(ROOT, file));
          }
        }
      }
    };
    walk(path.join(ROOT, 'src'));
    walk(path.join(ROOT, 'bin'));
    return imports;
  }

  it('requires only packages listed in dependencies, none of them dev-only in the lockfile', () => {
    const imports = runTimeImports();
    expect(imports.has('fastify')).toBe(true); // the scan sees what the server loads
    const notProduction = [...imports]
      .filter(([name]) => !(name in pkg.dependencies))
      .map(([name, file]) => `${name} (${file})`);
    expect(notProduction).toEqual([]);
    const devOnly = [...imports.keys()].filter((name) => lock.packages[`node_modules/${name}`]?.dev);
    expect(devOnly).toEqual([]);
  });
});

describe('supply chain: the packed artefact', { timeout: 120_000 }, () => {
  it('npm pack ships the compiled server and its documents, no sources, tests, data or secrets', () => {
    const listing = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const files =
      (JSON.parse(listing) as { files: { path: string }[] }[])[0]?.files.map((file) => file.path) ?? [];
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'bin/order-gateway.js', '.env.example', 'README.md']),
    );
    if (fs.existsSync(path.join(ROOT, 'dist/cli/cli.js'))) expect(files).toContain('dist/cli/cli.js');
    const unwanted = files.filter(
      (file) =>
        /^(src|test|bench|data|deploy|\.ci|node_modules)\//.test(file) ||
        /(^|\/)\.env$|development-key$|\.pem$|\.key$|\.map$/.test(file) ||
        file === 'package-lock.json',
    );
    expect(unwanted).toEqual([]);
  });
});

describe('supply chain: no published secret is accepted', { timeout: 90_000 }, () => {
  it('serve in production refuses .env.example copied to .env with its sample METRICS_TOKEN uncommented', async () => {
    const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    const sample = /^# METRICS_TOKEN=(\S+)$/m.exec(example)?.[1];
    expect(sample).toBeDefined();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-supply-'));
    const database = await createProcessDatabase('og-supply-db-');
    try {
      const envFile = path.join(dir, '.env');
      // What an operator does: copy the example, uncomment the token, set production.
      fs.writeFileSync(
        envFile,
        example.replace(/^# (METRICS_TOKEN=)/m, '$1').replace(/^NODE_ENV=.*$/m, 'NODE_ENV=production'),
      );
      const result = await runCli(
        ['serve'],
        { ...database.env, ENV_FILE: envFile, NODE_ENV: 'production', PORT: '0' },
        60_000,
        dir,
      );
      expect(result.stderr).toContain('METRICS_TOKEN');
      expect(result.stderr).toContain('.env.example');
      expect(result.code).toBe(78);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await database.cleanup();
    }
  });
});
