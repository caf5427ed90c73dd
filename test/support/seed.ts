/**
 * The original Cekat "Create Order" document (../shared/seeds), parsed into
 * its request and response bodies, so that tests compare against the document
 * itself rather than a copy of it.
 */
import fs from 'node:fs';
import path from 'node:path';

const SEED = path.resolve(__dirname, '../../../shared/seeds/000_3dd77b175f1c4973.txt');

export interface Seed {
  request: Record<string, unknown>;
  response: { success: boolean; data: Record<string, unknown> };
}

export function loadSeed(): Seed {
  const text = fs.readFileSync(SEED, 'utf8');
  const request = /-d '(\{[\s\S]*?\})'/.exec(text)?.[1];
  const response = /201 OK\s*(\{[\s\S]*?\n\})\s*Code Examples/.exec(text)?.[1];
  if (!request || !response) throw new Error(`could not find the request and response in ${SEED}`);
  return { request: JSON.parse(request), response: JSON.parse(response) };
}
