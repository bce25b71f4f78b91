// The page over HTTPS (issue 13, item 4): the app built with --features tls
// (SESSIO_TLS_BIN) and started with --tls-self-signed, in chromium with
// --ignore-certificate-errors. A user registers, logs in and connects; the socket runs
// over wss://, and the session cookie is Secure. Skipped without SESSIO_TLS_BIN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { artifacts, uniqueName } from './browser.mjs';

const bin = process.env.SESSIO_TLS_BIN;
const skip = bin ? false : 'no TLS build: set SESSIO_TLS_BIN to a sessio built with --features tls (tests/run does)';
let proc, dataDir, browser, url;

const freePort = () => new Promise((ok, fail) => {
  const srv = createServer();
  srv.once('error', fail);
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => ok(port));
  });
});
const accepts = (port) => new Promise((ok) => {
  const s = connect(port, '127.0.0.1', () => { s.destroy(); ok(true); });
  s.on('error', () => ok(false));
});

before(async () => {
  if (skip) return;
  const port = await freePort();
  url = `https://127.0.0.1:${port}`;
  dataDir = mkdtempSync(join(tmpdir(), 'sessio-browser-tls-'));
  proc = spawn(resolve(bin), ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--tls-self-signed'],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; !(await accepts(port)); i++) {
    if (i > 300) throw new Error('the TLS server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'],
  });
});

after(async () => {
  await browser?.close();
  if (proc && proc.exitCode === null) {
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the page logs in and connects over https and wss with the self-signed certificate', { skip }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(url + '/');
  const username = uniqueName('tls');
  const waitStatus = (re) => page.waitForFunction((source) => new RegExp(source).test(document.getElementById('status').innerText),
    re.source, { timeout: 10_000 });
  for (const button of ['#registerBtn', '#loginBtn']) {
    await page.fill('#username', username);
    await page.fill('#password', 'correct horse battery');
    await page.click(button);
  }
  await waitStatus(new RegExp(`Logged in as ${username}`));
  const [cookie] = await context.cookies(url);
  assert.equal(cookie?.secure, true, 'the session cookie is Secure');
  await page.click('#connectBtn');
  await waitStatus(/Socket connected/);
  await page.locator('#events').getByText(`Welcome ${username}!`).waitFor();
  assert.ok(sockets.some((u) => u.startsWith(`wss://127.0.0.1:`)), `a wss socket: ${sockets}`);
  await page.screenshot({ path: join(artifacts, 'tls-page-connected.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
