/**
 * The Cekat "Create Order" example (its request body and 201 response), kept
 * in the repository as test/fixtures/cekat-create-order.json so that a clone
 * tests on its own. The contract tests compare against this document, not
 * against values restated in each test.
 */
import fs from 'node:fs';
import path from 'node:path';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'cekat-create-order.json');

export interface Seed {
  request: Record<string, unknown>;
  response: { success: boolean; data: Record<string, unknown> };
}

export function loadSeed(): Seed {
  const { request, response } = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Seed;
  return { request, response };
}
