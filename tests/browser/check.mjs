#!/usr/bin/env node
// Browser check of the registry's server-rendered HTML catalogue.
//
//   node tests/browser/check.mjs SPEC.json
//
// SPEC: {"base": "http://127.0.0.1:PORT", "shots": "/dir/for/pngs",
//        "pages": [{"name": "home", "path": "/", "status": 200,
//                   "expect": ["visible text"], "expect_not": ["text"],
//                   "selectors": [{"css": "a[href='/x']", "text": "optional"}]}]}
//
// Each page is loaded three times, each in a fresh tab with the cache off and
// the page's own Content-Security-Policy ENFORCED (no setBypassCSP: bypassing
// would let inline styles/scripts that real visitors never get take effect, so
// axe and the screenshots would judge a different page):
//   @1280  desktop 1280x900         status, CSP, errors, requests, axe, texts, selectors, PNG
//   @375   mobile 375x800 (touch)   the same
//   no-js  1280x900, JS disabled    status, CSP, requests, texts, selectors (no axe: it needs JS)
// axe-core is injected with page.evaluate (DevTools evaluation, which the page's
// CSP does not govern), so it runs under script-src 'self' without a bypass.
// Text checks compare with whitespace collapsed to single spaces.
// Exit 0 when everything passed, 1 on any failure, 2 on bad usage/launch.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const VIEWPORTS = [
  { label: '@1280', width: 1280, height: 900, deviceScaleFactor: 1, isMobile: false, hasTouch: false },
  { label: '@375', width: 375, height: 800, deviceScaleFactor: 1, isMobile: true, hasTouch: true },
];
// Without the networking flags Chromium keeps dialling Google's hosts, which
// the closed CI network refuses. puppeteer adds --headless=new (= --headless).
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const NAV_TIMEOUT_MS = 30_000;

const norm = (s) => String(s).replace(/\s+/g, ' ').trim();
const clip = (s, n = 160) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

function die(msg) {
  console.error(`check.mjs: ${msg}`);
  process.exit(2);
}

// ---- spec ------------------------------------------------------------------
if (process.argv.length !== 3) die('usage: node tests/browser/check.mjs SPEC.json');
let spec;
try { spec = JSON.parse(readFileSync(process.argv[2], 'utf8')); } catch (e) { die(`cannot read spec: ${e.message}`); }
if (typeof spec.base !== 'string' || !/^https?:\/\//.test(spec.base)) die('spec.base must be an http(s) URL');
if (typeof spec.shots !== 'string') die('spec.shots must be a directory path');
if (!Array.isArray(spec.pages) || spec.pages.length === 0) die('spec.pages must be a non-empty array');
for (const p of spec.pages) {
  if (typeof p.name !== 'string' || !/^[\w.-]+$/.test(p.name)) die(`page name ${JSON.stringify(p.name)} must match [A-Za-z0-9_.-]+`);
  if (typeof p.path !== 'string' || !p.path.startsWith('/')) die(`page ${p.name}: path must start with "/"`);
}
const origin = new URL(spec.base).origin;
const shotsDir = path.resolve(spec.shots);
mkdirSync(shotsDir, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// ---- one load of one page -------------------------------------------------------
// Opens a tab, wires up the listeners that collect failures, navigates, and
// returns { page, fails, response }. The caller runs its checks and closes the tab.
async function load(browser, pg, viewport, javascript) {
  const fails = [];
  const page = await browser.newPage();
  page.setDefaultTimeout(NAV_TIMEOUT_MS);
  await page.setCacheEnabled(false); // else a repeat load may answer 304 from cache
  await page.setViewport(viewport);
  await page.setJavaScriptEnabled(javascript);
  // Record CSP violations as the page sees them (runs before any page script).
  await page.evaluateOnNewDocument(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'}` +
        (e.sourceFile ? ` at ${e.sourceFile}:${e.lineNumber}` : ''));
    });
  });
  page.on('pageerror', (err) => fails.push(`page error: ${clip(norm(err.message ?? err))}`));
  page.on('console', (msg) => {
    // "Failed to load resource" duplicates the response checks below (and would
    // flag a deliberate 404 page), so it is left to them.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      fails.push(`${msg.text().includes('Content Security Policy') ? 'CSP' : 'console error'}: ${clip(norm(msg.text()), 240)}`);
    }
  });
  // Chromium fetches /favicon.ico on its own after load; that is not the page's doing.
  const ours = (url) => !url.startsWith('data:') && !url.startsWith('about:') && new URL(url).pathname !== '/favicon.ico';
  page.on('request', (req) => {
    if (ours(req.url()) && new URL(req.url()).origin !== origin) fails.push(`off-origin request: ${req.url()}`);
  });
  page.on('requestfailed', (req) => {
    // A 4xx/5xx answer is reported by the 'response' handler; Chromium then also aborts it.
    if (ours(req.url()) && !(req.response()?.status() >= 400)) fails.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
  });
  page.on('response', (res) => {
    const req = res.request();
    const mainDoc = req.isNavigationRequest() && req.frame() === page.mainFrame();
    if (!mainDoc && res.status() >= 400 && ours(res.url())) fails.push(`HTTP ${res.status()} for ${res.url()}`);
  });

  let response = null;
  try {
    response = await page.goto(origin + pg.path, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
  } catch (e) {
    fails.push(`navigation failed: ${e.message}`);
    return { page, fails, response };
  }
  const want = pg.status ?? 200;
  if (!response) fails.push('navigation produced no response');
  else if (response.status() !== want) fails.push(`status ${response.status()}, expected ${want}`);
  for (const v of await page.evaluate(() => window.__cspViolations ?? [])) fails.push(`CSP violation: ${v}`);
  return { page, fails, response };
}

// expect / expect_not against the rendered text; selectors against the DOM.
async function checkContent(page, pg, fails) {
  const text = norm(await page.evaluate(() => document.body?.innerText ?? ''));
  for (const s of pg.expect ?? []) if (!text.includes(norm(s))) fails.push(`missing text: ${JSON.stringify(s)}`);
  for (const s of pg.expect_not ?? []) if (text.includes(norm(s))) fails.push(`unwanted text present: ${JSON.stringify(s)}`);
  for (const sel of pg.selectors ?? []) {
    let texts;
    try { texts = await page.$$eval(sel.css, (els) => els.map((e) => e.textContent ?? '')); } catch (e) {
      fails.push(`bad selector ${JSON.stringify(sel.css)}: ${clip(norm(e.message))}`);
      continue;
    }
    if (texts.length === 0) fails.push(`no element matches ${JSON.stringify(sel.css)}`);
    else if (sel.text != null && !texts.some((t) => norm(t).includes(norm(sel.text)))) {
      fails.push(`no ${JSON.stringify(sel.css)} contains ${JSON.stringify(sel.text)} (found: ${clip(texts.map(norm).join(' | '), 120)})`);
    }
  }
}

// axe-core, WCAG 2.x A/AA rules; every violation is a failure.
async function checkAxe(page, fails) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
      nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target.join(' '), html: n.html })) }));
  }, AXE_TAGS);
  for (const v of violations) {
    const nodes = v.nodes.map((n) => `\n        ${n.target}  ${clip(norm(n.html), 200)}`).join('');
    fails.push(`axe ${v.id} (${v.impact}): ${v.help} [${v.count} node(s)]${nodes}`);
  }
}

// ---- main ----------------------------------------------------------------------
const executablePath = process.env.SHIRE_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) die(`no browser at ${executablePath}: run tests/browser/setup.sh or set SHIRE_CHROMIUM`);
const userDataDir = mkdtempSync(path.join(tmpdir(), 'shire-chromium-'));
let browser;
let failures = 0;
const started = Date.now();
try {
  try {
    browser = await puppeteer.launch({ executablePath, headless: true, userDataDir, args: CHROMIUM_ARGS,
      timeout: 30_000, protocolTimeout: 60_000 });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true }); // die() skips the finally below
    die(`cannot launch ${executablePath}: ${e.message}`);
  }

  for (const pg of spec.pages) {
    const runs = [...VIEWPORTS.map((vp) => ({ vp, label: vp.label, js: true })),
      { vp: VIEWPORTS[0], label: 'no-js', js: false }];
    for (const { vp, label, js } of runs) {
      const t0 = Date.now();
      let page;
      let fails = [];
      try {
        ({ page, fails } = await load(browser, pg, vp, js));
        if (!fails.some((f) => f.startsWith('navigation'))) {
          await checkContent(page, pg, fails);
          if (js) {
            await checkAxe(page, fails);
            await page.screenshot({ path: path.join(shotsDir, `${pg.name}-${vp.width}.png`), fullPage: true });
          }
        }
      } catch (e) {
        fails.push(`check crashed: ${clip(norm(e.message), 300)}`);
      } finally {
        await page?.close().catch(() => {});
      }
      failures += fails.length;
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(`${pg.name} ${label} (${secs}s): ${fails.length === 0 ? 'OK' : `FAIL (${fails.length})`}`);
      for (const f of fails) console.log(`    - ${f}`);
    }
  }
} finally {
  await browser?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`browser check: ${spec.pages.length} pages, ${failures} failures (${((Date.now() - started) / 1000).toFixed(1)}s, screenshots in ${shotsDir})`);
process.exit(failures === 0 ? 0 : 1);
