// Malformed traffic against the real app server: a seeded generator of broken HTTP heads
// and bodies, Engine.IO polling payloads, WebSocket frames, Socket.IO packets, cookies,
// paths and query strings. Each case must end with an answer or a close within a short
// time (every case half-closes its side when it has sent everything); afterwards the
// process is the same one (same pid, alive) and an honest client registers, logs in,
// connects with socket.io-client and gets its echo acknowledged.
//
//   MALFORMED_SEED=1234      repeat a run (the seed is printed at the start and on failure)
//   MALFORMED_CASES=3000     how many cases (default 3000)
//   MALFORMED_PARALLEL=16    cases in flight at once (1 pins a crash to its case)
//   MALFORMED_SKIP=high-bytes,chunked  leave out the cases with these tags (a case's tags
//                            are printed with it: http, chunked, body, truncated, split, slow,
//                            websocket, polling, high-bytes). On main before issue 10's HTTP
//                            front, `high-bytes` (header or trailer bytes 0x80-0xFF) abort the
//                            process in http-types and some `chunked` bodies (an unfinished
//                            trailer, a final CRLF split over two writes) are never answered
//                            nor closed: the test is meant to fail there. Every case is on by
//                            default.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { APP, startSharedServer } from './harness.mjs';
import { ask, connect, CookieJar, http, sleep, uniqueName } from './clients.mjs';

const skip = !APP.available ? APP.missing
    : APP.kind === 'template' && APP.reference ? 'aimed at sessio, not at the Node seed' : false;

const SEED = Number(process.env.MALFORMED_SEED || (Date.now() % 2 ** 31));
const CASES = Number(process.env.MALFORMED_CASES || 3000);
const PARALLEL = Number(process.env.MALFORMED_PARALLEL || 16);
const SKIP = new Set((process.env.MALFORMED_SKIP || '').split(',').filter(Boolean));
const CASE_TIMEOUT_MS = 5000;

/** mulberry32: a small seeded generator, enough to pick cases. */
function rng(seed) {
    let a = seed >>> 0;
    const next = () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
    const r = {
        next,
        int: (n) => Math.floor(next() * n),
        pick: (list) => list[r.int(list.length)],
        chance: (p) => next() < p,
        bytes: (n, lo = 0, hi = 256) => Buffer.from(Array.from({ length: n }, () => lo + r.int(hi - lo))),
    };
    return r;
}

const b = (text) => Buffer.from(text, 'latin1');
const CRLF = '\r\n';

// ---------- the generator: each case is { tag, what, chunks: [Buffer], delayMs, ws? } ----------

const PATHS = ['/', '/api/me', '/api/login', '/api/register', '/api/logout', '/socket.io/socket.io.js',
    '/socket.io/?EIO=4&transport=polling', '/index.html', '/nope.txt'];
const BAD_PATHS = ['/..', '/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/a/..%2f..%2fetc', '/%00', '/index.html%00.png',
    '/%', '/%zz', '/%ff%fe', '/.git/config', '//etc/passwd', '/a\\..\\b', `/${'a'.repeat(5000)}`, '/caf%C3%A9',
    '*', 'http://other.example/', '/?' + '&'.repeat(3000), '/socket.io/?EIO=4&transport=polling&sid=%zz',
    '/socket.io/?EIO=3&transport=polling', '/socket.io/?EIO=4&transport=carrier-pigeon', '/socket.io/?EIO=4&EIO=5',
    '/socket.io/?EIO=4&transport=polling&sid=' + 'A'.repeat(400), '/socket.io/?=&=&==', '/socket.io/?EIO=4%00&transport=polling',
    '/a\x00b', '/?q=\x00', '/socket.io/?EIO=4&transport=polling&sid=\x00', '/\xff\xfe', '/%C0%AE%C0%AE/etc'];

function path(r) {
    if (r.chance(0.3)) return r.pick(BAD_PATHS);
    let p = r.pick(PATHS);
    if (r.chance(0.2)) p += (p.includes('?') ? '&' : '?') + r.bytes(1 + r.int(20), 0x21, 0x7f).toString('latin1').replace(/[# ]/g, '');
    return p;
}

function cookie(r) {
    return r.pick([
        'sessio.sid=' + r.bytes(76, 0x30, 0x7b).toString('latin1'),
        'sessio.sid="' + 'A'.repeat(32) + '.' + 'B'.repeat(43) + '"',
        Array(200).fill('sessio.sid=x').join('; '),
        ';;;==;=sessio.sid',
        'a=' + 'x'.repeat(6000),
    ]);
}

/** A head line's worth of header, maybe with bytes a strict parser refuses. */
function header(r, tags) {
    const high = () => { tags.add('high-bytes'); return r.bytes(1 + r.int(4), 0x80, 0x100).toString('latin1'); };
    switch (r.int(9)) {
    case 0: return `Cookie: x=${high()}`;
    case 1: return `Cookie: ${cookie(r)}`;
    case 2: return `X-${r.int(1000)}: ${r.bytes(r.int(40), 0x20, 0x7f).toString('latin1')}`;
    case 3: return `Content-Length: ${r.pick(['-1', 'abc', '99999999999999999999', '1e3', '+5', ' 5', '5, 5', '0x10', '4294967296', ''])}`;
    case 4: return `Transfer-Encoding: ${r.pick(['chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'Chunked', 'x'])}`;
    case 5: return `${r.pick(['Host', 'Connection', 'Upgrade', 'Expect'])}: ${r.pick(['x', 'close', 'websocket', '100-continue', 'keep-alive, upgrade'])}`;
    case 6: return `${r.bytes(1 + r.int(10), 0, 0x80).toString('latin1').replace(/[\r\n:]/g, '')}: v`;
    case 7: return `User-Agent: ${high()}`;
    default: return 'X-Folded: a\r\n  continued';
    }
}

function httpCase(r) {
    const tags = new Set(['http']);
    const method = r.pick(['GET', 'GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'G\x00T', 'get', '', 'BREW']);
    const version = r.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra', 'http/1.1', '']);
    const lines = [];
    switch (r.int(12)) {
    case 0: lines.push(r.bytes(1 + r.int(60), 0, 256).toString('latin1').replace(/[\r\n]/g, '')); break;
    case 1: lines.push(`${method} ${path(r)}`); break;
    default: lines.push(`${method} ${path(r)} ${version}`);
    }
    lines.push('Host: 127.0.0.1');
    for (let i = r.int(5); i > 0; i--) lines.push(header(r, tags));
    let head = lines.join(CRLF) + CRLF + CRLF;
    let body = '';
    const kind = r.int(10);
    let what = 'head';
    if (kind === 0) {
        what = 'chunked body';
        tags.add('chunked');
        head = `POST /api/register HTTP/1.1${CRLF}Host: x${CRLF}Content-Type: application/json${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}`;
        body = r.pick(['zz\r\nab\r\n0\r\n\r\n', '-1\r\n', 'ffffffffffffffffff\r\nab\r\n', '5\r\nab\r\n0\r\n\r\n', '2;ext=1\r\n{}\r\n0\r\n\r\n',
            '2\r\n{}', '2\r\n{}\r\n0\r\nX: a', '2\r\n{}\r\n0\r\n', '0\r\n\r\n', '2\r\n{}\r\n0\r\n' + 'X: a\r\n'.repeat(2000)]);
        if (r.chance(0.3)) { tags.add('high-bytes'); body = `2\r\n{}\r\n0\r\nX: ${r.bytes(2, 0x80, 0x100).toString('latin1')}\r\n\r\n`; }
        what += ` ${JSON.stringify(body.slice(0, 40))}`;
    } else if (kind === 1) {
        what = 'content-length body';
        tags.add('body');
        const n = r.pick([0, 1, 100, 100000]);
        head = `POST ${r.pick(['/api/login', '/api/register', '/socket.io/?EIO=4&transport=polling'])} HTTP/1.1${CRLF}Host: x${CRLF}` +
            `Content-Type: ${r.pick(['application/json', 'text/plain', 'x'])}${CRLF}Content-Length: ${n}${CRLF}${CRLF}`;
        body = r.pick(['{', '{"username":', '[]', 'null', '{"username":1,"password":[]}', r.bytes(r.int(200)).toString('latin1'),
            '"' + 'a'.repeat(5000), '['.repeat(5000)]);
    } else if (kind === 2) {
        what = 'header line without LF';
        head = `GET / HTTP/1.1${CRLF}X-Long: ${'a'.repeat(r.pick([9000, 70000, 300000]))}`;
    } else if (kind === 3) {
        what = 'many headers';
        head = `GET / HTTP/1.1${CRLF}` + Array.from({ length: r.pick([100, 1000]) }, (_, i) => `X-${i}: v`).join(CRLF) + CRLF + CRLF;
    } else if (kind === 5) {
        what = 'repeated headers';
        const second = r.pick(['Cookie: c=\xc3\xbf', 'Cookie: sessio.sid=x', 'Content-Length: 2', 'Host: y', 'Transfer-Encoding: chunked']);
        if (second.includes('\xc3')) tags.add('high-bytes');
        head = `POST /api/login HTTP/1.1${CRLF}Host: x${CRLF}Cookie: a=b${CRLF}Content-Length: 1${CRLF}${second}${CRLF}${CRLF}{`;
    } else if (kind === 4) {
        what = 'exactly 8193 bytes';
        const pad = 8193 - `GET / HTTP/1.1${CRLF}X-Pad: ${CRLF}${CRLF}`.length;
        head = `GET / HTTP/1.1${CRLF}X-Pad: ${'p'.repeat(pad)}${CRLF}${CRLF}`;
    }
    let bytes = b(head + body);
    const shape = r.int(6);
    let chunks = [bytes];
    let delayMs = 0;
    if (shape === 0) { tags.add('truncated'); what += ', truncated'; chunks = [bytes.subarray(0, r.int(bytes.length))]; }
    else if (shape === 1) { tags.add('split'); what += ', split'; const at = bytes.lastIndexOf(CRLF) + 1 || r.int(bytes.length); chunks = [bytes.subarray(0, at), bytes.subarray(at)]; delayMs = 20; }
    else if (shape === 2 && bytes.length < 400) { tags.add('slow'); what += ', slow'; chunks = []; for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7)); delayMs = 5; }
    return { tags, what: `${what}: ${JSON.stringify(head.slice(0, 120))}`, chunks, delayMs };
}

/** A WebSocket frame from the client; `mask` false breaks the rule that clients mask. */
function frame(opcode, payload, { fin = true, mask = true, rsv = 0, lengthOverride } = {}) {
    const len = lengthOverride ?? payload.length;
    const parts = [Buffer.from([(fin ? 0x80 : 0) | rsv | opcode])];
    const m = mask ? 0x80 : 0;
    if (len < 126) parts.push(Buffer.from([m | len]));
    else if (len < 65536) { const h = Buffer.alloc(3); h[0] = m | 126; h.writeUInt16BE(len, 1); parts.push(h); }
    else { const h = Buffer.alloc(9); h[0] = m | 127; h.writeBigUInt64BE(BigInt(len), 1); parts.push(h); }
    if (mask) {
        const key = crypto.randomBytes(4);
        parts.push(key, Buffer.from(payload.map((x, i) => x ^ key[i % 4])));
    } else parts.push(payload);
    return Buffer.concat(parts);
}

function socketIoText(r) {
    return r.pick([
        '40', '40{"token":1}', '40/nope,', '40/' + 'n'.repeat(300) + ',', '41', '42["echo",1]', '421["echo",{"n":1}]',
        '42' + '9'.repeat(30) + '["echo"]', '42["disconnect"]', '42[]', '42{}', '42["echo"', '43[1]', '439007199254740993[1]',
        '451-["echo",{"_placeholder":true,"num":0}]', '45999-["a"]', '452-["echo",{"_placeholder":true,"num":5}]',
        '461-3[{"_placeholder":true,"num":0}]', '49', '4' + r.bytes(20, 0x20, 0x7f).toString('latin1'),
        '42["echo",' + '['.repeat(20000) + ']'.repeat(20000) + ']', '42["echo",' + '{"a":'.repeat(3000) + '1' + '}'.repeat(3000) + ']',
        '42["sendMessage",' + JSON.stringify('x'.repeat(5000)) + ']', '42["updateCount","nope"]', '2', '3', '5', '6', '1', '7', '', 'b',
    ]);
}

function wsCase(r, loggedInCookie) {
    const tags = new Set(['websocket']);
    const withCookie = loggedInCookie && r.chance(0.6);
    const head = `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}Upgrade: websocket${CRLF}` +
        `Connection: Upgrade${CRLF}Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}${CRLF}Sec-WebSocket-Version: 13${CRLF}` +
        (withCookie ? `Cookie: ${loggedInCookie}${CRLF}` : r.chance(0.2) ? `Cookie: ${cookie(r)}${CRLF}` : '') + CRLF;
    const frames = [];
    const what = [];
    const text = (s) => frame(1, b(s));
    if (r.chance(0.7)) frames.push(text('40'));
    for (let i = 1 + r.int(4); i > 0; i--) {
        switch (r.int(12)) {
        case 0: what.push('bad opcode'); frames.push(frame(r.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), r.bytes(r.int(10)))); break;
        case 1: what.push('unmasked'); frames.push(frame(1, b('42["echo",1]'), { mask: false })); break;
        case 2: what.push('bad length'); frames.push(frame(1, b('4'), { lengthOverride: r.pick([126, 65535, 2 ** 40, 2 ** 53]) })); break;
        case 3: what.push('fragmented ping'); frames.push(frame(9, b('p'), { fin: false })); break;
        case 4: what.push('ping over 125'); frames.push(frame(9, r.bytes(200))); break;
        case 5: what.push('ping flood'); frames.push(...Array.from({ length: 2000 }, () => frame(9, Buffer.alloc(0)))); break;
        case 6: what.push('continuation first'); frames.push(frame(0, b('42[]'))); break;
        case 7: what.push('rsv bits'); frames.push(frame(1, b('2'), { rsv: 0x40 })); break;
        case 8: what.push('invalid utf-8'); frames.push(frame(1, Buffer.from([0x34, 0x32, 0xff, 0xfe]))); break;
        case 9: what.push('close with bad code'); frames.push(frame(8, Buffer.from([0x03, 0xe7, 0xff]))); break;
        case 10: what.push('binary'); frames.push(frame(2, r.bytes(r.int(64)))); break;
        default: { const s = socketIoText(r); what.push(`packet ${JSON.stringify(s.slice(0, 40))}`); frames.push(text(s)); }
        }
    }
    return { tags, what: `websocket${withCookie ? ' (logged in)' : ''}: ${what.join(', ')}`, chunks: [b(head)], ws: Buffer.concat(frames) };
}

function pollingCase(r, loggedInCookie) {
    const entries = Array.from({ length: 1 + r.int(4) }, () => r.pick([
        socketIoText(r), socketIoText(r), '4' + socketIoText(r), 'b' + r.pick(['!!!', 'AQID', 'A', '====', '']), '', '2probe', '5', '1', '9x',
        '4' + r.bytes(r.int(30)).toString('latin1'),
    ]));
    const body = b(entries.join('\x1e'));
    return { tags: new Set(['polling']), what: `polling payload ${JSON.stringify(entries.join('|').slice(0, 100))}`,
        polling: { body, cookie: loggedInCookie && r.chance(0.5) ? loggedInCookie : undefined } };
}

function generate(r, cookieHeader) {
    const n = r.int(10);
    if (n < 5) return httpCase(r);
    if (n < 8) return wsCase(r, cookieHeader);
    return pollingCase(r, cookieHeader);
}

// ---------- running a case ----------

/**
 * Sends the case's chunks (with `ws`, only after the 101 arrived), half-closes, and
 * resolves once the server has closed too; rejects if it has not after CASE_TIMEOUT_MS.
 */
function runRaw(port, c) {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let received = Buffer.alloc(0);
        let upgraded = false;
        const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error(`no close within ${CASE_TIMEOUT_MS} ms (got ${received.length} bytes: ` +
                `${JSON.stringify(received.subarray(0, 80).toString('latin1'))})`));
        }, CASE_TIMEOUT_MS);
        const finish = () => { clearTimeout(timer); socket.destroy(); resolve(received); };
        socket.on('data', (d) => {
            received = Buffer.concat([received, d]).subarray(-4096);
            if (c.ws && !upgraded && received.includes('\r\n\r\n')) {
                upgraded = true;
                if (socket.writable) socket.end(c.ws);
            }
        });
        socket.on('end', finish);
        socket.on('close', finish);
        socket.on('error', finish); // a reset is a close
        socket.on('connect', async () => {
            for (const chunk of c.chunks) {
                if (!socket.writable) return;
                socket.write(chunk);
                if (c.delayMs) await sleep(c.delayMs);
            }
            if (!c.ws && socket.writable) socket.end();
            // A refused upgrade is answered without 101: half-close then too.
            if (c.ws) setTimeout(() => { if (!upgraded && socket.writable) socket.end(); }, 1000);
        });
    });
}

/** A polling session, then the payload POSTed to it; resolves once answered. */
async function runPolling(url, c) {
    const headers = c.polling.cookie ? { cookie: c.polling.cookie } : {};
    const opts = { headers, timeoutMs: CASE_TIMEOUT_MS };
    const open = await http(url, '/socket.io/?EIO=4&transport=polling', opts);
    const sid = /"sid":"([^"]+)"/.exec(open.text)?.[1];
    if (!sid) return;
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    await http(url, q, { ...opts, method: 'POST', raw: c.polling.body, headers: { ...headers, 'content-type': 'text/plain' } });
    // The answer to whatever the payload asked for, or the session's end; then close it.
    await http(url, q, opts).catch(() => {});
    await http(url, q, { ...opts, method: 'POST', raw: '1', headers: { ...headers, 'content-type': 'text/plain' } }).catch(() => {});
}

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe('malformed traffic (app server)', { skip }, () => {
    let server;
    before(async () => { server = await startSharedServer(APP); });
    after(async () => { await server?.dispose(); });

    test(`${CASES} malformed cases (MALFORMED_SEED=${SEED}), then an honest client echoes`, { timeout: 180000 }, async () => {
        console.log(`# malformed traffic: MALFORMED_SEED=${SEED} MALFORMED_CASES=${CASES} MALFORMED_PARALLEL=${PARALLEL}` +
            (SKIP.size ? ` MALFORMED_SKIP=${[...SKIP].join(',')}` : ''));
        const url = server.url;
        const pid = server.child.pid;
        // One logged-in user, so that packets also reach the event handlers.
        const user = { username: uniqueName('mal'), password: 'a long enough password' };
        assert.equal((await http(url, '/api/register', { method: 'POST', body: user })).status, 201);
        const jar = new CookieJar();
        assert.equal((await http(url, '/api/login', { method: 'POST', body: user, jar })).status, 200);

        const r = rng(SEED);
        const cases = [];
        while (cases.length < CASES) {
            const c = generate(r, jar.header());
            c.index = cases.length;
            if ([...c.tags].some((t) => SKIP.has(t))) continue;
            cases.push(c);
        }
        const started = Date.now();
        const failures = [];
        const inFlight = new Set();
        const recent = []; // the last cases to finish: one of them may have killed it
        let died = false;
        let nextCase = 0;
        const describeCase = (c) => `case ${c.index} [${[...c.tags].join(',')}] ${c.what}`;
        const checkAlive = () => {
            if (died || alive(pid)) return;
            died = true;
            failures.push(`the server died; in flight or just finished (with MALFORMED_PARALLEL=1 the last is the one):\n  ` +
                [...recent, ...inFlight].map(describeCase).join('\n  ') + `\nits output ends:\n${server.output.slice(-1500)}`);
        };
        const worker = async () => {
            while (nextCase < cases.length && !died) {
                const c = cases[nextCase++];
                inFlight.add(c);
                try {
                    if (c.polling) await runPolling(url, c);
                    else await runRaw(server.port, c);
                } catch (err) {
                    // A polling request may fail (a refused or closed session); only a hang counts.
                    if (!c.polling || /timeout|aborted/i.test(String(err.name) + err.message)) {
                        if (alive(pid)) failures.push(`${describeCase(c)}: ${err.message}`);
                    }
                }
                inFlight.delete(c);
                recent.push(c);
                if (recent.length > PARALLEL) recent.shift();
                checkAlive();
            }
        };
        await Promise.all(Array.from({ length: PARALLEL }, worker));
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        console.log(`# ${nextCase} cases in ${secs} s`);
        assert.deepEqual(failures.slice(0, 20), [], `MALFORMED_SEED=${SEED}: ${failures.length} failure(s)`);

        assert.ok(alive(pid), 'the server process is gone');
        assert.equal(server.child.exitCode, null, 'the server exited');
        const honest = { username: uniqueName('honest'), password: 'another long password' };
        assert.equal((await http(url, '/api/register', { method: 'POST', body: honest })).status, 201);
        const honestJar = new CookieJar();
        assert.equal((await http(url, '/api/login', { method: 'POST', body: honest, jar: honestJar })).status, 200);
        const socket = await connect(null, url, { cookie: honestJar.header() });
        try {
            assert.deepEqual(await ask(socket, 'echo', { n: 42 }), { n: 42 });
        } finally {
            socket.disconnect();
        }
        assert.equal(server.child.pid, pid);
    });
});
