/**
 * The README's NATS consumer ("Consuming from NATS JetStream") runs as written:
 * the block is taken from README.md, its imports are resolved from the
 * gateway's own dependencies, and it reads the orders a gateway published.
 * Only the server, the stream and the subject prefix are this test's own, and
 * the endless `for await` stops once it has heard the orders created here.
 *
 * Needs NATS with JetStream at 127.0.0.1:4222 (NATS_TEST_URL overrides it);
 * skipped with the reason printed when none answers (a failure under
 * REQUIRE_SERVICES=1, as in CI).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { useTestApp } from '../support/app';
import { deleteStream, eventually, SHARED_NATS_URL, uniqueStream } from '../support/nats';

const shared = inject('nats');

function readmeBlock(): string {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Consuming from NATS JetStream'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  if (!block?.[1]) throw new Error('no ts block under "Consuming from NATS JetStream" in README.md');
  return block[1];
}

type Heard = { id: string; type: string; subject: string; sequence: number };

/** Runs the block with its imports resolved; `heard` gets every event it acknowledges. */
async function runBlock(source: string, heard: Heard[], stopAfter: number): Promise<void> {
  const imports: { from: string; names: string[] }[] = [];
  const body = source.replace(
    /^import \{([^}]+)\} from '([^']+)';\n/gm,
    (_line, list: string, from: string) => {
      imports.push({ from, names: list.split(',').map((name) => name.trim()) });
      return '';
    },
  );
  const names: string[] = [];
  const values: unknown[] = [];
  for (const { from, names: imported } of imports) {
    const module = (await import(from)) as Record<string, unknown>;
    for (const name of imported) {
      expect(module[name], `${from} exports ${name}`).toBeDefined();
      names.push(name);
      values.push(module[name]);
    }
  }
  const code = ts.transpileModule(body, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
    ...args: string[]
  ) => (...args: unknown[]) => Promise<void>;
  await new AsyncFunction(...names, '__heard', '__stopAfter', code)(...values, heard, stopAfter);
}

describe.skipIf(!shared.up)(`the README's NATS consumer ${shared.reason}`, () => {
  const { stream, subjectPrefix } = uniqueStream();
  const t = useTestApp({ natsUrl: SHARED_NATS_URL, natsStream: stream, natsSubjectPrefix: subjectPrefix });
  afterAll(() => deleteStream(SHARED_NATS_URL, stream));

  it('reads the created orders from the stream, once each, and acknowledges them', async () => {
    const block = readmeBlock();
    for (const part of ["'nats://127.0.0.1:4222'", "'ORDERS'", "'orders.*.order.created'", "'fulfilment'"])
      expect(block).toContain(part);
    expect(block.split('message.ack();')).toHaveLength(2);
    const ours = block
      .replaceAll("'nats://127.0.0.1:4222'", `'${SHARED_NATS_URL}'`)
      .replaceAll("'ORDERS'", `'${stream}'`)
      .replaceAll("'orders.*.order.created'", `'${subjectPrefix}.*.order.created'`)
      .replace(
        'message.ack();',
        'message.ack(); __heard.push(event); if (__heard.length === __stopAfter) break;',
      )
      .concat('\nawait nc.close();\n');

    const ids: string[] = [];
    for (const customer of ['c1', 'c2']) {
      const res = await t.rest.post('/api/orders', {
        customer_id: customer,
        items: [{ product_id: 'p', quantity: 1, price: '4.00' }],
        total: '4.00',
      });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().data.id as string);
    }
    // An update is not for this consumer: its filter takes creates only.
    expect((await t.rest.put(`/api/orders/${ids[0]}`, { status: 'paid' })).statusCode).toBe(200);
    await eventually(
      async () => (await t.db.count('order_event_queue')) === 0,
      15_000,
      'the events to be published',
    );

    const heard: Heard[] = [];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      runBlock(ours, heard, 2),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the README block heard ${heard.length} of 2 events`)),
          15_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    expect(heard.map(({ type, subject, sequence }) => ({ type, subject, sequence }))).toStrictEqual(
      ids.map((id) => ({ type: 'order.created', subject: id, sequence: 1 })),
    );
    expect(heard.every(({ id }) => id.startsWith('evt_'))).toBe(true);
  });
});
