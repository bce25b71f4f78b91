// What the HTTP front does with hostile or unusual input: header bytes outside ASCII,
// chunked bodies cut anywhere, heads that never end, bodies that stall, more connections
// than an address may hold, Connection: close and HTTP/1.0. After each, the same server
// process still serves a logged-in user.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { APP, startServer, startSharedServer } from './harness.mjs';
import { CookieJar, http, raw, sleep, uniqueName, waitFor } from './clients.mjs';

const skip = !APP.available ? APP.missing
    : APP.kind === 'template' && APP.reference ? 'the Node seed reference is not hardened' : false;

/** Opens a connection and resolves once connected. */
function open(port) {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
    });
}

const statusOf = (reply) => reply.match(/^HTTP\/1\.1 (\d{3}) /)?.[1];

/** Registers and logs in a new user: the cookie header of their session. */
async function loggedIn(url) {
    const user = { username: uniqueName('h'), password: 'a-long-password' };
    assert.equal((await http(url, '/api/register', { method: 'POST', body: user })).status, 201);
    const jar = new CookieJar();
    assert.equal((await http(url, '/api/login', { method: 'POST', body: user, jar })).status, 200);
    return jar.header();
}

describe('HTTP front under hostile input (app server)', { skip }, () => {
    let server;
    let cookie;
    before(async () => {
        server = await startSharedServer(APP);
        cookie = await loggedIn(server.url);
    });
    after(async () => { await server?.dispose(); });

    /** The server process is the same and still answers the logged-in user. */
    async function stillServing() {
        assert.ok(server.child && server.child.exitCode === null, `the server exited:\n${server.output}`);
        const me = await raw(server.port, `GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(me), '200', me);
    }

    test('cookies with bytes outside ASCII: the page is served and the session still read', async () => {
        for (const bad of ['x=\xc3\xbf', 'x=\xff', 'caf\xe9=1']) {
            const page = await raw(server.port, `GET / HTTP/1.1\r\nHost: x\r\nCookie: ${bad}\r\nConnection: close\r\n\r\n`);
            assert.equal(statusOf(page), '200', `${JSON.stringify(bad)}: ${page.slice(0, 80)}`);
            const me = await raw(server.port,
                `GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: ${bad}; ${cookie}\r\nConnection: close\r\n\r\n`);
            assert.equal(statusOf(me), '200', me.slice(0, 200));
        }
        // A session cookie that cannot be read is no session: 401 JSON.
        const broken = cookie.replace(/=(.)/, '=\xff$1');
        const me = await raw(server.port, `GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: ${broken}\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(me), '401');
        assert.match(me, /"success":false/);
        await stillServing();
    });

    test('a repeated header whose second copy has high bytes, and other headers with them', async () => {
        const reply = await raw(server.port,
            `GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\nCookie: c=\xc3\xbf\r\nUser-Agent: \xff\xfe\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(reply), '200', reply.slice(0, 200));
        await stillServing();
    });

    test('chunked bodies: trailers with high bytes, split final CRLF, one byte at a time', async () => {
        const body = '{"username":"nobody","password":"wrong-password"}';
        const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n`;
        const head = 'POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
        const withTrailer = await raw(server.port, `${head}${chunked}X: \xff\r\n\r\n`);
        assert.equal(statusOf(withTrailer), '401', withTrailer.slice(0, 100));
        const split = await raw(server.port, [head + chunked + '\r', '\n']);
        assert.equal(statusOf(split), '401', split.slice(0, 100));
        const bytes = [...(head + chunked + '\r\n')];
        const slow = await raw(server.port, bytes, 1000, { pauseMs: 1 });
        assert.equal(statusOf(slow), '401', slow.slice(0, 100));
        await stillServing();
    });

    test('a chunked request of exactly 8,193 bytes in one write is answered', async () => {
        const head = 'POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
        const json = (pad) => `{"username":"nobody","password":"wrong-password","pad":"${'p'.repeat(pad)}"}`;
        const request = (pad) => `${head}${json(pad).length.toString(16)}\r\n${json(pad)}\r\n0\r\n\r\n`;
        let pad = 8193;
        while (request(pad).length > 8193) pad -= 1;
        assert.equal(request(pad).length, 8193);
        const reply = await raw(server.port, request(pad));
        assert.equal(statusOf(reply), '401', reply.slice(0, 100));
        await stillServing();
    });

    test('a head that never ends is refused at 16 KiB and closed, not read to its end', async () => {
        const socket = await open(server.port);
        const reply = [];
        socket.on('data', (d) => reply.push(d));
        const closed = new Promise((resolve) => socket.on('close', resolve));
        socket.on('error', () => {});
        // 32 MiB without a line feed, and the client never ends it: the server
        // answers 431 after 16 KiB and closes.
        for (let sent = 0; sent < 32 << 20 && !socket.destroyed; sent += 256 * 1024) {
            if (!socket.write(Buffer.alloc(256 * 1024, 'a'))) {
                await new Promise((r) => { socket.once('drain', r); socket.once('close', r); });
            }
        }
        const timeout = sleep(10000).then(() => 'still open');
        assert.notEqual(await Promise.race([closed, timeout]), 'still open', 'the server kept reading');
        assert.equal(statusOf(Buffer.concat(reply).toString('latin1')), '431');
        await stillServing();
    });

    test('Connection: close is said in the response, and the connection ends', async () => {
        const reply = await raw(server.port, 'GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 5000);
        assert.match(reply, /^HTTP\/1\.1 401 /);
        assert.match(reply.split('\r\n\r\n')[0], /\r\nconnection: close/i);
    });

    test('HTTP/1.0 requests are answered, closed by default and kept open when asked', async () => {
        const once = await raw(server.port, 'GET /api/me HTTP/1.0\r\n\r\n', 5000);
        assert.equal(statusOf(once), '401');
        assert.match(once, /\r\nconnection: close/i);
        assert.match(once, /\r\ncontent-length: \d+/i, 'a length, never chunked');
        const kept = await raw(server.port,
            'GET /api/me HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /style.css HTTP/1.0\r\n\r\n', 1000);
        assert.deepEqual([...kept.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]), ['401', '200']);
        assert.match(kept, /\r\nconnection: keep-alive/i);
    });

    test('unfinished chunked trailers, left by closing clients, do not keep their connections', async () => {
        for (let i = 0; i < 200; i++) {
            const socket = await open(server.port);
            socket.on('error', () => {});
            socket.end('POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a');
        }
        await sleep(200);
        // The server holds none of them: no connection of its port is left in CLOSE_WAIT.
        await waitFor(() => closeWaits(server.port) === 0, 5000, 'connections in CLOSE_WAIT to go');
        await stillServing();
    });
});

/** Connections in CLOSE_WAIT on the server's side of `port` (from /proc/net/tcp). */
function closeWaits(port) {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    let count = 0;
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
        let text = '';
        try { text = readFileSync(file, 'utf8'); } catch { continue; }
        for (const line of text.split('\n').slice(1)) {
            const fields = line.trim().split(/\s+/);
            if (fields.length > 3 && fields[1].endsWith(`:${hex}`) && fields[3] === '08') count += 1;
        }
    }
    return count;
}

describe('HTTP limits that need their own server (app server)', { skip }, () => {
    test('a stalled body is answered 408 and closed at the request timeout', async (t) => {
        const server = await startServer(t, APP, { flags: { requestTimeout: 500 } });
        if (!server) return;
        const started = Date.now();
        const reply = await raw(server.port, 'POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{', 5000);
        assert.equal(statusOf(reply), '408');
        assert.ok(Date.now() - started < 4000, 'closed near the timeout');
    });

    test('one address may hold only so many connections; the others are not affected', async (t) => {
        const server = await startServer(t, APP, { flags: { maxConnectionsPerAddress: 5 } });
        if (!server) return;
        const held = [];
        for (let i = 0; i < 5; i++) held.push(await open(server.port));
        const sixth = await raw(server.port, 'GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n', 2000).catch((e) => e.code);
        assert.ok(sixth === '' || sixth === 'ECONNRESET', `the sixth connection is closed unanswered: ${sixth}`);
        await waitFor(() => /connections open, the most allowed/.test(server.output), 2000, 'the refusal to be logged');
        held.pop().destroy();
        await sleep(100);
        const again = await raw(server.port, 'GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 2000);
        assert.equal(statusOf(again), '401');
        for (const s of held) s.destroy();
    });
});
