// The page in www/, driven like a person would: two users in two browser contexts
// (a desktop and a phone), against a real server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer } from './server.mjs';
import { launchBrowser, useCompactClient, uniqueName, artifacts } from './browser.mjs';

const PASSWORD = 'correct horse battery';
let server, browser, alice, bob;

async function openPage(name, viewport) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (process.env.SESSIO_CLIENT_FILE) await useCompactClient(page);
  await page.goto(server.url + '/');
  return { name, context, page, errors, username: uniqueName(name) };
}

const status = (u) => u.page.locator('#status');
// Wait until the status (its state line and its notice) contains `text` (a string or a RegExp).
async function waitStatus(u, text) {
  const [source, flags] = typeof text === 'string' ? [text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), ''] : [text.source, text.flags];
  await u.page.waitForFunction(([source, flags]) => new RegExp(source, flags).test(document.getElementById('status').innerText),
    [source, flags], { timeout: 10_000 });
}
const shot = (u, step) => u.page.screenshot({ path: join(artifacts, `page-${step}-${u.name}.png`), fullPage: true });

async function fillCredentials(u, password = PASSWORD) {
  await u.page.fill('#username', u.username);
  await u.page.fill('#password', password);
}

async function registerAndLogin(u) {
  await fillCredentials(u);
  await u.page.click('#registerBtn');
  await waitStatus(u, `Registered ${u.username}`);
  await fillCredentials(u);
  await u.page.click('#loginBtn');
  await waitStatus(u, `Logged in as ${u.username}`);
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  alice = await openPage('alice', { width: 1280, height: 800 });
  bob = await openPage('bob', { width: 390, height: 844 });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('the page loads with its controls and says it is logged out and not connected', async () => {
  for (const u of [alice, bob]) {
    for (const id of ['username', 'password', 'registerBtn', 'loginBtn', 'logoutBtn', 'connectBtn',
      'getUserInfoBtn', 'sendMessageBtn', 'messageInput', 'status', 'messages', 'notifyBtn', 'countBtn']) {
      assert.equal(await u.page.locator('#' + id).count(), 1, `#${id} exists`);
    }
    const text = await status(u).innerText();
    assert.match(text, /Not logged in/);
    assert.match(text, /not connected/i);
    assert.equal(await u.page.evaluate(() => typeof io), 'function', 'the Socket.IO client loaded');
  }
  await shot(alice, '1-start');
  await shot(bob, '1-start');
});

test('a connection without a session is refused, and the page says why', async () => {
  await bob.page.click('#connectBtn');
  await waitStatus(bob, 'Authentication required');
  assert.match(await status(bob).innerText(), /Not logged in/);
  assert.match(await status(bob).innerText(), /not connected/i);
  assert.equal(await bob.page.isEnabled('#connectBtn'), true, 'can try again');
});

test('register and log in; a wrong password is shown as an error', async () => {
  await registerAndLogin(alice);
  await fillCredentials(bob);
  await bob.page.click('#registerBtn');
  await waitStatus(bob, `Registered ${bob.username}`);
  await fillCredentials(bob, 'not the password');
  await bob.page.click('#loginBtn');
  await waitStatus(bob, 'invalid credentials');
  assert.match(await status(bob).innerText(), /Not logged in/);
  await shot(bob, '2-wrong-password');
  await fillCredentials(bob);
  await bob.page.click('#loginBtn');
  await waitStatus(bob, `Logged in as ${bob.username}`);
  await fillCredentials(alice);
  await alice.page.click('#registerBtn');
  await waitStatus(alice, 'taken'); // 409 for a second registration
});

test('both connect and see the welcome', async () => {
  for (const u of [alice, bob]) {
    await u.page.click('#connectBtn');
    await waitStatus(u, /Socket connected/);
    assert.match(await status(u).innerText(), new RegExp(`Logged in as ${u.username}`));
    await u.page.locator('#events').getByText(`Welcome ${u.username}!`).waitFor();
  }
});

test('a message from one user appears in the other user\'s messages with sender and time', async () => {
  const text = `hello from alice ${Date.now()}`;
  await alice.page.fill('#messageInput', text);
  await alice.page.click('#sendMessageBtn');
  const item = bob.page.locator('#messages li', { hasText: text });
  await item.waitFor();
  assert.equal(await item.locator('.sender').innerText(), alice.username);
  const when = await item.locator('time').getAttribute('datetime');
  assert.ok(Math.abs(Date.parse(when) - Date.now()) < 60_000, `time ${when} is now`);
  await alice.page.locator('#messages li.mine', { hasText: text }).waitFor();
  assert.equal(await alice.page.inputValue('#messageInput'), '', 'input cleared after the ack');

  const reply = 'hi alice, bob here';
  await bob.page.fill('#messageInput', reply);
  await bob.page.press('#messageInput', 'Enter');
  await alice.page.locator('#messages li', { hasText: reply }).locator('.sender', { hasText: bob.username }).waitFor();
  await shot(alice, '3-messages');
  await shot(bob, '3-messages');
});

test('a rejected message is shown, not swallowed', async () => {
  await alice.page.fill('#messageInput', '');
  await alice.page.click('#sendMessageBtn');
  await waitStatus(alice, /Message rejected: .+/);
});

test('get user info', async () => {
  await alice.page.click('#getUserInfoBtn');
  await alice.page.locator('#events').getByText(`User info: ${alice.username}`).waitFor();
});

test('a notification reaches only the caller\'s session', async () => {
  await alice.page.click('#notifyBtn');
  await alice.page.locator('#events li.notification').first().waitFor();
  assert.match(await alice.page.locator('#events li.notification').first().innerText(), /Notification/);
  await bob.page.waitForTimeout(300);
  assert.equal(await bob.page.locator('#events li.notification').count(), 0);
});

test('the count goes up and the API shows the same count', async () => {
  await alice.page.click('#countBtn');
  await alice.page.locator('#count', { hasText: '1' }).waitFor();
  await alice.page.click('#countBtn');
  await alice.page.locator('#count', { hasText: '2' }).waitFor();
  const me = await alice.page.evaluate(() => fetch('/api/me', { credentials: 'include' }).then((r) => r.json()));
  assert.equal(me.count, 2);
  assert.equal(me.username, alice.username);
  await shot(alice, '4-count');
});

test('log out: the status says so and the socket is disconnected', async () => {
  await alice.page.click('#logoutBtn');
  await waitStatus(alice, 'Not logged in');
  await waitStatus(alice, /Socket disconnected/);
  assert.equal(await alice.page.isDisabled('#sendMessageBtn'), true);
  const me = await alice.page.evaluate(() => fetch('/api/me', { credentials: 'include' }).then((r) => r.status));
  assert.equal(me, 401);
  // bob is untouched
  assert.match(await status(bob).innerText(), /Socket connected/);
  await shot(alice, '5-logged-out');
  await shot(bob, '5-end');
});

test('no script errors on either page', () => {
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
