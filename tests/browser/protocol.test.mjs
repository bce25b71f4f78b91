// The compact client's side of the protocol that the app server never exercises, checked
// against a scripted Engine.IO/Socket.IO peer (playwright's routeWebSocket) speaking the
// wire format: heartbeats and ping timeout, acks the server asks for (plain and binary),
// the auth payload, and connect_error data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, useCompactClient } from './browser.mjs';

const T = { timeout: 30_000 };
const env = serverAndBrowser();

const open = (pingInterval, pingTimeout) =>
  '0' + JSON.stringify({ sid: 'e1', upgrades: [], pingInterval, pingTimeout, maxPayload: 1e6 });

// A page whose WebSockets to /socket.io/ reach `script(ws, onMessage)` instead of the
// server; `frames` records what the client sent (binary frames as arrays of bytes).
async function scriptedPage(script) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await useCompactClient(page);
  const frames = [];
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const handlers = [];
    ws.onMessage((m) => {
      frames.push(typeof m === 'string' ? m : [...m]);
      for (const h of handlers) h(m);
    });
    script(ws, (h) => handlers.push(h));
  });
  await page.goto(env.server.url + '/');
  return { page, frames, context };
}

const until = async (check, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('answers pings with pongs and stays connected', T, async () => {
  const { page, frames, context } = await scriptedPage((ws, onMessage) => {
    ws.send(open(200, 200));
    onMessage((m) => { if (m === '40') ws.send('40{"sid":"s1"}'); });
    let n = 0;
    const timer = setInterval(() => { if (n++ < 8) ws.send('2'); else clearInterval(timer); }, 150);
  });
  const r = await page.evaluate(async () => {
    const s = io({ reconnection: false });
    const reasons = [];
    s.on('disconnect', (why) => reasons.push(why));
    await new Promise((res) => s.once('connect', res));
    await new Promise((res) => setTimeout(res, 1000)); // 2.5 ping windows
    return { connected: s.connected, reasons, id: s.id };
  });
  assert.deepEqual(r, { connected: true, reasons: [], id: 's1' });
  assert.ok(frames.filter((f) => f === '3').length >= 5, frames.join(' '));
  await context.close();
});

test('closes with "ping timeout" when the server stops pinging, then reconnects', T, async () => {
  const lives = []; // per connection: when the open packet was sent, when the client closed
  const { page, context } = await scriptedPage((ws, onMessage) => {
    const life = { opened: Date.now() };
    lives.push(life);
    ws.onClose(() => { life.closed = Date.now(); });
    ws.send(open(400, 200));
    onMessage((m) => { if (m === '40') ws.send(`40{"sid":"s${lives.length}"}`); });
  });
  const r = await page.evaluate(async () => {
    const s = io({ reconnectionDelay: 50, reconnectionDelayMax: 100 });
    await new Promise((res) => s.once('connect', res));
    const reason = await new Promise((res) => s.once('disconnect', res));
    await new Promise((res) => s.once('connect', res));
    const id = s.id;
    s.disconnect();
    return { reason, id };
  });
  assert.deepEqual(r, { reason: 'ping timeout', id: 's2' });
  // the client waited pingInterval + pingTimeout after the open packet, and not much longer
  const lived = lives[0].closed - lives[0].opened;
  assert.ok(lived >= 600 && lived < 5000, `${lived} ms`);
  await context.close();
});

test('acks events the server sends with an ack id, plain and binary', T, async () => {
  const { page, frames, context } = await scriptedPage((ws, onMessage) => {
    ws.send(open(25000, 20000));
    onMessage((m) => {
      if (m !== '40') return;
      ws.send('40{"sid":"s1"}');
      ws.send('427["question",{"n":41}]'); // Engine.IO message (4) + EVENT (2) with ack id 7
      ws.send('451-8["bytes",{"_placeholder":true,"num":0}]'); // BINARY_EVENT, 1 attachment
      ws.send(Buffer.from([1, 2, 3]));
    });
  });
  await page.evaluate(() => {
    const s = io({ reconnection: false });
    s.on('question', (q, ack) => { ack({ answer: q.n + 1 }); ack('only once'); });
    s.on('bytes', (buf, ack) => ack(buf instanceof ArrayBuffer, new Uint8Array(buf).reverse()));
  });
  await until(() => frames.length >= 4).catch(() => assert.fail(JSON.stringify(frames)));
  assert.deepEqual(frames.slice(0, 4), [
    '40',
    '437[{"answer":42}]',
    '461-8[true,{"_placeholder":true,"num":0}]',
    [3, 2, 1],
  ]);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(frames.length, 4, 'an ack is sent once');
  await context.close();
});

test('sends auth (object or function) in CONNECT; connect_error carries message and data', T, async () => {
  const { page, frames, context } = await scriptedPage((ws, onMessage) => {
    ws.send(open(25000, 20000));
    onMessage((m) => {
      if (m.startsWith('40')) ws.send('44{"message":"Not allowed","data":{"code":42}}');
    });
  });
  const r = await page.evaluate(async () => {
    const errors = [];
    for (const auth of [{ token: 'abc' }, (cb) => cb({ token: 'from-fn' })]) {
      const s = io({ auth, path: '/socket.io' });
      const e = await new Promise((res) => s.once('connect_error', res));
      errors.push({ message: e.message, data: e.data, active: s.active });
    }
    return errors;
  });
  assert.deepEqual(r, [
    { message: 'Not allowed', data: { code: 42 }, active: false },
    { message: 'Not allowed', data: { code: 42 }, active: false },
  ]);
  assert.deepEqual(frames.filter((f) => typeof f === 'string' && f.startsWith('40')),
    ['40{"token":"abc"}', '40{"token":"from-fn"}']);
  await context.close();
});
