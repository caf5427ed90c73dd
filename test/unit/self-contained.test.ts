/**
 * A clone tests and runs on its own: no file the code, tests, benches or
 * scripts read at run time lies outside the repository (the seed document once
 * came from ../shared/seeds, so `npm test` failed in any fresh clone).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSeed } from '../support/seed';

const ROOT = path.resolve(__dirname, '../..');
const FOLDERS = ['src', 'test', 'bench', 'scripts', 'bin', '.ci'];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'results' ? [] : files(full);
    return /\.(ts|mts|js|mjs|json|sh)$|^run$/.test(entry.name) ? [full] : [];
  });
}

/** Every quoted relative path (`'../x'`, `"../../y"`) that resolves outside the repository, and every absolute workspace path. */
export function escapingPaths(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/['"`]((?:\.\.\/)+[^'"`\s]*)['"`]/g)) {
    const target = path.resolve(path.dirname(file), match[1]);
    if (path.relative(ROOT, target).startsWith('..')) found.push(match[1]);
  }
  for (const match of text.matchAll(/['"`](\/work\/[^'"`\s]*)['"`]/g)) found.push(match[1]);
  return found;
}

describe('the repository is self-contained', () => {
  it('finds a path that leaves the repository, and one that stays inside', () => {
    // Built from pieces, so that this file does not hold the paths it looks for.
    const file = path.join(ROOT, 'test/support/seed.ts');
    const outside = ['..', '..', '..', 'shared', 'seeds', '000.txt'].join('/');
    const absolute = ['', 'work', 'shared', 'spec', 'stack.md'].join('/');
    expect(escapingPaths(file, `path.resolve(__dirname, '${outside}')`)).toStrictEqual([outside]);
    expect(escapingPaths(file, "import { x } from '../../src/shared/case';")).toStrictEqual([]);
    expect(escapingPaths(file, `fs.readFileSync("${absolute}")`)).toStrictEqual([absolute]);
  });

  it('no source, test, bench or script file reads a path outside the repository', () => {
    const offenders = FOLDERS.filter((folder) => fs.existsSync(path.join(ROOT, folder)))
      .flatMap((folder) => files(path.join(ROOT, folder)))
      .flatMap((file) => escapingPaths(file, fs.readFileSync(file, 'utf8')).map((p) => `${path.relative(ROOT, file)}: ${p}`));
    expect(offenders).toStrictEqual([]);
  });

  it('keeps the Cekat example as a fixture of its own: the request and the 201 response', () => {
    const seed = loadSeed();
    expect(seed.request).toMatchObject({ customer_id: 'contact_abc123', total: 227, currency: 'USD' });
    expect(seed.response).toMatchObject({ success: true, data: { order_number: 'ORD-2025-0327-001', total: 227 } });
  });
});
