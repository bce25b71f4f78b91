// The compact Socket.IO client (src/assets/client/socket.io.js) on its own, in chromium,
// against a real server: acks, binary, polling and the fallback to it, disconnect reasons,
// the official client on the other end, and reconnection after a server restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io as officialIo } from 'socket.io-client';
import { serverAndBrowser, useCompactClient, uniqueName, loginInPage } from './browser.mjs';

const T = { timeout: 30_000 };
const env = serverAndBrowser();

// The server's own page (a route-fulfilled page would be outside the local address space, and
// chromium's local network access checks would then block its WebSocket to 127.0.0.1), with
// the compact client at /socket.io/socket.io.js; logged in unless asked not to.
async function clientPage({ login = true, breakWebSocket = false } = {}) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await useCompactClient(page);
  await page.addInitScript((broken) => {
    const Real = window.WebSocket;
    window.wsOpened = [];
    window.WebSocket = class extends Real {
      constructor(url, protocols) {
        window.wsOpened.push(url);
        // a port nothing listens on: the connection is refused before it opens
        super(broken ? url.replace(/\/\/[^/]+\//, '//127.0.0.1:9/') : url, protocols);
      }
    };
    // Resolve with the first of `events` to fire on `emitter`, or reject after `ms`.
    window.first = (emitter, events, ms = 10_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`none of ${events} within ${ms} ms`)), ms);
      for (const ev of events) emitter.once(ev, (arg) => { clearTimeout(timer); resolve({ ev, arg: arg instanceof Error ? arg.message : arg }); });
    });
    window.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  }, breakWebSocket);
  await page.goto(env.server.url + '/');
  const username = uniqueName('c');
  if (login) assert.deepEqual(await loginInPage(page, username), { register: 201, login: 200 });
  return { page, errors, username };
}

// Open `window.s = io(opts)` in the page and wait for connect (or fail with connect_error).
async function connect(page, opts = {}) {
  return page.evaluate(async (opts) => {
    window.s = io(Object.assign({ withCredentials: true }, opts));
    const r = await first(s, ['connect', 'connect_error']);
    if (r.ev !== 'connect') throw new Error('connect_error: ' + r.arg);
    return { id: s.id, connected: s.connected, transport: s.io.engine.transport.name };
  }, opts);
}

test('connects over WebSocket and gets the welcome', T, async () => {
  const { page, username, errors } = await clientPage();
  const welcome = page.evaluate(() => new Promise((r) => { window.onWelcome = r; }));
  const info = await page.evaluate(async () => {
    window.s = io({ withCredentials: true });
    s.on('connected', (d) => window.onWelcome(d));
    await first(s, ['connect']);
    return { id: s.id, connected: s.connected, transport: s.io.engine.transport.name, ws: wsOpened.length };
  });
  assert.equal(info.connected, true);
  assert.equal(typeof info.id, 'string');
  assert.ok(info.id.length > 0);
  assert.equal(info.transport, 'websocket');
  assert.equal(info.ws, 1);
  const w = await welcome;
  assert.equal(w.message, `Welcome ${username}!`);
  assert.deepEqual(errors, []);
});

test('acks: callbacks, emitWithAck, timeouts; on/once/off', T, async () => {
  const { page, username } = await clientPage();
  await connect(page);
  const r = await page.evaluate(async () => {
    const out = {};
    const response = first(s, ['response']);
    out.requestData = await new Promise((res) => s.emit('requestData', { x: [1, 'two'] }, res));
    out.response = (await response).arg;
    out.userInfo = await s.emitWithAck('getUserInfo');
    out.count1 = await s.timeout(5000).emitWithAck('updateCount');
    out.count2 = await s.emitWithAck('updateCount');
    out.rejected = await s.emitWithAck('sendMessage', { message: '' });
    out.accepted = await s.emitWithAck('sendMessage', { message: 'x'.repeat(2000) });
    out.tooLong = await s.emitWithAck('sendMessage', { message: 'x'.repeat(2001) });
    out.timedOut = await s.timeout(150).emitWithAck('noSuchEvent').then(() => 'resolved', (e) => e.message);
    out.cbTimeout = await new Promise((res) => s.timeout(150).emit('noSuchEvent', (err) => res(err && err.message)));
    let once = 0, on = 0;
    const h = () => on++;
    s.once('userInfo', () => once++);
    s.on('userInfo', h);
    await s.emitWithAck('getUserInfo');
    s.off('userInfo', h);
    await s.emitWithAck('getUserInfo');
    await sleep(50);
    out.once = once;
    out.on = on;
    try { s.emit('connect'); out.reserved = 'allowed'; } catch (e) { out.reserved = e.message; }
    return out;
  });
  assert.equal(r.requestData.success, true);
  assert.equal(r.requestData.message, `Hello ${username}!`);
  assert.deepEqual(r.requestData.data, { x: [1, 'two'] });
  assert.deepEqual(r.response, r.requestData);
  assert.equal(r.userInfo.username, username);
  assert.deepEqual([r.count1.count, r.count2.count], [1, 2]);
  assert.equal(r.rejected.success, false);
  assert.equal(typeof r.rejected.error, 'string');
  assert.equal(r.accepted.success, true);
  assert.equal(r.tooLong.success, false);
  assert.equal(r.timedOut, 'operation has timed out');
  assert.equal(r.cbTimeout, 'operation has timed out');
  assert.deepEqual([r.once, r.on], [1, 1]);
  assert.match(r.reserved, /reserved/);
});

// Runs in the page: echo a payload with binary in many shapes, check what comes back.
async function echoBinary(page) {
  return page.evaluate(async () => {
    const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
    const same = (buf, view) => buf instanceof ArrayBuffer && buf.byteLength === view.length &&
      new Uint8Array(buf).every((b, i) => b === view[i]);
    const big = bytes(200_000, 9);
    const payload = {
      buf: bytes(10, 1).buffer,
      list: [bytes(3, 2), { deep: bytes(100, 3).subarray(10, 20) }, new DataView(bytes(4, 5).buffer)],
      blob: new Blob([bytes(5, 4)]),
      big: big.buffer,
      text: 'plain', n: 7, nil: null,
    };
    const back = await s.timeout(10_000).emitWithAck('echo', payload);
    const top = await s.timeout(10_000).emitWithAck('echo', bytes(16, 6));
    const empty = await s.timeout(10_000).emitWithAck('echo', new ArrayBuffer(0));
    return {
      buf: same(back.buf, bytes(10, 1)),
      list0: same(back.list[0], bytes(3, 2)),
      deep: same(back.list[1].deep, bytes(100, 3).subarray(10, 20)),
      view: same(back.list[2], bytes(4, 5)),
      blob: same(back.blob, bytes(5, 4)),
      big: same(back.big, big),
      rest: [back.text, back.n, back.nil],
      top: same(top, bytes(16, 6)),
      empty: empty instanceof ArrayBuffer && empty.byteLength === 0,
      payloadUntouched: payload.list[0] instanceof Uint8Array,
    };
  });
}

const allBinaryOk = {
  buf: true, list0: true, deep: true, view: true, blob: true, big: true,
  rest: ['plain', 7, null], top: true, empty: true, payloadUntouched: true,
};

test('binary round trip through echo over WebSocket (ArrayBuffer, typed arrays, Blob)', T, async () => {
  const { page } = await clientPage();
  assert.equal((await connect(page)).transport, 'websocket');
  assert.deepEqual(await echoBinary(page), allBinaryOk);
});

test('long-polling only: connect, acks, binary, broadcasts', T, async () => {
  const { page, username } = await clientPage();
  const info = await connect(page, { transports: ['polling'] });
  assert.equal(info.transport, 'polling');
  assert.deepEqual(await echoBinary(page), allBinaryOk);
  const got = await page.evaluate(async () => {
    const msg = first(s, ['message']);
    const ack = await s.emitWithAck('sendMessage', { message: 'over polling' });
    return { ack, msg: (await msg).arg, ws: wsOpened.length };
  });
  assert.deepEqual(got.ack, { success: true });
  assert.equal(got.msg.message, 'over polling');
  assert.equal(got.msg.username, username);
  assert.equal(got.ws, 0, 'no WebSocket was tried');
});

test('falls back to long-polling when the WebSocket is refused', T, async () => {
  const { page } = await clientPage({ breakWebSocket: true });
  const info = await connect(page);
  assert.equal(info.transport, 'polling');
  assert.equal(await page.evaluate(() => wsOpened.length), 1, 'WebSocket was tried first');
  assert.deepEqual(await echoBinary(page), allBinaryOk);
});

test('a refused handshake gives connect_error with the server\'s message, and no retry', T, async () => {
  const { page } = await clientPage({ login: false });
  const r = await page.evaluate(async () => {
    let attempts = 0;
    window.s = io({ withCredentials: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    s.io.on('reconnect_attempt', () => attempts++);
    const err = await new Promise((resolve) => s.once('connect_error', resolve));
    await sleep(600);
    return { message: err.message, isError: err instanceof Error, attempts, connected: s.connected, active: s.active };
  });
  assert.deepEqual(r, { message: 'Authentication required', isError: true, attempts: 0, connected: false, active: false });
});

test('disconnect reasons: io client disconnect, and io server disconnect on logout', T, async () => {
  const { page } = await clientPage();
  await connect(page);
  const client = await page.evaluate(async () => {
    const gone = first(s, ['disconnect']);
    s.disconnect();
    const r = await gone;
    await sleep(300);
    return { reason: r.arg, connected: s.connected, active: s.active, engine: !!s.io.engine && s.io.engine.state };
  });
  assert.deepEqual(client, { reason: 'io client disconnect', connected: false, active: false, engine: 'closed' });
  await connect(page);
  const server = await page.evaluate(async () => {
    let attempts = 0;
    s.io.on('reconnect_attempt', () => attempts++);
    const gone = first(s, ['disconnect']);
    await fetch('/api/logout', { method: 'POST', credentials: 'include' });
    const r = await gone;
    await sleep(1500);
    return { reason: r.arg, attempts, active: s.active };
  });
  assert.deepEqual(server, { reason: 'io server disconnect', attempts: 0, active: false });
});

test('interoperates with the official socket.io-client 4.8 (Node) both ways', T, async () => {
  const { page, username } = await clientPage();
  await connect(page);
  const name = uniqueName('o');
  const post = (path) => fetch(env.server.url + path, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: name, password: 'correct horse battery' }),
  });
  assert.equal((await post('/api/register')).status, 201);
  const login = await post('/api/login');
  assert.equal(login.status, 200);
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const official = officialIo(env.server.url, { extraHeaders: { cookie }, transports: ['websocket'], reconnection: false });
  try {
    await new Promise((resolve, reject) => { official.once('connect', resolve); official.once('connect_error', reject); });
    await page.evaluate(() => { window.seen = first(s, ['message']); });
    assert.deepEqual(await official.timeout(5000).emitWithAck('sendMessage', { message: 'from official' }), { success: true });
    const m = await page.evaluate(() => seen.then((r) => r.arg));
    assert.deepEqual([m.username, m.message], [name, 'from official']);

    const seenByOfficial = new Promise((resolve) => official.once('message', resolve));
    await page.evaluate(() => s.emitWithAck('sendMessage', { message: 'from compact' }));
    const n = await seenByOfficial;
    assert.deepEqual([n.username, n.message], [username, 'from compact']);
  } finally {
    official.disconnect();
  }
});

test('reconnects with backoff after the server restarts', T, async (t) => {
  if (!env.server.canRestart) {
    t.skip('the server cannot be restarted by the test: set SESSIO_BIN or SESSIO_NODE_DIR (or SESSIO_RESTART_CMD with SESSIO_URL)');
    return;
  }
  const { page, username } = await clientPage();
  await connect(page, { reconnectionDelay: 200, reconnectionDelayMax: 1000 });
  await page.evaluate(() => {
    window.log = [];
    s.on('disconnect', (reason) => log.push('disconnect:' + reason));
    s.io.on('reconnect_attempt', (n) => log.push('attempt:' + n));
    s.on('connect_error', (e) => log.push('connect_error:' + e.message));
    s.on('connect', () => log.push('connect'));
  });
  await env.server.restart();
  // The outcome: connected again, or the new handshake refused (a server that forgot the session).
  const outcome = await page.waitForFunction(
    () => log.find((e) => e === 'connect' || e === 'connect_error:Authentication required'), null, { timeout: 20_000 },
  ).then((h) => h.jsonValue(), async () => `nothing: ${(await page.evaluate(() => log)).join(' ')}`);
  let log = await page.evaluate(() => log);
  assert.equal(log[0], 'disconnect:transport close', log.join(' '));
  assert.ok(log.includes('attempt:1'), log.join(' '));
  assert.notEqual(outcome.slice(0, 8), 'nothing:', outcome);
  if (outcome !== 'connect') {
    // A server that keeps sessions in memory (the Node reference) forgot ours: that is the
    // server's answer to a new handshake, so the client did reconnect. Log in and go on
    // (it forgot the user too, so this registers again).
    assert.equal(env.server.persistsSessions, false, `reconnect refused: ${outcome}`);
    assert.equal((await loginInPage(page, username)).login, 200);
    await page.evaluate(() => { s.connect(); return first(s, ['connect']); });
  }
  log = await page.evaluate(() => log);
  assert.equal(log.at(-1), 'connect', log.join(' '));
  const ack = await page.evaluate(() => s.emitWithAck('getUserInfo'));
  assert.equal(ack.username, username);
});
