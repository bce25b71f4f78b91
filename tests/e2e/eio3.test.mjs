// Engine.IO 3 / Socket.IO protocol 4 clients (issue 11, item 3) against the app server
// started with --allow-eio3: the independent socket.io-client 2.5.0 from npm over
// polling, WebSocket and the upgrade, logged in with the session cookie; raw clients that
// check the framing byte by byte; a client that behaves like the Arduino
// arduinoWebSockets SocketIOclient (`2probe` and `5` back to back); and, without the
// flag, the reference server's refusal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import ioV2 from 'socket.io-client-v2';
import WebSocket from 'ws';
import { APP, TESTBED, startServer, startSharedServer } from './harness.mjs';
import { CookieJar, http, once, sleep, uniqueName } from './clients.mjs';

const skip = APP.available ? false : APP.missing;

// Under Node, socket.io-client 2 polls with `b64=1` (its XMLHttpRequest takes no
// binary), so binary polling payloads are checked with the raw client below.
const V2_MODES = {
    polling: { transports: ['polling'] },
    websocket: { transports: ['websocket'] },
    upgrade: { transports: ['polling', 'websocket'] },
};

async function loggedIn(url) {
    const user = { username: uniqueName('v3'), password: 'password-v3-test' };
    const reg = await http(url, '/api/register', { method: 'POST', body: user });
    assert.equal(reg.status, 201, reg.text);
    const jar = new CookieJar();
    const res = await http(url, '/api/login', { method: 'POST', body: user, jar });
    assert.equal(res.status, 200, res.text);
    return { user, jar };
}

/** A socket.io-client 2 socket; `events` records every event it gets, in order. */
function v2Socket(t, url, { cookie, ...opts }) {
    const socket = ioV2(url, {
        forceNew: true,
        reconnection: false,
        timeout: 5000,
        extraHeaders: cookie ? { cookie } : {},
        ...opts,
    });
    t.after(() => socket.close());
    socket.events = [];
    const onevent = socket.onevent;
    socket.onevent = function (packet) {
        socket.events.push(packet.data);
        onevent.call(this, packet);
    };
    return socket;
}

async function v2Connect(t, url, opts) {
    const socket = v2Socket(t, url, opts);
    await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no connect within 10 s')), 10000);
        socket.once('connect', () => { clearTimeout(timer); resolve(); });
        socket.once('error', (err) => { clearTimeout(timer); reject(new Error(`error: ${JSON.stringify(err)}`)); });
        socket.once('connect_error', (err) => { clearTimeout(timer); reject(err); });
    });
    return socket;
}

function ack(socket, ...args) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ack for ${args[0]}`)), 5000);
        socket.emit(...args, (...answer) => { clearTimeout(timer); resolve(answer); });
    });
}

async function nextEvent(socket, name, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const i = socket.events.findIndex((e) => e[0] === name);
        if (i >= 0) return socket.events.splice(i, 1)[0].slice(1);
        if (Date.now() > deadline) throw new Error(`no "${name}" within ${ms} ms`);
        await sleep(10);
    }
}

// ---- Engine.IO 3 payload framing, as engine.io-parser 2.x does it --------------------

/** Decodes a text payload (`len:packet`, len in UTF-16 units as JavaScript counts). */
function decodeTextPayload(text) {
    const packets = [];
    let i = 0;
    while (i < text.length) {
        const colon = text.indexOf(':', i);
        assert.ok(colon > i, `no length at ${i} in ${JSON.stringify(text)}`);
        const n = Number(text.slice(i, colon));
        const packet = text.slice(colon + 1, colon + 1 + n);
        assert.equal(packet.length, n, `short packet in ${JSON.stringify(text)}`);
        packets.push(packet.startsWith('b4') ? Buffer.from(packet.slice(2), 'base64') : packet);
        i = colon + 1 + n;
    }
    return packets;
}

const encodeTextPayload = (packets) => packets.map((p) => `${p.length}:${p}`).join('');

/** Decodes a binary payload: strings, and Buffers (without their type byte 4). */
function decodeBinaryPayload(buf) {
    const packets = [];
    let i = 0;
    while (i < buf.length) {
        const isString = buf[i] === 0;
        let len = '';
        for (i += 1; buf[i] !== 255; i++) len += String(buf[i]);
        const body = buf.subarray(i + 1, i + 1 + Number(len));
        i += 1 + Number(len);
        if (isString) packets.push(body.toString('utf8'));
        else {
            assert.equal(body[0], 4, 'a binary packet is a message');
            packets.push(Buffer.from(body.subarray(1)));
        }
    }
    return packets;
}

function encodeBinaryPayload(packets) {
    const parts = [];
    for (const p of packets) {
        const body = typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.concat([Buffer.from([4]), p]);
        const digits = [...String(body.length)].map(Number);
        parts.push(Buffer.from([typeof p === 'string' ? 0 : 1, ...digits, 255]), body);
    }
    return Buffer.concat(parts);
}

/** A raw Engine.IO 3 polling client. */
class RawPolling {
    constructor(url, cookie, query = '') {
        this.base = `${url}/socket.io/?EIO=3&transport=polling${query}`;
        this.cookie = cookie;
    }

    async request(method, body, contentType) {
        const headers = { cookie: this.cookie };
        if (contentType) headers['content-type'] = contentType;
        const sid = this.sid ? `&sid=${this.sid}` : '';
        const res = await fetch(`${this.base}${sid}&t=${Date.now()}`, { method, headers, body });
        const type = res.headers.get('content-type') || '';
        const buf = Buffer.from(await res.arrayBuffer());
        assert.equal(res.status, 200, `${method}: ${res.status} ${buf}`);
        if (method === 'POST') return buf.toString();
        return type.startsWith('application/octet-stream') ? decodeBinaryPayload(buf) : decodeTextPayload(buf.toString());
    }

    async handshake() {
        const [open] = await this.request('GET');
        assert.equal(open[0], '0');
        this.handshakeData = JSON.parse(open.slice(1));
        this.sid = this.handshakeData.sid;
        return this.handshakeData;
    }

    get() {
        return this.request('GET');
    }

    postText(packets) {
        return this.request('POST', encodeTextPayload(packets), 'text/plain;charset=UTF-8');
    }

    postBinary(packets) {
        return this.request('POST', encodeBinaryPayload(packets), 'application/octet-stream');
    }
}

/** A raw WebSocket that keeps every message it gets, in order. */
function rawWs(t, url, cookie) {
    const ws = new WebSocket(url.replace('http', 'ws'), { headers: cookie ? { cookie } : {} });
    t.after(() => ws.terminate());
    ws.inbox = [];
    ws.waiters = [];
    ws.on('message', (data, isBinary) => {
        const m = isBinary ? Buffer.from(data) : data.toString();
        const w = ws.waiters.shift();
        if (w) w(m);
        else ws.inbox.push(m);
    });
    ws.next = (ms = 5000) => {
        if (ws.inbox.length) return Promise.resolve(ws.inbox.shift());
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
            ws.waiters.push((m) => { clearTimeout(timer); resolve(m); });
        });
    };
    return ws;
}

/** The next WebSocket message that is not a noop. */
async function nextNotNoop(ws) {
    for (;;) {
        const m = await ws.next();
        if (m !== '6') return m;
    }
}

describe('Engine.IO 3 clients with --allow-eio3', { skip }, () => {
    let server;
    let url;
    before(async () => {
        server = await startSharedServer(APP, { flags: { allowEio3: true, pingInterval: 400, pingTimeout: 300 } });
        url = server.url;
    });
    after(() => server?.dispose());

    for (const [mode, transport] of Object.entries(V2_MODES)) {
        test(`socket.io-client 2 over ${mode}: session cookie, events, acks, binary`, async (t) => {
            const { user, jar } = await loggedIn(url);
            const socket = await v2Connect(t, url, { cookie: jar.header(), ...transport });
            const [welcome] = await nextEvent(socket, 'connected');
            assert.equal(welcome.message, `Welcome ${user.username}!`);
            // Characters outside the BMP count as two units in a v3 text payload.
            const data = { text: 'héllo 😀 wörld', n: [1, 2, 3] };
            const [reply] = await ack(socket, 'requestData', data);
            assert.equal(reply.success, true);
            assert.equal(reply.message, `Hello ${user.username}!`);
            assert.deepEqual(reply.data, data);
            assert.deepEqual((await nextEvent(socket, 'response'))[0], reply);
            const [info] = await ack(socket, 'getUserInfo');
            assert.equal(info.username, user.username);
            // Binary attachments, both ways.
            const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
            const [echoed] = await ack(socket, 'echo', { label: 'bin', bytes, nested: [bytes] });
            assert.equal(echoed.label, 'bin');
            assert.deepEqual(Buffer.from(echoed.bytes), bytes);
            assert.deepEqual(Buffer.from(echoed.nested[0]), bytes);
            // The session is the cookie's: the count is the one /api/me shows.
            const [count] = await ack(socket, 'updateCount');
            assert.deepEqual(count, { count: 1 });
            const me = await http(url, '/api/me', { jar });
            assert.equal(me.json.count, 1);
            if (mode === 'upgrade') {
                await sleep(300);
                assert.equal(socket.io.engine.transport.name, 'websocket');
            }
            // The client pings (every 400 ms here); the session outlives several windows.
            await sleep(1500);
            assert.ok(socket.connected, 'the server closed a client that pinged');
            const [again] = await ack(socket, 'echo', 'still here');
            assert.equal(again, 'still here');
        });
    }

    test('socket.io-client 2 broadcasts reach a socket.io-client 2 and a logout disconnects', async (t) => {
        const a = await loggedIn(url);
        const b = await loggedIn(url);
        const sa = await v2Connect(t, url, { cookie: a.jar.header(), transports: ['websocket'] });
        const sb = await v2Connect(t, url, { cookie: b.jar.header(), transports: ['polling'] });
        const [sent] = await ack(sa, 'sendMessage', { message: 'from a v2 client' });
        assert.deepEqual(sent, { success: true });
        const [msg] = await nextEvent(sb, 'message');
        assert.equal(msg.username, a.user.username);
        assert.equal(msg.message, 'from a v2 client');
        const gone = once(sa, 'disconnect', 5000);
        await http(url, '/api/logout', { method: 'POST', jar: a.jar });
        await gone;
    });

    test('socket.io-client 2 without a session gets the refusal as a plain string', async (t) => {
        for (const transports of [['polling'], ['websocket']]) {
            const socket = v2Socket(t, url, { transports });
            const [error] = await once(socket, 'error', 5000);
            assert.equal(error, 'Authentication required');
            assert.equal(socket.connected, false);
        }
    });

    test('raw polling: the handshake, length-prefixed text and UTF-16 lengths', async () => {
        const { jar } = await loggedIn(url);
        const client = new RawPolling(url, jar.header(), '&b64=1');
        const hs = await client.handshake();
        assert.deepEqual(hs.upgrades, ['websocket']);
        assert.equal(hs.pingInterval, 400);
        assert.equal(hs.pingTimeout, 300);
        // The default namespace is joined at once: CONNECT without data, then the app's event.
        const first = await client.get();
        assert.equal(first[0], '40');
        const rest = first.length > 1 ? first.slice(1) : await client.get();
        assert.match(rest[0], /^42\["connected",/);
        // Ping, and an event whose argument is counted in UTF-16 units.
        assert.equal(await client.postText(['2', '421["echo","😀é"]']), 'ok');
        const answers = [];
        while (answers.length < 2) answers.push(...(await client.get()));
        assert.deepEqual(answers.sort(), ['3', '431["😀é"]']);
    });

    test('raw polling: binary payloads both ways, and b4 base64 with b64=1', async () => {
        const { jar } = await loggedIn(url);
        const bytes = Buffer.from([9, 8, 7, 0, 255]);
        const binary = new RawPolling(url, jar.header());
        await binary.handshake();
        await binary.get(); // 40 (and maybe the connected event)
        const post = await binary.postBinary(['451-7["echo",{"_placeholder":true,"num":0}]', bytes]);
        assert.equal(post, 'ok');
        let got = [];
        while (!got.some((p) => Buffer.isBuffer(p))) got.push(...(await binary.get()));
        got = got.filter((p) => !(typeof p === 'string' && p.startsWith('42')));
        assert.deepEqual(got, ['461-7[{"_placeholder":true,"num":0}]', bytes]);

        const text = new RawPolling(url, jar.header(), '&b64=1');
        await text.handshake();
        await text.get();
        await text.postText(['451-8["echo",{"_placeholder":true,"num":0}]', `b4${bytes.toString('base64')}`]);
        got = [];
        while (!got.some((p) => Buffer.isBuffer(p))) got.push(...(await text.get()));
        got = got.filter((p) => !(typeof p === 'string' && p.startsWith('42')));
        assert.deepEqual(got, ['461-8[{"_placeholder":true,"num":0}]', bytes]);
    });

    test('an Arduino-like client: polling handshake, then 2probe and 5 back to back', async (t) => {
        const { user, jar } = await loggedIn(url);
        const client = new RawPolling(url, jar.header(), '&b64=1');
        const { sid } = await client.handshake();
        // Like arduinoWebSockets: no further GET; the WebSocket, then both packets at once.
        const ws = rawWs(t, `${url}/socket.io/?EIO=3&transport=websocket&sid=${sid}`);
        await once(ws, 'open');
        ws.send('2probe');
        ws.send('5');
        assert.equal(await ws.next(), '3probe');
        assert.equal(await nextNotNoop(ws), '40');
        const connected = JSON.parse((await nextNotNoop(ws)).slice(2));
        assert.deepEqual(connected[0], 'connected');
        assert.equal(connected[1].message, `Welcome ${user.username}!`);
        ws.send('2');
        assert.equal(await nextNotNoop(ws), '3');
        ws.send('421["getUserInfo"]');
        const answers = [await nextNotNoop(ws), await nextNotNoop(ws)].sort();
        assert.match(answers[0], /^42\["userInfo",/);
        assert.equal(JSON.parse(answers[1].slice(3))[0].username, user.username);
        // Binary over the WebSocket carries its type byte, both ways.
        ws.send('451-2["echo",{"_placeholder":true,"num":0}]');
        ws.send(Buffer.from([4, 1, 2, 3]));
        assert.equal(await nextNotNoop(ws), '461-2[{"_placeholder":true,"num":0}]');
        assert.deepEqual(await nextNotNoop(ws), Buffer.from([4, 1, 2, 3]));
    });

    test('a WebSocket with no polling first: open, then / joined; 2probe is a ping', async (t) => {
        const { jar } = await loggedIn(url);
        const ws = rawWs(t, `${url}/socket.io/?EIO=3&transport=websocket`, jar.header());
        const open = await ws.next();
        assert.equal(open[0], '0', `first message ${open}`);
        assert.deepEqual(JSON.parse(open.slice(1)).upgrades, []);
        assert.equal(await ws.next(), '40');
        ws.send('2probe');
        ws.send('5');
        assert.match(await ws.next(), /^42\["connected",/);
        assert.equal(await ws.next(), '3');
    });

    test('a client that stops pinging is closed after pingInterval + pingTimeout', async (t) => {
        const { jar } = await loggedIn(url);
        // Before the handshake, so the session's window starts after this.
        const started = Date.now();
        const ws = rawWs(t, `${url}/socket.io/?EIO=3&transport=websocket`, jar.header());
        const closed = once(ws, 'close', 5000);
        await ws.next();
        // The server never pings a v3 client: nothing but the connect and the welcome.
        const [code] = await closed;
        const lived = Date.now() - started;
        assert.ok(lived >= 695 && lived < 1500, `closed after ${lived} ms (window 700 ms)`);
        assert.ok(ws.inbox.every((m) => !m.startsWith('2')), `server pinged: ${ws.inbox}`);
        assert.ok(code >= 1000);
    });
});

describe('Socket.IO protocol 4 namespaces (testbed --allow-eio3)', { skip: TESTBED.available ? false : TESTBED.missing }, () => {
    let server;
    before(async () => {
        server = await startSharedServer(TESTBED, { flags: { allowEio3: true } });
    });
    after(() => server?.dispose());

    test('a direct WebSocket gets the open packet before the CONNECT of /', async (t) => {
        // The testbed's / has no middleware: it is joined while the session opens.
        const ws = rawWs(t, `${server.url}/socket.io/?EIO=3&transport=websocket`);
        const open = await ws.next();
        assert.equal(open[0], '0', `first message ${open}`);
        const { sid } = JSON.parse(open.slice(1));
        assert.equal(await ws.next(), '40');
        assert.deepEqual(JSON.parse((await ws.next()).slice(2)), ['hello', { id: sid }]);
    });

    for (const transports of [['polling'], ['websocket']]) {
        test(`socket.io-client 2 (${transports}): ids from the session's, auth from the namespace's query`, async (t) => {
            const root = await v2Connect(t, server.url, { transports });
            const [hello] = await nextEvent(root, 'hello');
            assert.equal(hello.id, root.io.engine.id);
            assert.equal(root.id, root.io.engine.id);
            const priv = await v2Connect(t, `${server.url}/private`, { transports, query: { token: 'letmein' } });
            const [privHello] = await nextEvent(priv, 'hello');
            assert.deepEqual(privHello, { ns: '/private', auth: { token: 'letmein' } });
            const denied = v2Socket(t, `${server.url}/private`, { transports, query: { token: 'nope' } });
            const [error] = await once(denied, 'error', 5000);
            assert.equal(error, 'bad token');
            const [missing] = await once(v2Socket(t, `${server.url}/nowhere`, { transports }), 'error', 5000);
            assert.deepEqual(missing, { message: 'Invalid namespace' });
        });
    }
});

describe('Engine.IO 3 clients without --allow-eio3', { skip }, () => {
    test('are refused as the reference server refuses them', async (t) => {
        const server = await startServer(t, APP);
        if (!server) return;
        const { jar } = await loggedIn(server.url);
        const res = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`, { headers: { cookie: jar.header() } });
        assert.equal(res.status, 400);
        assert.deepEqual(await res.json(), { code: 5, message: 'Unsupported protocol version' });
        const socket = v2Socket(t, server.url, { cookie: jar.header(), transports: ['polling'] });
        await once(socket, 'connect_error', 5000);
        assert.equal(socket.connected, false);
    });
});
