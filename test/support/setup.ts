import 'reflect-metadata';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { childrenMark, stopChildrenSince } from './processes';

// Whatever a test started and did not stop (it failed or timed out before its own clean-up)
// is stopped after it; whatever the file's beforeAll started, after the file.
let mark = 0;
beforeEach(() => {
  mark = childrenMark();
});
afterEach(async () => {
  const stray = await stopChildrenSince(mark);
  if (stray > 0) process.stderr.write(`setup: stopped ${stray} process(es) the test left running\n`);
});
afterAll(async () => {
  await stopChildrenSince(0);
});
