/**
 * Mutation testing (StrykerJS, `npm run mutation`) is too slow for `npm test`, so this
 * cheap check keeps its set-up honest between runs: every file `stryker.config.mjs`
 * mutates still exists, is a pure rule (no database, HTTP or GraphQL: the unit tests run
 * it alone) and is imported by one of the unit tests Stryker runs, so its mutants can be
 * killed at all; and those tests exist.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');

interface StrykerConfig {
  testRunner: string;
  mutate: string[];
  concurrency: number;
  vitest: { configFile: string };
}

async function strykerConfig(): Promise<StrykerConfig> {
  const module = (await import(path.join(ROOT, 'stryker.config.mjs'))) as { default: StrykerConfig };
  return module.default;
}

/** The test files the vitest config Stryker names runs (its `MUTATION_TESTS`), with their text. */
function mutationTests(configFile: string): { file: string; text: string }[] {
  const config = fs.readFileSync(path.join(ROOT, configFile), 'utf8');
  const list = /MUTATION_TESTS = \[([^\]]*)\]/.exec(config)?.[1] ?? '';
  return [...list.matchAll(/'([^']+)'/g)].map(([, file = '']) => ({
    file,
    text: fs.existsSync(path.join(ROOT, file)) ? fs.readFileSync(path.join(ROOT, file), 'utf8') : '',
  }));
}

/** Imports that would need a server, a database or a transport: not a pure rule. */
const IMPURE = /from '(?:\.\.\/(?:db|graphql|rest|app|events|webhooks)\/|@mikro-orm\/|fastify|pg'|ioredis)/;

describe('the mutation-testing set-up (stryker.config.mjs)', () => {
  it('runs the vitest runner at most two at a time, on unit tests that exist', async () => {
    const config = await strykerConfig();
    expect(config.testRunner).toBe('vitest');
    expect(config.concurrency).toBeLessThanOrEqual(2);
    const tests = mutationTests(config.vitest.configFile);
    expect(tests.length).toBeGreaterThan(0);
    for (const { file, text } of tests) {
      expect(file).toMatch(/^test\/unit\/[^/]+\.test\.ts$/);
      expect(text, `${file} exists`).not.toBe('');
    }
  });

  it('mutates files that exist, are pure rules, and that a unit test imports', async () => {
    const config = await strykerConfig();
    expect(config.mutate.length).toBeGreaterThan(0);
    const tests = mutationTests(config.vitest.configFile);
    const problems: string[] = [];
    for (const entry of config.mutate) {
      // Plain paths, no globs: a glob that stops matching would shrink the run silently.
      if (/[*?{[!]/.test(entry)) problems.push(`${entry}: a glob, name the file`);
      const file = path.join(ROOT, entry);
      if (!fs.existsSync(file)) {
        problems.push(`${entry}: no such file`);
        continue;
      }
      const impure = fs.readFileSync(file, 'utf8').match(IMPURE);
      if (impure) problems.push(`${entry}: imports ${impure[0]}`);
      const module = entry.replace(/^src\//, '').replace(/\.ts$/, '');
      if (!tests.some(({ text }) => text.includes(`'../../src/${module}'`)))
        problems.push(`${entry}: no test Stryker runs imports it`);
    }
    expect(problems).toStrictEqual([]);
  });
});
