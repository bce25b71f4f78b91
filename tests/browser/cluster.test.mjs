// The page through a cluster (issue 22, item 1): three sessio nodes built with
// `--features redis` (SESSIO_REDIS_BIN) on a redis-server of their own behind Debian's
// nginx as a round-robin balancer, no affinity (tests/e2e/nginx-cluster.mjs). Two users in
// Chromium: alice's page as it is (the client opens a WebSocket), bob's with WebSocket
// taken away, so that its client falls back to long-polling and every poll goes through
// the balancer to any node. Both log in, connect, chat, count, and stay connected across
// heartbeats while bob's polls land on every node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, uniqueName } from './browser.mjs';
import { skip, startCluster } from '../e2e/nginx-cluster.mjs';

const PASSWORD = 'correct horse battery';
const PING_MS = 500;
let cluster, browser, alice, bob;

async function openPage(name, { noWebSocket = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Like a network that lets no WebSocket through: the client falls back to polling.
  if (noWebSocket) await context.addInitScript(() => { delete window.WebSocket; });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(cluster.url + '/');
  return { name, context, page, errors, username: uniqueName(name) };
}

async function waitStatus(u, text) {
  await u.page.waitForFunction((source) => new RegExp(source).test(document.getElementById('status').innerText),
    text.source, { timeout: 10_000 });
}

async function registerLoginConnect(u) {
  await u.page.fill('#username', u.username);
  await u.page.fill('#password', PASSWORD);
  await u.page.click('#registerBtn');
  await waitStatus(u, new RegExp(`Registered ${u.username}`));
  await u.page.click('#loginBtn');
  await waitStatus(u, new RegExp(`Logged in as ${u.username}`));
  await u.page.click('#connectBtn');
  await waitStatus(u, /Socket connected/);
  await u.page.locator('#events').getByText(`Welcome ${u.username}!`).waitFor();
}

before(async () => {
  if (skip) return;
  cluster = await startCluster({ env: { SESSIO_PING_INTERVAL: String(PING_MS) } });
  browser = await launchBrowser();
  alice = await openPage('alice');
  bob = await openPage('bob', { noWebSocket: true });
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

test('two users log in, connect and chat through a round-robin balancer', { skip }, async () => {
  for (const u of [alice, bob]) await registerLoginConnect(u);
  const text = `hello from alice ${Date.now()}`;
  await alice.page.fill('#messageInput', text);
  await alice.page.click('#sendMessageBtn');
  await bob.page.locator('#messages li', { hasText: text }).waitFor();
  const reply = `hi alice, bob polling ${Date.now()}`;
  await bob.page.fill('#messageInput', reply);
  await bob.page.press('#messageInput', 'Enter');
  await alice.page.locator('#messages li', { hasText: reply }).waitFor();
  // Counted in the session, in Redis, by the node that holds bob's socket.
  await bob.page.click('#countBtn');
  await bob.page.waitForFunction(() => document.getElementById('count').textContent === '1', null, { timeout: 10_000 });
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('the polling page stays connected while its polls go to every node', { skip }, async () => {
  const sid = await bob.page.evaluate(() => {
    const entries = performance.getEntriesByType('resource').map((e) => e.name);
    const polled = entries.reverse().find((name) => name.includes('transport=polling') && name.includes('sid='));
    return polled && new URL(polled).searchParams.get('sid');
  });
  assert.ok(sid, 'the page polls with a sid');
  await new Promise((resolve) => setTimeout(resolve, PING_MS * 8));
  assert.match(await bob.page.locator('#status').innerText(), /Socket connected/);
  const text = `still here ${Date.now()}`;
  await alice.page.fill('#messageInput', text);
  await alice.page.click('#sendMessageBtn');
  await bob.page.locator('#messages li', { hasText: text }).waitFor();
  const owner = cluster.nodeOfSid(sid);
  assert.ok(owner, `${sid} is one of the nodes'`);
  const ports = cluster.portsOf(sid);
  assert.equal(new Set(ports).size, cluster.nodes.length, `every node had polls of ${sid}: ${ports}`);
  assert.deepEqual(cluster.accessLog().filter((r) => r.uri.includes(sid) && r.status >= 400), []);
});
