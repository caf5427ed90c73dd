/**
 * How much garbage the server's heap may hold before V8 collects it.
 *
 * After each full collection, V8 lets the old generation grow to a multiple
 * of what survived before the next one. On a machine with plenty of memory
 * (Node sizes its heap limit from it: 4 GB on a 24 GB machine) that multiple
 * goes up to 4: the gateway keeps about 45 MB alive, but under sustained
 * creates its old generation filled with 130–180 MB of promoted garbage, and
 * the process peaked at 260–295 MB of RSS. Setting the growth to
 * `HEAP_GROWING_PERCENT` (50 % by default: the next limit is 1.5 times what
 * survived) kept the same load at 170 MB with the same throughput (README,
 * Performance). It is a fixed pace, not a cap: where V8's own rule would
 * pick less (1.1 when collecting is much faster than allocating), the heap
 * may now hold a little more between collections than it did.
 *
 * V8 reads its `--heap-growing-percent` flag each time it sets the next
 * limit, so `serve` sets it as it starts, whatever command line started
 * Node (npm, the image's entrypoint, a process manager). Node warns that V8
 * flags changed at run time may do nothing; `test/unit/heap-policy.test.ts`
 * checks that this one does, on the Node version the project pins.
 */
import v8 from 'node:v8';

/** The V8 flag for `percent`, or undefined for 0 (V8's own rule). */
export function heapGrowingFlag(percent: number): string | undefined {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`not a percentage: ${percent}`);
  return percent === 0 ? undefined : `--heap-growing-percent=${percent}`;
}

/** Applies `HEAP_GROWING_PERCENT` to this process's V8. */
export function applyHeapPolicy(
  percent: number,
  setFlags: (flags: string) => void = v8.setFlagsFromString,
): void {
  const flag = heapGrowingFlag(percent);
  if (flag) setFlags(flag);
}
