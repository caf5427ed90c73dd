/**
 * The playground and the REST docs in a real browser, against a real server
 * started the way a newcomer starts it: development mode, embedded database
 * in a fresh data directory.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium';
import { startServer, type RunningServer } from '../support/processes';

/** The little of the DOM that the in-page functions below use (the project compiles without lib "dom"). */
interface CodeMirrorHost {
  CodeMirror: { getValue(): string; setValue(value: string): void };
}
interface PageElement {
  classList: { contains(name: string): boolean };
  querySelector(selector: string): unknown;
}
declare const document: {
  querySelector(selector: string): unknown;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};

const RESULTS = path.resolve(__dirname, '../../test-results');

let server: RunningServer;
let browser: Browser;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-e2e-'));
  server = await startServer({ DATA_DIR: dataDir, NODE_ENV: 'development' });
  browser = await launchChromium();
  fs.mkdirSync(RESULTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Watched {
  page: Page;
  /** Every URL the page requested, in order. */
  requests: string[];
  /** Console errors and uncaught exceptions (a CSP violation shows up here). */
  errors: string[];
}

async function openPage(url: string): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, errors };
}

/** The playground, once GraphiQL shows its example document; `editorText` reads a CodeMirror editor's text. */
async function openPlayground() {
  const opened = await openPage(`${server.url}/graphql`);
  const { page } = opened;
  await page.locator('.graphiql-container').waitFor();
  const editorText = (selector: string) =>
    page.evaluate((s) => (document.querySelector(s) as CodeMirrorHost).CodeMirror.getValue(), selector);
  await expect.poll(() => editorText('.graphiql-query-editor .CodeMirror')).toContain('mutation CreateOrder');
  return { ...opened, editorText };
}

/** Requests to anywhere but the server (data: URLs stay inside the page). */
function elsewhere(requests: string[]): string[] {
  const origin = new URL(server.url).origin;
  return requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
}

/** The text of each editor under the query editor (variables, headers), whether shown or not. */
async function toolEditors(page: Page): Promise<{ hidden: boolean; text: string }[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')).map((editor) => ({
      hidden: editor.classList.contains('hidden'),
      text: (editor.querySelector('.CodeMirror') as CodeMirrorHost).CodeMirror.getValue(),
    })),
  );
}

describe('GraphQL playground', () => {
  it('runs the example createOrder with the development key and shows the order number', async () => {
    const { page, requests, errors, editorText } = await openPlayground();
    // The headers editor (shown) holds the development key; the variables editor holds the example input.
    const developmentKey = fs.readFileSync(path.join(dataDir, 'development-key'), 'utf8').trim();
    const tools = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')).map((editor) => ({
        hidden: editor.classList.contains('hidden'),
        text: (editor.querySelector('.CodeMirror') as CodeMirrorHost).CodeMirror.getValue(),
      })),
    );
    expect(tools.map((tool) => ({ hidden: tool.hidden, json: JSON.parse(tool.text) }))).toEqual(
      expect.arrayContaining([
        { hidden: false, json: { Authorization: `Bearer ${developmentKey}` } },
        {
          hidden: true,
          json: { input: expect.objectContaining({ customerId: 'contact_abc123', total: '227.00' }) },
        },
      ]),
    );
    // The schema loaded with that key, so nothing is in the result pane yet (a failed fetch would show there).
    expect(await editorText('.graphiql-response .CodeMirror')).toBe('');

    await page.locator('.graphiql-execute-button').click();
    const responsePane = '.graphiql-response .CodeMirror';
    await expect.poll(() => editorText(responsePane), { timeout: 20_000 }).toContain('orderNumber');
    const result = JSON.parse(await editorText(responsePane));
    expect(result.data.createOrder.userErrors).toStrictEqual([]);
    const { id, orderNumber } = result.data.createOrder.order;
    expect(orderNumber).toMatch(/^ORD-\d{4}-\d{4}-\d{3,}$/);

    // The order is really there: read it back over REST with the same key.
    const stored = await fetch(`${server.url}/api/orders/${id}`, {
      headers: { authorization: `Bearer ${developmentKey}` },
    });
    expect(((await stored.json()) as { data: { order_number: string } }).data.order_number).toBe(orderNumber);

    await page.screenshot({ path: path.join(RESULTS, 'playground.png') });
    expect(requests.length).toBeGreaterThan(5);
    // The page names its assets by content (`?v=<hash>`, immutable in caches): the script is one of them.
    expect(requests).toContainEqual(expect.stringMatching(new RegExp(`^${server.url}/graphql/assets/graphiql\\.min\\.js\\?v=[0-9a-f]+$`)));
    expect(elsewhere(requests)).toStrictEqual([]);
    expect(errors).toStrictEqual([]);
    await page.context().close();
  });

  it('gives every tab the key: a new tab, and each tab restored after a reload', async () => {
    const { page, editorText } = await openPlayground();
    const developmentKey = fs.readFileSync(path.join(dataDir, 'development-key'), 'utf8').trim();
    const withKey = JSON.stringify({ Authorization: `Bearer ${developmentKey}` });
    const headersText = async () => {
      const editors = await toolEditors(page);
      return JSON.stringify(JSON.parse(editors.find((editor) => editor.text.includes('Authorization'))?.text ?? '{}'));
    };
    await page.locator('.graphiql-tab-add').click();
    await expect.poll(() => editorText('.graphiql-query-editor .CodeMirror')).not.toContain('mutation CreateOrder');
    expect(await headersText()).toBe(withKey);
    await page.evaluate(() =>
      (document.querySelector('.graphiql-query-editor .CodeMirror') as CodeMirrorHost).CodeMirror.setValue(
        'query Mine { orders(first: 1) { totalCount } }',
      ),
    );
    await page.waitForTimeout(1000);
    await page.locator('.graphiql-execute-button').click();
    const responsePane = '.graphiql-response .CodeMirror';
    await expect.poll(() => editorText(responsePane), { timeout: 20_000 }).toContain('"data"');
    expect(await editorText(responsePane)).not.toContain('UNAUTHENTICATED');

    // GraphiQL keeps the tabs (not their headers) across a reload; each one has the key again.
    await page.reload({ waitUntil: 'load' });
    await page.locator('.graphiql-tab').nth(1).waitFor();
    for (const index of [1, 0]) {
      await page.locator('.graphiql-tab').nth(index).locator('button').first().click();
      await expect.poll(headersText).toBe(withKey);
    }
    await page.context().close();
  });

  it('keeps the key out of localStorage, history included, and a history entry runs with the key', async () => {
    const { page, editorText } = await openPlayground();
    const developmentKey = fs.readFileSync(path.join(dataDir, 'development-key'), 'utf8').trim();
    const responsePane = '.graphiql-response .CodeMirror';
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => editorText(responsePane), { timeout: 20_000 }).toContain('orderNumber');
    // GraphiQL saves history as soon as the run starts and tabs after a 500 ms debounce.
    await page.waitForTimeout(1000);
    const stored = () => page.evaluate(() => JSON.stringify({ ...(globalThis as unknown as { localStorage: object }).localStorage }));
    expect(await stored()).toContain('mutation CreateOrder');
    expect(await stored()).not.toContain(developmentKey);

    // After a reload, picking the run from the history puts the page's key back in the Headers tab.
    await page.reload({ waitUntil: 'load' });
    await page.locator('.graphiql-container').waitFor();
    await page.locator('.graphiql-tab-add').click();
    await page.locator('button[aria-label="Show History"]').click();
    await page.locator('.graphiql-history-item-label').first().click();
    await expect.poll(() => editorText('.graphiql-query-editor .CodeMirror')).toContain('mutation CreateOrder');
    const headers = (await toolEditors(page)).find((editor) => editor.text.includes('Authorization'))?.text ?? '{}';
    expect(JSON.parse(headers)).toStrictEqual({ Authorization: `Bearer ${developmentKey}` });
    expect(await stored()).not.toContain(developmentKey);
    await page.context().close();
  });
});

describe('GraphQL playground subscriptions', () => {
  it('runs a subscription over graphql-ws with the Headers tab key, and shows an order created meanwhile', async () => {
    const { page, requests, errors, editorText } = await openPlayground();
    await page.evaluate(() =>
      (document.querySelector('.graphiql-query-editor .CodeMirror') as CodeMirrorHost).CodeMirror.setValue(
        'subscription Live { orderCreated { id orderNumber status } }',
      ),
    );
    // GraphiQL takes the operation name from the editor after a debounce; run before it has, and it
    // sends the old name ("CreateOrder") with the new document.
    await page.waitForTimeout(1000);
    await page.locator('.graphiql-execute-button').click();
    const developmentKey = fs.readFileSync(path.join(dataDir, 'development-key'), 'utf8').trim();
    const responsePane = '.graphiql-response .CodeMirror';
    // Until the subscription runs, a create may come too early: create until one shows.
    let orderNumber = '';
    for (let i = 0; i < 40 && !(await editorText(responsePane)).includes('orderCreated'); i++) {
      const created = await fetch(`${server.url}/api/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${developmentKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          customer_id: 'c',
          items: [{ product_id: 'p', quantity: 1, price: 5 }],
          total: 5,
        }),
      });
      orderNumber = ((await created.json()) as { data: { order_number: string } }).data.order_number;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await expect.poll(() => editorText(responsePane), { timeout: 10_000 }).toContain('"status": "PENDING"');
    expect(await editorText(responsePane)).toMatch(/ORD-\d{4}-\d{4}-\d{3,}/);
    expect(orderNumber).not.toBe('');
    await page.screenshot({ path: path.join(RESULTS, 'playground-subscription.png') });
    const wsOrigin = new URL(server.url.replace('http', 'ws')).origin;
    expect(elsewhere(requests.filter((url) => new URL(url).origin !== wsOrigin))).toStrictEqual([]);
    expect(errors).toStrictEqual([]);
    await page.context().close();
  });

  it('reports a refused key on a subscription at once, without trying the same key again', async () => {
    const { page, editorText } = await openPlayground();
    const sockets: string[] = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    await page.evaluate(() => {
      const editors = Array.from(document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')).map(
        (editor) => (editor.querySelector('.CodeMirror') as CodeMirrorHost).CodeMirror,
      );
      const headers = editors.find((editor) => editor.getValue().includes('Authorization'));
      headers?.setValue(JSON.stringify({ Authorization: `Bearer ogk_${'x'.repeat(43)}` }));
      (document.querySelector('.graphiql-query-editor .CodeMirror') as CodeMirrorHost).CodeMirror.setValue(
        'subscription Refused { orderCreated { id } }',
      );
    });
    await page.waitForTimeout(1000);
    const started = Date.now();
    await page.locator('.graphiql-execute-button').click();
    const responsePane = '.graphiql-response .CodeMirror';
    await expect.poll(() => editorText(responsePane), { timeout: 30_000 }).toContain('4403');
    // graphql-ws retries a 4403 five times by default, with back-off: about 40 s of an empty pane.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(sockets).toHaveLength(1);
    // Stopped: the button offers to run again.
    await expect.poll(() => page.locator('.graphiql-execute-button').getAttribute('aria-label')).toMatch(/^Execute/);
    await page.context().close();
  });

  it('keeps a running subscription through a server restart that takes longer than the first retry', async () => {
    // A server of its own on a fixed port, so that it can come back where the page expects it.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address() as net.AddressInfo;
        probe.close(() => resolve(address.port));
      });
    });
    const ownDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-e2e-restart-'));
    const env = { DATA_DIR: ownDir, NODE_ENV: 'development', PORT: String(port) };
    let own = await startServer(env);
    try {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      await page.goto(`${own.url}/graphql`, { waitUntil: 'load' });
      await page.locator('.graphiql-container').waitFor();
      const editorText = (selector: string) =>
        page.evaluate((s) => (document.querySelector(s) as CodeMirrorHost).CodeMirror.getValue(), selector);
      await expect.poll(() => editorText('.graphiql-query-editor .CodeMirror')).toContain('mutation CreateOrder');
      await page.evaluate(() =>
        (document.querySelector('.graphiql-query-editor .CodeMirror') as CodeMirrorHost).CodeMirror.setValue(
          'subscription Live { orderCreated { orderNumber } }',
        ),
      );
      await page.waitForTimeout(1000);
      const key = fs.readFileSync(path.join(ownDir, 'development-key'), 'utf8').trim();
      const create = async (url: string) => {
        const created = await fetch(`${url}/api/orders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 }),
        });
        return ((await created.json()) as { data: { order_number: string } }).data.order_number;
      };
      await page.locator('.graphiql-execute-button').click();
      const responsePane = '.graphiql-response .CodeMirror';
      for (let i = 0; i < 40 && !(await editorText(responsePane)).includes('orderCreated'); i++) {
        await create(own.url);
        await page.waitForTimeout(250);
      }
      expect(await editorText(responsePane)).toContain('orderCreated');

      // Down for longer than graphql-ws's first back-off (at most 4 s): the page's first retry finds nothing listening.
      await own.stop();
      await page.waitForTimeout(6000);
      own = await startServer(env);
      let orderNumber = '';
      for (let i = 0; i < 120 && !(orderNumber && (await editorText(responsePane)).includes(orderNumber)); i++) {
        orderNumber = await create(own.url);
        await page.waitForTimeout(500);
      }
      expect(await editorText(responsePane)).toContain(orderNumber);
      expect(await page.locator('.graphiql-execute-button').getAttribute('aria-label')).toMatch(/^Stop/);
      await context.close();
    } finally {
      await own.stop();
      fs.rmSync(ownDir, { recursive: true, force: true });
    }
  });
});

describe('REST docs', () => {
  it('renders Swagger UI with the orders routes, from this server alone', async () => {
    const { page, requests, errors } = await openPage(`${server.url}/docs`);
    await page.locator('.opblock').first().waitFor();
    const operations = await page.locator('.opblock-summary').allInnerTexts();
    const flat = operations.map((text) => text.replace(/\s+/g, ' ').trim());
    expect(flat.some((text) => /^POST \/api\/orders\b/.test(text))).toBe(true);
    expect(flat.some((text) => /^GET \/api\/orders\/\{id\}/.test(text))).toBe(true);
    await expect.poll(() => page.locator('.info .title').innerText()).toContain('order-gateway REST API');
    await page.screenshot({ path: path.join(RESULTS, 'docs.png') });
    expect(elsewhere(requests)).toStrictEqual([]);
    expect(errors).toStrictEqual([]);
    await page.context().close();
  });

  it('opens with the Authorize dialog filled in with the development key, and Try it out answers 200', async () => {
    const { page, errors } = await openPage(`${server.url}/docs`);
    await page.locator('.opblock').first().waitFor();
    // Authorized already: the lock is closed, and the dialog offers Logout rather than a field to fill in.
    await expect.poll(() => page.locator('.btn.authorize').getAttribute('class')).toContain('locked');
    await page.locator('.btn.authorize').click();
    const dialog = page.locator('.auth-container').first();
    await dialog.waitFor();
    expect(await dialog.innerText()).toMatch(/Authorized/);
    await expect.poll(() => page.locator('.modal-ux button:has-text("Logout")').count()).toBeGreaterThan(0);
    await page.locator('.modal-ux .close-modal').click();

    const list = page
      .locator('.opblock-get', { has: page.locator('.opblock-summary-path', { hasText: /^\/api\/orders$/ }) })
      .first();
    await list.locator('.opblock-summary').click();
    await list.locator('button.try-out__btn').click();
    await list.locator('button.execute').click();
    await expect
      .poll(() => list.locator('.live-responses-table tbody .response-col_status').first().innerText())
      .toContain('200');
    await page.screenshot({ path: path.join(RESULTS, 'docs-authorized.png') });
    expect(errors).toStrictEqual([]);
    await page.context().close();
  });
});
