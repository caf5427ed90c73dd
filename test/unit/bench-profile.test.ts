import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileOf, packageOf, selfTimes } from '../../bench/profile';

const ROOT = path.resolve(__dirname, '../..');
const frame = (url: string, functionName = 'f', lineNumber = 0) => ({ url, functionName, lineNumber });

describe('bench:profile', () => {
  it('names the package a frame belongs to', () => {
    expect(packageOf(frame(`file://${ROOT}/node_modules/fastify/lib/route.js`))).toBe('fastify');
    expect(packageOf(frame(`${ROOT}/node_modules/@apollo/server/dist/cjs/runHttpQuery.js`))).toBe(
      '@apollo/server',
    );
    // A copy nested in another package belongs to the innermost one.
    expect(packageOf(frame(`${ROOT}/node_modules/a/node_modules/tarn/lib/Pool.js`))).toBe('tarn');
    expect(packageOf(frame('node:internal/async_hooks'))).toBe('node:internal');
    expect(packageOf(frame(`file://${ROOT}/dist/src/orders/order.service.js`))).toBe('order-gateway');
    expect(packageOf(frame('', '(garbage collector)'))).toBe('(garbage collector)');
    expect(packageOf(frame('', 'writev'))).toBe('(native)');
    expect(fileOf(frame(`file://${ROOT}/dist/src/orders/order.service.js`))).toBe(
      'dist/src/orders/order.service.js',
    );
    expect(fileOf(frame(`${ROOT}/node_modules/pg/lib/client.js`))).toBe('pg/lib/client.js');
  });

  it('gives each sample the time until the next one, summed per key', () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('', '(idle)') },
        { id: 2, callFrame: frame(`${ROOT}/node_modules/pg/lib/client.js`, 'query') },
        { id: 3, callFrame: frame(`${ROOT}/node_modules/pg/lib/result.js`, 'parseRow') },
      ],
      samples: [2, 3, 2, 1],
      timeDeltas: [0, 100, 250, 50],
    };
    expect(Object.fromEntries(selfTimes(profile, packageOf))).toEqual({ pg: 400, '(idle)': 0 });
    // Idle time keeps its own key, whatever the grouping, so that it is never counted as busy.
    expect(Object.fromEntries(selfTimes(profile, (f) => `fn:${f.functionName}`))).toEqual({
      'fn:query': 150,
      'fn:parseRow': 250,
      '(idle)': 0,
    });
  });
});
