#!/usr/bin/env node
// A real Neo4j Browser session in headless Chromium (playwright-core), against
// the local Neo4j that `scripts/neo4j start` runs, holding the example reports.
//
// It does what README.md ("In Neo4j Browser") tells an analyst to do:
//   1. open Browser and connect with the local credentials (Bolt over WebSocket),
//   2. set every parameter of one shipped query, one `:param name => value` each,
//   3. paste `graphmalw query show NAME` (header comments included) and run it,
//   4. check that Browser's result table holds exactly the rows that
//      `graphmalw query run NAME --param analysis=… --format json` prints,
//   5. save a screenshot of the result.
//
// Run it through tests/browser/run, which installs playwright-core and Chromium
// and sets the variables below. Exit status 0 = passed, 1 = failed.
//
// Environment:
//   GRAPHMALW            graphmalw binary (required)
//   CHROMIUM             Chromium binary (required)
//   BROWSER_SCREENSHOT   where the PNG of the result goes (required)
//   NEO4J_BROWSER_URL    Browser's address [http://127.0.0.1:$NEO4J_HTTP_PORT/browser/]
//   NEO4J_HTTP_PORT      [7475, scripts/neo4j's default]
//   NEO4J_URI            Bolt address as graphmalw takes it: host:port, bolt://…
//                        or neo4j://… [bolt://127.0.0.1:$NEO4J_BOLT_PORT, 7688]
//   NEO4J_USERNAME       [neo4j]     NEO4J_PASSWORD (required)
//   NEO4J_DATABASE       [graphmalw]
//   BROWSER_TEST_QUERY   shipped query to run [process-tree]
//   BROWSER_TEST_ANALYSIS  its `analysis` parameter [dropper-cuckoo.json]
//   BROWSER_TEST_TIMEOUT seconds each step may take [60]
'use strict';

const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');

const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

class Failure extends Error {}
function fail(msg) {
  throw new Failure(msg);
}

function env(name, fallback) {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback === undefined) fail(`${name} is not set`);
  return fallback;
}

// ---- what graphmalw says --------------------------------------------------

function graphmalw(args) {
  try {
    return execFileSync(env('GRAPHMALW'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    fail(`graphmalw ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

// `// param: name = <JSON default> | description` lines of the query header.
function headerParams(text) {
  const params = [];
  for (const line of text.split('\n')) {
    const m = /^\/\/\s*param:\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*\|/.exec(line);
    if (m) params.push({ name: m[1], value: JSON.parse(m[2]) });
  }
  return params;
}

// A JSON value as a Cypher literal, for `:param name => literal`.
function cypherLiteral(v) {
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(cypherLiteral).join(', ')}]`;
  const key = (k) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `\`${k.replace(/`/g, '``')}\``);
  return `{${Object.entries(v).map(([k, x]) => `${key(k)}: ${cypherLiteral(x)}`).join(', ')}}`;
}

// How Browser's table view shows a value: strings in double quotes (not
// escaped), lists as [a, b], null as null.
function rendered(v) {
  if (v === null) return 'null';
  if (typeof v === 'string') return `"${v}"`;
  if (Array.isArray(v)) return `[${v.map(rendered).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `"${k}": ${rendered(x)}`).join(', ')}}`;
  return String(v);
}
const squash = (s) => s.replace(/\s+/g, '');

// ---- Browser --------------------------------------------------------------

function boltAddress() {
  const uri = env('NEO4J_URI', `bolt://127.0.0.1:${env('NEO4J_BOLT_PORT', '7688')}`);
  const m = /^(?:([a-z0-9+]+):\/\/)?([^/?#]+)/i.exec(uri);
  if (!m) fail(`NEO4J_URI=${uri}: not a Bolt address`);
  return { scheme: `${(m[1] || 'bolt').toLowerCase()}://`, hostPort: m[2].replace(/^.*@/, '') };
}

async function main() {
  const name = env('BROWSER_TEST_QUERY', 'process-tree');
  const analysis = env('BROWSER_TEST_ANALYSIS', 'dropper-cuckoo.json');
  const timeout = Number(env('BROWSER_TEST_TIMEOUT', '60')) * 1000;
  const url = env('NEO4J_BROWSER_URL', `http://127.0.0.1:${env('NEO4J_HTTP_PORT', '7475')}/browser/`);
  const bolt = boltAddress();
  const user = env('NEO4J_USERNAME', 'neo4j');
  const password = env('NEO4J_PASSWORD');
  const database = env('NEO4J_DATABASE', 'graphmalw');
  const screenshot = env('BROWSER_SCREENSHOT');

  const query = graphmalw(['query', 'show', name]).replace(/\s+$/, '');
  const params = headerParams(query);
  if (!params.some((p) => p.name === 'analysis')) fail(`query ${name} has no 'analysis' parameter`);
  for (const p of params) if (p.name === 'analysis') p.value = analysis;
  const expected = JSON.parse(
    graphmalw(['query', 'run', name, '--param', `analysis=${analysis}`, '--format', 'json']),
  );
  if (expected.length === 0) fail(`graphmalw query run ${name} --param analysis=${analysis} returned no rows: ingest examples/reports first`);
  const columns = Object.keys(expected[0]);
  log(`query ${name}: ${query.split('\n').length} lines, ${params.length} parameters; graphmalw gives ${expected.length} rows`);

  const browser = await chromium.launch({ executablePath: env('CHROMIUM'), headless: true });
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    // Browser asks fonts.googleapis.com for its web fonts (and may phone home):
    // nothing but this machine is reachable, so answer those at once.
    await context.route((u) => !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname), (r) => r.abort());
    // The editor's text is set by pasting, as a person would (typing would let
    // Monaco close brackets and indent, and Enter runs a one-line command).
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
    page = await context.newPage();
    page.setDefaultTimeout(timeout);

    log(`open ${url}`);
    await page.goto(url);
    await page.getByTestId('connect').waitFor();

    log(`connect to ${bolt.scheme}${bolt.hostPort} as ${user}, database ${database}`);
    await page.getByTestId('bolt-scheme-select').selectOption(bolt.scheme);
    await page.getByTestId('boltaddress').fill(bolt.hostPort);
    await page.getByTestId('database').fill(database);
    await page.getByTestId('username').fill(user);
    await page.getByTestId('password').fill(password);
    await page.getByTestId('connect').click();
    const connected = page.getByText('You are connected as user');
    const connectError = page.locator('[data-testid="frame"]').getByText(/error/i);
    await connected.or(connectError).first().waitFor();
    if (!(await connected.isVisible())) fail(`Browser did not connect: ${(await connectError.first().innerText()).trim()}`);
    log('connected');

    const editor = page.locator('#monaco-main-editor, [data-testid="activeEditor"] .monaco-editor, .monaco-editor').first();
    const history = () => page.evaluate(() => JSON.parse(localStorage.getItem('neo4j.history') || '[]'));
    async function run(text) {
      await editor.click();
      await page.keyboard.press('Control+A');
      await page.keyboard.press('Delete');
      await page.evaluate((t) => navigator.clipboard.writeText(t), text);
      await page.keyboard.press('Control+V');
      await page.getByTestId('editor-Run').click();
      // Browser records what it ran: the editor held exactly `text`.
      await page.waitForFunction(
        (t) => JSON.parse(localStorage.getItem('neo4j.history') || '[]')[0] === t,
        text,
        { timeout: 10000 },
      ).catch(async () => {
        fail(`Browser ran ${JSON.stringify((await history())[0])}, not the pasted ${JSON.stringify(text)}`);
      });
    }
    const frames = page.locator('[data-testid="frame"]');

    await run(':clear');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="frame"]').length === 0);
    for (const [i, p] of params.entries()) {
      const command = `:param ${p.name} => ${cypherLiteral(p.value)}`;
      log(command.length > 110 ? `${command.slice(0, 107)}...` : command);
      await run(command);
      await frames.nth(0).waitFor();
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="frame"]').length === n, i + 1);
      const top = frames.nth(0);
      const ok = top.getByText('Successfully set your parameters.');
      await ok.or(top.getByText(/error/i)).first().waitFor();
      if (!(await ok.isVisible())) fail(`${command}: ${(await top.innerText()).trim()}`);
      // Collapsed to its title bar, the command stays in the screenshot.
      await top.locator('button[title="Collapse"]').click();
    }

    log(`paste the ${query.split('\n').length} lines of \`graphmalw query show ${name}\` and run them`);
    await run(query);
    const frame = frames.nth(0);
    const table = frame.locator('table[role="table"]');
    const error = frame.getByText(/^ERROR$/);
    await table.or(error).or(frame.getByText('(no changes, no records)')).first().waitFor();
    if (!(await table.isVisible())) fail(`no result table: ${(await frame.innerText()).trim().slice(0, 600)}`);

    const headers = await table.locator('thead [role="columnheader"]').allInnerTexts();
    const rows = await table.locator('tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('[role="cell"]')].map((td) => td.innerText)));
    log(`Browser's table: ${rows.length} rows, columns ${headers.join(', ')}`);
    // Browser's "we collect information on product usage" banner shows up some
    // time after connecting; close it, it is not part of the result.
    const banner = page.getByText('To help make Neo4j Browser better').locator('xpath=..');
    if (await banner.isVisible()) {
      await banner.locator('xpath=./span[last()]').click();
      await banner.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => log('could not close the usage banner'));
    }
    // The pointer, wherever the last click left it, may hover a menu open.
    await page.mouse.move(1390, 890);
    await page.getByText('Export CSV').waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
    await page.screenshot({ path: screenshot });
    log(`screenshot: ${screenshot}`);

    const problems = [];
    if (headers.join(',') !== columns.join(',')) problems.push(`columns: Browser ${headers.join(',')}, graphmalw ${columns.join(',')}`);
    if (rows.length !== expected.length) problems.push(`rows: Browser ${rows.length}, graphmalw ${expected.length}`);
    const unmatched = rows.map((r) => r.map(squash).join('\u0000'));
    for (const [i, row] of expected.entries()) {
      const want = columns.map((c) => rendered(row[c]));
      const k = unmatched.indexOf(want.map(squash).join('\u0000'));
      if (k >= 0) unmatched.splice(k, 1);
      else problems.push(`graphmalw row ${i + 1} not in Browser's table: ${want.join(' | ')}`);
    }
    if (problems.length) {
      for (const r of rows) problems.push(`Browser row: ${r.join(' | ')}`);
      fail(`Browser's table differs from graphmalw query run:\n  ${problems.join('\n  ')}`);
    }
    log(`all ${expected.length} rows of graphmalw query run ${name} --param analysis=${analysis} are in Browser's table`);
  } catch (e) {
    if (page && !(e instanceof Failure && /is not set/.test(e.message))) {
      const shot = screenshot.replace(/(\.png)?$/, '.failed.png');
      await page.screenshot({ path: shot }).then(() => log(`screenshot of the failure: ${shot}`), () => {});
    }
    throw e;
  } finally {
    await browser.close();
  }
}

main().then(
  () => log('PASS'),
  (e) => {
    log(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
    process.exitCode = 1;
  },
);
