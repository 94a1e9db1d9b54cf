/**
 * The flame graphs (SVG and HTML) and the evaluation report, opened in a real headless browser
 * (Debian's chromium through puppeteer-core, installed by scripts/setup-browser.sh): each page
 * loads from disk with no console error and no request leaving the file system, shows the expected
 * function and submission names, zooms on a click, and is photographed under the test's temp dir.
 * Without chromium the suite is skipped with a notice saying how to get it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../run/helpers.ts';
import { CHALLENGES } from './helpers.ts';

const CHROMIUM = [process.env.DOCKLOCK_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => p !== undefined && p !== '' && existsSync(p),
);
if (CHROMIUM === undefined) {
  console.warn(
    '[browser] SKIPPED test/profile/browser.test.ts: no chromium found (run scripts/setup-browser.sh, or set DOCKLOCK_CHROMIUM)',
  );
}

const sub = (name: string): string => join(CHALLENGES, 'sort', 'submissions', name);

interface Opened {
  page: Page;
  errors: string[];
  external: string[];
}

describe.skipIf(CHROMIUM === undefined)('in headless chromium', () => {
  let dir: string;
  let browser: Browser;

  beforeAll(async () => {
    dir = tempDir('docklock-profile-browser-');
    const ev = cli([
      'evaluate',
      join(CHALLENGES, 'sort'),
      sub('quicksort.wasm'),
      sub('endless-loop.wasm'),
      '--bundles',
      join(dir, 'bundles'),
      '--report',
      join(dir, 'report.html'),
      '--jobs',
      '1',
    ]);
    if (ev.code !== 0) throw new Error(`evaluate failed (${ev.code}): ${ev.stderr}`);
    for (const out of ['quicksort.svg', 'quicksort.html']) {
      const r = cli(['profile', join(dir, 'bundles', 'quicksort.wasm.dlb'), '--out', join(dir, out)]);
      if (r.code !== 0) throw new Error(`profile failed (${r.code}): ${r.stderr}`);
    }
    browser = await puppeteer.launch({
      executablePath: CHROMIUM!,
      headless: true,
      // Root in a container: chromium's sandbox needs user namespaces it may not have.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function open(file: string): Promise<Opened> {
    const page = await browser.newPage();
    await page.setViewport({ width: 1240, height: 700 });
    const errors: string[] = [];
    const external: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) external.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    return { page, errors, external };
  }

  async function shoot(page: Page, name: string): Promise<void> {
    const path = join(dir, name);
    await page.screenshot({ path, fullPage: true });
    expect([...readFileSync(path).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  }

  /** Frame names of the flame graph, and how many frames are on display. */
  const frames = (page: Page): Promise<{ names: string[]; shown: number; widthOf: Record<string, number> }> =>
    page.evaluate(() => {
      const gs = Array.from(document.querySelectorAll<SVGGElement>('g.f'));
      const widthOf: Record<string, number> = {};
      for (const g of gs) {
        const n = g.getAttribute('data-n')!;
        const w = Number(g.querySelector('rect')!.getAttribute('width'));
        if (g.style.display !== 'none') widthOf[n] = Math.max(widthOf[n] ?? 0, w);
      }
      return {
        names: gs.map((g) => g.getAttribute('data-n')!),
        shown: gs.filter((g) => g.style.display !== 'none').length,
        widthOf,
      };
    });

  for (const file of ['quicksort.svg', 'quicksort.html']) {
    it(`${file}: loads cleanly, shows the stacks, zooms on a click and back on Escape`, async () => {
      const { page, errors, external } = await open(join(dir, file));
      const before = await frames(page);
      expect(before.names).toEqual(expect.arrayContaining(['quicksort.wasm.dlb', '_start', 'sort', 'quicksort']));
      expect(before.names.some((n) => /^nested submission [0-9a-f]{12}$/.test(n))).toBe(true);
      const title = await page.$eval('#title', (t) => t.textContent);
      expect(title).toBe('Fuel profile: quicksort.wasm.dlb');

      // Zoom into the nested submission's `sort`: it then spans the whole width, its callers' siblings hide.
      await page.$$eval('g.f', (gs) => {
        const g = gs.find((x) => x.getAttribute('data-n') === 'sort')!;
        g.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      });
      const zoomed = await frames(page);
      expect(zoomed.widthOf.sort).toBeGreaterThan(1190);
      expect(zoomed.shown).toBeLessThan(before.shown);
      await shoot(page, `${file}.zoomed.png`);
      await page.keyboard.press('Escape');
      expect((await frames(page)).shown).toBe(before.shown);
      await shoot(page, `${file}.png`);
      expect(errors).toEqual([]);
      expect(external).toEqual([]);
      await page.close();
    });
  }

  it('report.html: loads cleanly, names every submission and its status, and its profile links open', async () => {
    const { page, errors, external } = await open(join(dir, 'report.html'));
    const text = await page.evaluate(() => document.body.innerText);
    expect(text).toContain('quicksort.wasm');
    expect(text).toContain('endless-loop.wasm');
    expect(text).toContain('out_of_fuel');
    const charts = await page.$$eval('svg', (s) => s.length);
    expect(charts).toBeGreaterThan(0);
    await shoot(page, 'report.png');
    const links = await page.$$eval('a[href]', (as) => as.map((a) => (a as HTMLAnchorElement).href));
    const profiles = links.filter((l) => l.endsWith('.svg'));
    expect(profiles.length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    for (const href of profiles) {
      await page.goto(href, { waitUntil: 'load' });
      const names = await page.$$eval('g.f', (gs) => gs.map((g) => g.getAttribute('data-n')));
      expect(names.length, href).toBeGreaterThan(1);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});
