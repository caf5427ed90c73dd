import { describe, expect, it } from 'vitest';
import { KeyedGate } from '../../src/shared/keyed-gate';

/** A task that runs until `finish()` is called, recording when it starts. */
function heldTask(started: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { task: async () => (started.push(name), await done, name), finish: () => finish() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedGate', () => {
  it('runs at most `limit` tasks of one key at a time, the rest in arrival order', async () => {
    const gate = new KeyedGate(2, 10_000, () => new Error('timeout'));
    const started: string[] = [];
    const tasks = ['a', 'b', 'c', 'd'].map((name) => heldTask(started, name));
    const results = tasks.map((t) => gate.run('w1', t.task));
    await tick();
    expect(started).toStrictEqual(['a', 'b']);
    expect(gate.size('w1')).toBe(4);
    tasks[1]?.finish();
    await tick();
    expect(started).toStrictEqual(['a', 'b', 'c']);
    tasks[0]?.finish();
    tasks[2]?.finish();
    tasks[3]?.finish();
    expect(await Promise.all(results)).toStrictEqual(['a', 'b', 'c', 'd']);
    expect(gate.size('w1')).toBe(0);
  });

  it('keeps keys apart: a busy key never holds up another', async () => {
    const gate = new KeyedGate(1, 10_000, () => new Error('timeout'));
    const started: string[] = [];
    const busy = heldTask(started, 'w1-a');
    void gate.run('w1', busy.task);
    void gate.run('w1', heldTask(started, 'w1-b').task);
    expect(await gate.run('w2', async () => 'w2 ran')).toBe('w2 ran');
    expect(started).toStrictEqual(['w1-a']);
    busy.finish();
  });

  it('gives the slot back when a task fails, and refuses a waiter after maxWaitMs without running it', async () => {
    const gate = new KeyedGate(1, 30, () => new Error('waited too long'));
    await expect(gate.run('w', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(gate.size('w')).toBe(0);
    const started: string[] = [];
    const held = heldTask(started, 'first');
    const first = gate.run('w', held.task);
    let ranLate = false;
    await expect(gate.run('w', async () => (ranLate = true))).rejects.toThrow('waited too long');
    expect(ranLate).toBe(false);
    expect(gate.size('w')).toBe(1);
    held.finish();
    expect(await first).toBe('first');
    expect(gate.size('w')).toBe(0);
  });
});
