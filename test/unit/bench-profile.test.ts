import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { callPaths, fileOf, frameLabel, packageOf, selfTimes } from '../../bench/profile';

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

  it('names the callers that pay for a function, heaviest path first', () => {
    const pg = `${ROOT}/node_modules/pg/lib/query.js`;
    const http = 'node:_http_outgoing';
    // root → end (http) → writev; root → submit (pg) → writev
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('', '(root)'), children: [2, 4, 6] },
        { id: 2, callFrame: frame(http, 'end', 1033), children: [3] },
        { id: 3, callFrame: frame('', 'writev') },
        { id: 4, callFrame: frame(pg, 'submit', 151), children: [5] },
        { id: 5, callFrame: frame('', 'writev') },
        { id: 6, callFrame: frame('', '(idle)') },
      ],
      samples: [3, 5, 5, 6, 2],
      timeDeltas: [0, 10, 20, 30, 40],
    };
    expect(frameLabel(frame(pg, 'submit', 151))).toBe('submit pg/lib/query.js:152');
    expect(callPaths(profile, /^writev /)).toEqual([
      ['writev (native):1\n      <- submit pg/lib/query.js:152\n      <- (root) (root):1', 50],
      ['writev (native):1\n      <- end node:_http_outgoing:1034\n      <- (root) (root):1', 10],
    ]);
    // Idle time is never a path, even when the pattern matches it; a depth of 1 keeps one caller.
    expect(callPaths(profile, /idle/)).toEqual([]);
    expect(callPaths(profile, /^writev /, 1)[0][0]).toBe(
      'writev (native):1\n      <- submit pg/lib/query.js:152',
    );
  });
});
