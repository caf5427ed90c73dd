/**
 * What keeping metadata numbers exact costs a create (issue 10.15), in process:
 * the body parser and the request validation with ordinary metadata and with a
 * number a double cannot hold, and the share of `prepareExactNumbers` in them.
 * `node -r @swc-node/register bench/exact-numbers.ts`
 */
import { parseCreateOrderRequest } from '../src/orders/create-order.validation';
import { prepareExactNumbers } from '../src/orders/validation';
import { parseJsonBody } from '../src/app/json-body';
const make = (n: number, meta: string) => `{"customer_id":"c","items":[${Array.from({ length: n }, (_, i) => `{"product_id":"p${i}","name":"Widget ${i}","quantity":1,"price":1.5,"sku":"S"}`).join(',')}],"total":${1.5 * n},"metadata":${meta}}`;
function time(label: string, fn: () => unknown, iterations: number) {
  for (let i = 0; i < iterations / 10; i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${label}: ${(ns / 1000).toFixed(1)} µs`);
  return ns;
}
for (const [n, iterations] of [[2, 20000], [500, 300]] as const) {
  for (const meta of ['{"source":"web"}', '{"big":12345678901234567890}']) {
    const text = make(n, meta);
    const body = parseJsonBody(text) as Record<string, unknown>;
    const parse = time(`${n} items, metadata ${meta}: body parse`, () => parseJsonBody(text), iterations);
    const validate = time(`${n} items, metadata ${meta}: parseCreateOrderRequest`, () => parseCreateOrderRequest(body), iterations);
    const prepare = time(`${n} items, metadata ${meta}: prepareExactNumbers alone`, () => prepareExactNumbers(body), iterations);
    console.log(`  prepareExactNumbers / (parse + validate) = ${(100 * prepare / (parse + validate)).toFixed(1)}%`);
  }
}
