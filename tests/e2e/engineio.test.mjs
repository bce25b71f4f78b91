// The Engine.IO session against the `testbed` example, with raw packets: heartbeat
// timing (pings and timeouts on time, within a few ms), and the close semantics the
// reference server has (a client's close answers a waiting GET with a noop; a second
// WebSocket for a session is accepted, then closed). What the official Engine.IO
// protocol suite found (tests/protocol-suites/run), as tests of our own.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
// The WebSocket client socket.io-client itself uses (installed with it).
import WebSocket from 'ws';
import { TESTBED, startServer } from './harness.mjs';
import { sleep } from './clients.mjs';

const skip = TESTBED.available ? false : TESTBED.missing;

// Short, for a quick test, and chosen so that a coarse timer cannot hide: one
// that wakes every min(interval, timeout)/4, as sessio's did (50 ms here),
// pings a new session at a random phase of its ticks (so up to 50 ms late),
// and, since 330 ms is not a whole number of ticks, closes a silent client
// about 20 ms late.
const INTERVAL = 200;
const TIMEOUT = 330;
const FLAGS = { pingInterval: INTERVAL, pingTimeout: TIMEOUT };
// On time means within a few ms: the median of 20 samples under MEDIAN_MS, and
// not early by more than EARLY_MS (the server counts whole milliseconds). Only
// the median: on a loaded 2-core machine, where the server and this client
// wait for a core now and then, single samples come tens of ms off either way
// (a late read of the packet a sample counts from makes it look early). A
// coarse timer waking every 50 ms gives medians of 20 to 27 ms here.
const MEDIAN_MS = 5;
const EARLY_MS = 5;
// Samples are taken a few sessions at a time, so this client's own work adds
// little to what it measures.
const SAMPLES = 20;
const AT_ONCE = 4;

const path = '/socket.io/?EIO=4';

function wsUrl(server, sid) {
    const url = `ws://127.0.0.1:${server.port}${path}&transport=websocket`;
    return sid ? `${url}&sid=${encodeURIComponent(sid)}` : url;
}

function pollUrl(server, sid) {
    const url = `${server.url}${path}&transport=polling`;
    return sid ? `${url}&sid=${encodeURIComponent(sid)}` : url;
}

/** Opens a polling session; resolves with its sid. */
async function openPolling(server) {
    const res = await fetch(pollUrl(server), { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    assert.equal(body[0], '0', body);
    return JSON.parse(body.slice(1)).sid;
}

async function get(server, sid, ms = 5000) {
    const res = await fetch(pollUrl(server, sid), { signal: AbortSignal.timeout(ms) });
    return { status: res.status, body: await res.text() };
}

async function post(server, sid, body) {
    const res = await fetch(pollUrl(server, sid), {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: await res.text() };
}

/** A WebSocket whose text messages wait in a queue for `next()`. */
function openWs(url) {
    const ws = new WebSocket(url);
    const queue = [];
    const waiting = [];
    ws.on('message', (data, binary) => {
        const message = binary ? data : data.toString();
        const waiter = waiting.shift();
        if (waiter) waiter(message);
        else queue.push(message);
    });
    ws.on('error', () => {});
    ws.next = (ms = 5000) => {
        if (queue.length) return Promise.resolve(queue.shift());
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
            waiting.push((m) => {
                clearTimeout(timer);
                resolve(m);
            });
        });
    };
    ws.closed = new Promise((resolve) => ws.on('close', (code) => resolve({ code, at: performance.now() })));
    ws.opened = new Promise((resolve) => {
        ws.on('open', () => resolve(true));
        ws.on('close', () => resolve(false));
    });
    return ws;
}

/** Runs `sample(i)` for i < SAMPLES, AT_ONCE at a time, started a little apart. */
async function inWaves(sample) {
    for (let wave = 0; wave < SAMPLES; wave += AT_ONCE) {
        const batch = Array.from({ length: Math.min(AT_ONCE, SAMPLES - wave) }, async (_, i) => {
            await sleep(i * 31);
            await sample(wave + i);
        });
        await Promise.all(batch);
    }
}

function stats(samples) {
    const sorted = [...samples].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return { n: sorted.length, p10: at(0.1), median: at(0.5), p90: at(0.9), max: sorted[sorted.length - 1] };
}

function assertOnTime(t, what, samples) {
    const s = stats(samples);
    const f = (x) => x.toFixed(1);
    const sorted = [...samples].sort((a, b) => a - b);
    if (process.env.E2E_SAMPLES) t.diagnostic(sorted.map(f).join(' '));
    t.diagnostic(
        `${what} lateness over ${s.n}: p10 ${f(s.p10)} ms, median ${f(s.median)} ms, ` +
            `p90 ${f(s.p90)} ms, max ${f(s.max)} ms`,
    );
    assert.ok(s.median < MEDIAN_MS, `${what}: median lateness ${f(s.median)} ms (bound ${MEDIAN_MS})`);
    assert.ok(s.median > -EARLY_MS, `${what}: median ${f(-s.median)} ms early (bound ${EARLY_MS})`);
}

/**
 * Answers `count` pings on a new WebSocket session; pushes how late the first
 * came after the handshake to `first`, and each later one after the pong
 * before it to `later`.
 */
async function answerPings(server, count, { first, later }) {
    const ws = openWs(wsUrl(server));
    assert.equal((await ws.next())[0], '0');
    let since = performance.now();
    for (let i = 0; i < count; i++) {
        assert.equal(await ws.next(INTERVAL + 1000), '2');
        (i === 0 ? first : later).push(performance.now() - since - INTERVAL);
        ws.send('3');
        since = performance.now();
    }
    ws.close();
}

/** Answers no ping on a new WebSocket session; pushes how late its close came. */
async function ignorePings(server, lateness) {
    const ws = openWs(wsUrl(server));
    assert.equal((await ws.next())[0], '0');
    assert.equal(await ws.next(INTERVAL + 1000), '2');
    const pinged = performance.now();
    const { at } = await ws.closed;
    lateness.push(at - pinged - TIMEOUT);
}

describe('Engine.IO sessions (testbed)', { skip }, () => {
    test('pings go out within a few ms of their due time', async (t) => {
        const server = await startServer(t, TESTBED, { flags: FLAGS });
        const lateness = { first: [], later: [] };
        await inWaves(() => answerPings(server, 3, lateness));
        assertOnTime(t, 'first ping', lateness.first);
        assertOnTime(t, 'ping after a pong', lateness.later);
    });

    test('a WebSocket client that stops answering is closed within a few ms of its timeout', async (t) => {
        const server = await startServer(t, TESTBED, { flags: FLAGS });
        const lateness = [];
        await inWaves(() => ignorePings(server, lateness));
        assertOnTime(t, 'close after timeout', lateness);
    });

    test('a polling client that stops answering gets its close packet within a few ms of its timeout', async (t) => {
        const server = await startServer(t, TESTBED, { flags: FLAGS });
        const lateness = [];
        await inWaves(async () => {
            const sid = await openPolling(server);
            assert.deepEqual(await get(server, sid), { status: 200, body: '2' });
            const pinged = performance.now();
            assert.deepEqual(await get(server, sid), { status: 200, body: '1' });
            lateness.push(performance.now() - pinged - TIMEOUT);
            assert.equal((await get(server, sid)).status, 400);
        });
        assertOnTime(t, 'close after timeout (polling)', lateness);
    });

    test("a client's close packet answers its waiting GET with a noop", async (t) => {
        const server = await startServer(t, TESTBED);
        const sid = await openPolling(server);
        const waiting = get(server, sid);
        await sleep(50);
        assert.deepEqual(await post(server, sid, '1'), { status: 200, body: 'ok' });
        assert.deepEqual(await waiting, { status: 200, body: '6' });
        assert.equal((await get(server, sid)).status, 400, 'the session is gone');
    });

    test('two GETs at once: the first gets the close packet, the second 400, and the session ends', async (t) => {
        const server = await startServer(t, TESTBED);
        const sid = await openPolling(server);
        const first = get(server, sid);
        await sleep(50);
        assert.equal((await get(server, sid)).status, 400);
        assert.deepEqual(await first, { status: 200, body: '1' });
        assert.equal((await get(server, sid)).status, 400);
    });

    for (const when of ['upgraded', 'probing']) {
        test(`a second WebSocket for a session ${when} is accepted, then closed; the first carries on`, async (t) => {
            const server = await startServer(t, TESTBED);
            const sid = await openPolling(server);
            const first = openWs(wsUrl(server, sid));
            assert.ok(await first.opened);
            first.send('2probe');
            assert.equal(await first.next(), '3probe');
            if (when === 'upgraded') first.send('5');
            const second = openWs(wsUrl(server, sid));
            assert.ok(await second.opened, 'the second WebSocket was refused before its upgrade');
            const closed = await Promise.race([second.closed, sleep(3000).then(() => null)]);
            assert.ok(closed, 'the second WebSocket was not closed');
            if (when === 'probing') first.send('5');
            // The session still works over the first: Socket.IO's CONNECT is answered.
            first.send('40');
            const reply = await first.next();
            assert.ok(reply.startsWith('40'), reply);
            first.close();
        });
    }

    test('a WebSocket message over maxPayload closes the connection with code 1009 (message too big)', async (t) => {
        const server = await startServer(t, TESTBED, { flags: { maxPayload: 1000 } });
        const ws = openWs(wsUrl(server));
        assert.ok(await ws.opened);
        assert.equal((await ws.next())[0], '0');
        ws.send('4' + 'a'.repeat(1000));
        const closed = await Promise.race([ws.closed, sleep(3000).then(() => null)]);
        assert.ok(closed, 'not closed');
        assert.equal(closed.code, 1009);
    });

    test('a WebSocket message of exactly the default maxPayload (1,000,000 bytes) arrives whole', async (t) => {
        const server = await startServer(t, TESTBED);
        const ws = openWs(wsUrl(server));
        assert.ok(await ws.opened);
        assert.equal((await ws.next())[0], '0');
        ws.send('40');
        assert.ok((await ws.next()).startsWith('40'));
        // Each byte counts: the server reads a frame in reads far smaller than this one.
        const text = Array.from({ length: 1_000_000 - 14 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
        const message = `421["echo","${text}"]`;
        assert.equal(Buffer.byteLength(message), 1_000_000);
        ws.send(message);
        let reply;
        do reply = await ws.next(10000); // the testbed greets a socket with an event
        while (!reply.startsWith('43'));
        assert.ok(reply === `431["${text}"]`, `the ack differs: ${reply.length} bytes, ${reply.slice(0, 40)}...`);
        ws.close();
    });

    test('a GET after the probe is released with a noop; polling after the upgrade is refused', async (t) => {
        const server = await startServer(t, TESTBED);
        const sid = await openPolling(server);
        const ws = openWs(wsUrl(server, sid));
        assert.ok(await ws.opened);
        ws.send('2probe');
        assert.equal(await ws.next(), '3probe');
        assert.deepEqual(await get(server, sid, 1000), { status: 200, body: '6' });
        ws.send('5');
        await sleep(50);
        assert.equal((await get(server, sid)).status, 400);
        ws.close();
    });

    test('a GET still waiting when the upgrade packet comes is refused like one after it', async (t) => {
        // A client sends `5` only once its last GET was answered; the official
        // protocol suite sends a GET right after `5`, over another connection,
        // and expects 400 whichever the server handles first.
        const server = await startServer(t, TESTBED);
        const sid = await openPolling(server);
        const ws = openWs(wsUrl(server, sid));
        assert.ok(await ws.opened);
        ws.send('2probe');
        assert.equal(await ws.next(), '3probe');
        const waiting = get(server, sid, 1000); // held until 100 ms after the probe
        await sleep(30);
        ws.send('5');
        assert.equal((await waiting).status, 400);
        ws.close();
    });
});
