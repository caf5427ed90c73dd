/**
 * The playground and the REST docs as a person using assistive technology or a
 * keyboard meets them: axe-core (@axe-core/playwright, WCAG 2.x A/AA rules) in
 * Debian's Chromium on every state a newcomer sees (just opened, after a run,
 * after an error, the documentation explorer, the docs page with an operation
 * open), and the keyboard alone.
 *
 * No critical violation is allowed. The serious ones that remain are inside
 * GraphiQL's and Swagger UI's own markup (README, "Playground and docs"); they
 * are listed here by rule, so that a new kind fails the test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium';
import { startServer, type RunningServer } from '../support/processes';

/** The little of the DOM the in-page functions use (the project compiles without lib "dom"). */
interface CodeMirrorHost {
  CodeMirror: { getValue(): string; setValue(value: string): void };
}
declare const document: { querySelector(selector: string): unknown; activeElement: unknown };


/** Serious violations inside GraphiQL's and Swagger UI's own markup, documented in the README. */
const KNOWN_SERIOUS = new Set([
  'color-contrast',
  'nested-interactive',
  'scrollable-region-focusable',
  'link-in-text-block',
]);

let server: RunningServer;
let browser: Browser;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-e2e-a11y-'));
  server = await startServer({ DATA_DIR: dataDir, NODE_ENV: 'development' });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function open(url: string) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url, { waitUntil: 'load' });
  return { page, errors };
}

const editorText = (page: Page, selector: string) =>
  page.evaluate((s) => (document.querySelector(s) as CodeMirrorHost).CodeMirror.getValue(), selector);

/** axe's serious and critical findings, as `rule (impact): first targets`. */
async function findings(page: Page): Promise<{ critical: string[]; unknownSerious: string[] }> {
  const { violations } = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const describe = (v: (typeof violations)[number]) =>
    `${v.id} (${v.impact}): ${v.nodes
      .slice(0, 3)
      .map((n) => n.target.join(' '))
      .join(' | ')}`;
  return {
    critical: violations.filter((v) => v.impact === 'critical').map(describe),
    unknownSerious: violations
      .filter((v) => v.impact === 'serious' && !KNOWN_SERIOUS.has(v.id))
      .map(describe),
  };
}

const RESPONSE = '.graphiql-response .CodeMirror';
const QUERY = '.graphiql-query-editor .CodeMirror';

describe('GraphQL playground, checked by axe-core', () => {
  it('has no critical violation when opened, after a run, after an error, and with the docs explorer open', async () => {
    const { page, errors } = await open(`${server.url}/graphql`);
    await page.locator('.graphiql-container').waitFor();
    await expect.poll(() => editorText(page, QUERY)).toContain('mutation CreateOrder');
    expect(await page.title()).toBe('order-gateway · GraphQL playground');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    // Each editor is announced by its name; the headers editor is the one holding the key.
    await expect
      .poll(() =>
        page
          .locator('textarea[aria-label]')
          .evaluateAll((all) => all.map((t) => t.getAttribute('aria-label'))),
      )
      .toStrictEqual(['Query editor', 'Variables editor', 'Headers editor', 'Result']);
    await page.locator('textarea[aria-label="Headers editor"]').focus();
    await page.keyboard.press('End');
    await page.keyboard.type(' ');
    expect(
      await page.locator('.graphiql-editor:has(textarea[aria-label="Headers editor"])').innerText(),
    ).toContain('Authorization');
    const states: Record<string, Awaited<ReturnType<typeof findings>>> = { opened: await findings(page) };

    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => editorText(page, RESPONSE), { timeout: 20_000 }).toContain('orderNumber');
    states.afterRun = await findings(page);

    await page.evaluate(
      (s) => (document.querySelector(s) as CodeMirrorHost).CodeMirror.setValue('query Broken { nope }'),
      QUERY,
    );
    await page.waitForTimeout(1000);
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => editorText(page, RESPONSE), { timeout: 20_000 }).toContain('nope');
    states.afterError = await findings(page);

    await page.locator('button[aria-label="Show Documentation Explorer"]').click();
    await page.locator('.graphiql-doc-explorer').waitFor();
    states.docsExplorer = await findings(page);

    expect(states).toStrictEqual(
      Object.fromEntries(Object.keys(states).map((state) => [state, { critical: [], unknownSerious: [] }])),
    );
    // The page's Content-Security-Policy blocks nothing it needs: the one console error is the
    // broken query's own answer (GraphQL over HTTP answers a document that does not validate 400).
    expect(errors).toStrictEqual([
      'Failed to load resource: the server responded with a status of 400 (Bad Request)',
    ]);
    await page.context().close();
  });
});

describe('GraphQL playground, keyboard only', () => {
  it('leaves an editor with Escape then Tab, reaches the run button and runs the example without a mouse', async () => {
    const { page } = await open(`${server.url}/graphql`);
    await page.locator('.graphiql-container').waitFor();
    await expect.poll(() => editorText(page, QUERY)).toContain('mutation CreateOrder');
    const example = await editorText(page, QUERY);
    const focused = () =>
      page.evaluate(() => {
        const element = document.activeElement as {
          getAttribute(name: string): string | null;
          className: string;
        };
        return element.getAttribute('aria-label') ?? String(element.className);
      });
    // Tab from the top of the page into the query editor.
    for (let i = 0; i < 20 && (await focused()) !== 'Query editor'; i++) await page.keyboard.press('Tab');
    expect(await focused()).toBe('Query editor');
    // In the editor Tab indents, as in every code editor; Escape first lets the next Tab leave it.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    expect(await focused()).not.toBe('Query editor');
    await page.keyboard.press('Shift+Tab');
    expect(await focused()).toBe('Query editor');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Shift+Tab');
    expect(await focused()).not.toBe('Query editor');
    expect(await editorText(page, QUERY)).toBe(example);

    // Onwards to the run button (escaping each editor met on the way), and Enter runs the example.
    await page.locator('textarea[aria-label="Query editor"]').focus();
    for (let i = 0; i < 10 && !/^Execute/.test(await focused()); i++) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Tab');
    }
    expect(await focused()).toMatch(/^Execute/);
    await page.keyboard.press('Enter');
    await expect.poll(() => editorText(page, RESPONSE), { timeout: 20_000 }).toContain('orderNumber');
    expect(await editorText(page, QUERY)).toBe(example);
    await page.context().close();
  });
});

describe('REST docs, checked by axe-core', () => {
  it('has no critical violation, closed and with an operation open', async () => {
    const { page, errors } = await open(`${server.url}/docs`);
    await page.locator('.opblock').first().waitFor();
    expect(await page.title()).toBe('order-gateway · REST API docs');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    const states: Record<string, Awaited<ReturnType<typeof findings>>> = { opened: await findings(page) };
    await page.locator('.opblock-summary-control').first().click();
    await page.locator('.opblock-body').first().waitFor();
    states.operationOpen = await findings(page);
    expect(states).toStrictEqual({
      opened: { critical: [], unknownSerious: [] },
      operationOpen: { critical: [], unknownSerious: [] },
    });
    expect(errors).toStrictEqual([]);
    await page.context().close();
  });
});
