// Debian's chromium driven by playwright-core, plus small helpers shared by the tests.
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startServer } from './server.mjs';

export const artifacts = join(repoRoot, 'tests', 'artifacts');
mkdirSync(artifacts, { recursive: true });

/** A headless chromium with a fresh profile (playwright makes a new temporary user-data dir). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The compact client's source: SESSIO_CLIENT_FILE, or the one in this repository. */
export function compactClientSource() {
  return readFileSync(process.env.SESSIO_CLIENT_FILE || join(repoRoot, 'src', 'assets', 'client', 'socket.io.js'), 'utf8');
}

/** Make the page load the compact client at /socket.io/socket.io.js, whatever the server serves there. */
export async function useCompactClient(page) {
  const body = compactClientSource();
  await page.route('**/socket.io/socket.io.js', (route) =>
    route.fulfill({ status: 200, contentType: 'application/javascript; charset=utf-8', body }));
}

let serial = 0;
/** A fresh valid username (letters, digits, '_'), at most 32 characters. */
export function uniqueName(prefix) {
  return `${prefix}_${Date.now().toString(36)}${(serial++).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.slice(0, 32);
}

/** Register and log in from inside the page, so its cookie jar holds the session. */
export async function loginInPage(page, username, password = 'correct horse battery') {
  return page.evaluate(async ({ username, password }) => {
    const post = (path) => fetch(path, {
      method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const reg = await post('/api/register');
    const login = await post('/api/login');
    return { register: reg.status, login: login.status };
  }, { username, password });
}

/**
 * A server and a browser for the whole test file, closed after it: `env.server`
 * and `env.browser` once the file's tests run.
 */
export function serverAndBrowser() {
  const env = {};
  before(async () => {
    env.server = await startServer();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}
