// The official Socket.IO Admin UI (@socket.io/admin-ui's own built files, served by a
// throwaway static server on another loopback port) against sessio run with
// `--admin-user root --allowed-origin <the UI's origin>`: a wrong password shows the
// refusal; logged in, it lists the connected sockets and rooms; disconnecting a socket
// from the UI disconnects it. Screenshots land in tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { io } from 'socket.io-client';
import { freePort, startServer } from './server.mjs';
import { artifacts, launchBrowser, uniqueName } from './browser.mjs';

const require = createRequire(import.meta.url);
const uiDir = join(dirname(require.resolve('@socket.io/admin-ui/package.json')), 'ui', 'dist');
const PASSWORD = 'correct horse battery';
const skip = process.env.SESSIO_BIN ? false : 'the Admin UI needs a sessio binary (SESSIO_BIN)';
let server, ui, browser, user;

const TYPES = { '.html': 'text/html', '.js': 'application/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

/** Serves `dir` on a free loopback port; resolves with { url, close }. */
async function staticServer(dir) {
  const port = await freePort();
  const http = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise((ok) => http.listen(port, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => http.close(ok)) };
}

/** `sessio user add NAME` with the server running (through its control socket). */
function addUser(name) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.SESSIO_BIN, ['user', 'add', name, '--data-dir', server.dataDir], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`user add: ${err}`))));
    child.stdin.end(`${PASSWORD}\n`);
  });
}

/** A user logged in over the API, with a socket.io-client socket on `/`. */
async function connectedUser() {
  const username = uniqueName('ui');
  const body = JSON.stringify({ username, password: PASSWORD });
  const headers = { 'content-type': 'application/json' };
  assert.equal((await fetch(`${server.url}/api/register`, { method: 'POST', headers, body })).status, 201);
  const login = await fetch(`${server.url}/api/login`, { method: 'POST', headers, body });
  assert.equal(login.status, 200);
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const socket = io(server.url, { transports: ['websocket'], extraHeaders: { cookie }, reconnection: false, forceNew: true });
  await new Promise((ok, fail) => { socket.once('connect', ok); socket.once('connect_error', fail); });
  return { username, socket };
}

before(async () => {
  if (skip) return;
  ui = await staticServer(uiDir);
  server = await startServer({ args: ['--admin-user', 'root', '--allowed-origin', ui.url] });
  await addUser('root');
  browser = await launchBrowser();
  user = await connectedUser();
});

after(async () => {
  user?.socket.disconnect();
  await browser?.close();
  await server?.close();
  await ui?.close();
});

/** A page of the UI; requests off this machine (its web fonts and icons) are refused. */
async function openUi() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
  await page.goto(`${ui.url}/`);
  return { page, errors };
}

/** A screenshot in tests/artifacts/, once transitions and the charts' animation are over. */
async function shot(page, name) {
  await page.waitForTimeout(1000);
  await page.screenshot({ path: join(artifacts, `${name}.png`), animations: 'disabled' });
}

async function logIn(page, password) {
  await page.getByLabel('Server URL').fill(server.url);
  await page.getByLabel('Username').fill('root');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Connect' }).click();
}

test('a wrong password shows the refusal', { skip }, async () => {
  const { page, errors } = await openUi();
  await logIn(page, 'not the password');
  await page.getByText(/invalid credentials/i).first().waitFor({ timeout: 10_000 });
  await shot(page, 'admin-ui-refused');
  assert.deepEqual(errors, []);
  await page.context().close();
});

test('logged in, the UI lists the sockets and rooms; its disconnect button disconnects the socket', { skip }, async () => {
  const { page, errors } = await openUi();
  await logIn(page, PASSWORD);
  await page.getByRole('button', { name: 'Connect' }).waitFor({ state: 'hidden', timeout: 10_000 });
  // The server, from server_stats.
  await page.goto(`${ui.url}/#/servers`);
  await page.locator('tbody tr', { hasText: hostname() }).waitFor({ timeout: 10_000 });
  await page.goto(`${ui.url}/#/`);
  await page.locator('tr', { hasText: '/admin' }).first().waitFor({ timeout: 10_000 });
  await shot(page, 'admin-ui-dashboard');

  await page.goto(`${ui.url}/#/sockets`);
  // The sockets table's row (the one with the disconnect button).
  const row = page.locator('tr', { hasText: user.socket.id }).filter({ has: page.locator('button') });
  await row.waitFor({ timeout: 10_000 });
  await shot(page, 'admin-ui-sockets');

  await page.goto(`${ui.url}/#/rooms`);
  // The room of the user's session (the app puts each session's sockets in one).
  const sessionRoom = page.locator('tbody tr', { hasText: /^\s*[0-9a-f]{32}(?![0-9a-f])/ });
  await sessionRoom.waitFor({ timeout: 10_000 });
  await shot(page, 'admin-ui-rooms');

  await page.goto(`${ui.url}/#/sockets`);
  const gone = new Promise((ok) => user.socket.once('disconnect', ok));
  await row.locator('button').first().click();
  assert.equal(await gone, 'io server disconnect');
  // The click also opened the socket's page; back on the list, it is gone.
  await page.goto(`${ui.url}/#/sockets`);
  await row.waitFor({ state: 'detached', timeout: 10_000 });
  await shot(page, 'admin-ui-disconnected');
  // And the session's room, which it was the only one in.
  await page.goto(`${ui.url}/#/rooms`);
  await page.getByText('Show private rooms?').waitFor({ timeout: 10_000 });
  await sessionRoom.waitFor({ state: 'detached', timeout: 10_000 });
  assert.deepEqual(errors, []);
  await page.context().close();
});
