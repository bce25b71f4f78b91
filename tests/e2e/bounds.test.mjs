// Bounded under abuse (issue 10): per-client caps on what a client may make the
// server hold, pre-authentication sessions capped per address, and panics in user
// handlers contained to their socket. Mostly against the testbed, by hand-made
// WebSocket frames where socket.io-client would behave; the server's resident
// memory is read from /proc.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import { APP, TESTBED, startServer } from './harness.mjs';
import { ask, connect, connectRefused, makeSocket, once, sleep, waitFor } from './clients.mjs';

const skip = TESTBED.available && TESTBED.kind === 'binary' ? false : (TESTBED.missing || 'needs TESTBED_BIN (reads its memory)');
const MiB = 1 << 20;

/** The server process's resident memory in MiB (Linux). */
function rssMiB(server) {
    const status = fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

/** Waits until the server's output has a line matching `re`. */
async function logged(server, re) {
    await waitFor(() => re.test(server.output), 3000, `a log line matching ${re}`);
}

/** One client-to-server WebSocket frame: final, masked. */
function frame(opcode, payload) {
    const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len])
        : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
            : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => {
                const b = Buffer.alloc(8);
                b.writeBigUInt64BE(BigInt(len));
                return b;
            })()]);
    return Buffer.concat([head, mask, Buffer.from(payload).map((b, i) => b ^ mask[i % 4])]);
}
const text = (s) => frame(0x1, Buffer.from(s));
const binary = (buf) => frame(0x2, buf);

/**
 * A WebSocket client by hand on the testbed: resolves once the Engine.IO open
 * packet arrived (and, with `join`, the namespace's CONNECT answer). `closed`
 * resolves when the server ends the connection. `stopReading()` leaves
 * everything the server sends in the kernel's buffers.
 */
async function rawClient(port, { join = false, localAddress } = {}) {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let seen = '';
    let wanted = join ? '40{' : '0{';
    const ready = new Promise((resolve, reject) => {
        socket.once('error', reject);
        socket.on('data', (data) => {
            if (wanted === null) return;
            seen += data.toString('latin1');
            if (seen.includes(wanted)) {
                wanted = null;
                resolve();
            }
        });
    });
    const closed = new Promise((resolve) => socket.on('close', () => resolve(true)));
    socket.on('error', () => {}); // a reset is one way the server may end it
    socket.write('GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n' +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    if (join) socket.write(text('40'));
    await ready;
    return {
        socket,
        closed,
        stopReading: () => socket.pause(),
        /** Writes `total` bytes made of `chunk` repeated, until done or the connection ends. */
        async flood(chunk, total) {
            let sent = 0;
            let ended = false;
            closed.then(() => { ended = true; });
            while (sent < total && !ended) {
                const ok = socket.write(chunk);
                sent += chunk.length;
                if (!ok) {
                    await Promise.race([new Promise((r) => socket.once('drain', r)), closed, sleep(1000)]);
                }
            }
            return sent;
        },
    };
}

/** `chunk` repeated to about `size` bytes. */
function repeated(chunk, size) {
    return Buffer.concat(Array.from({ length: Math.ceil(size / chunk.length) }, () => chunk));
}

/** Floods from a client that reads nothing; says how much went, the peak memory, and if it was cut off. */
async function floodWithoutReading(server, client, chunk, total) {
    const before = rssMiB(server);
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(server)); }, 50);
    client.stopReading();
    try {
        const sent = await client.flood(repeated(chunk, 256 * 1024), total);
        const cutOff = await Promise.race([client.closed, sleep(5000).then(() => false)]);
        peak = Math.max(peak, rssMiB(server));
        await sleep(500);
        return { sent, cutOff, growth: peak - before, after: rssMiB(server) - before };
    } finally {
        clearInterval(sampler);
        client.socket.destroy();
    }
}

describe('caps on what one client may make the server hold (testbed)', { skip }, () => {
    test('a client that floods pings and reads nothing is cut off: pongs count against the queue cap', async (t) => {
        const server = await startServer(t, TESTBED);
        const client = await rawClient(server.port);
        const ping = frame(0x9, Buffer.alloc(0));
        const { sent, cutOff, growth, after } = await floodWithoutReading(server, client, ping, 48 * MiB);
        t.diagnostic(`sent ${(sent / MiB).toFixed(1)} MiB of pings, server grew by ${growth.toFixed(1)} MiB at most, ${after.toFixed(1)} MiB after`);
        assert.ok(cutOff, 'the connection was not closed');
        assert.ok(sent < 48 * MiB, 'every ping was taken');
        // 8 MiB of queue at its real cost, plus what the reads and kernel take.
        assert.ok(growth < 32, `resident memory grew by ${growth.toFixed(1)} MiB`);
        await logged(server, /disconnecting session \S+ from 127\.0\.0\.1: over max-queued-bytes \(8388608\)/);
        // The server still serves others.
        const other = await connect(t, server.url);
        assert.deepEqual(await ask(other, 'echo', 'still here'), 'still here');
    });

    test('a client that asks for acks and reads nothing is cut off at the acks\' real cost', async (t) => {
        const server = await startServer(t, TESTBED);
        const client = await rawClient(server.port, { join: true });
        const echo = text('421234567["echo"]');
        const { sent, cutOff, growth, after } = await floodWithoutReading(server, client, echo, 24 * MiB);
        t.diagnostic(`sent ${(sent / MiB).toFixed(1)} MiB of acked echoes, server grew by ${growth.toFixed(1)} MiB at most, ${after.toFixed(1)} MiB after`);
        assert.ok(cutOff, 'the connection was not closed');
        assert.ok(growth < 32, `resident memory grew by ${growth.toFixed(1)} MiB`);
        await logged(server, /over max-queued-bytes/);
    });

    test('binary attachments never wait for a client that has not joined a namespace', async (t) => {
        const server = await startServer(t, TESTBED);
        const client = await rawClient(server.port);
        client.socket.write(text('451-["up",{"_placeholder":true,"num":0}]'));
        client.socket.write(binary(Buffer.alloc(900_000, 7)));
        const cutOff = await Promise.race([client.closed, sleep(3000).then(() => false)]);
        client.socket.destroy();
        assert.ok(cutOff, 'the session stayed open holding an attachment');
    });

    test('acks the client leaves unanswered are capped', async (t) => {
        const server = await startServer(t, TESTBED, { flags: { maxPendingAcks: 4 } });
        const socket = await connect(t, server.url);
        socket.on('question', () => {}); // never answers
        for (let i = 0; i < 4; i++) socket.emit('ask', { data: i, timeoutMs: 60000 });
        assert.equal(await ask(socket, 'echo', 'fine'), 'fine');
        const gone = once(socket, 'disconnect');
        socket.emit('ask', { data: 5, timeoutMs: 60000 });
        await gone;
        await logged(server, /over max-pending-acks \(4\)/);
    });

    test('events the server leaves unacknowledged are capped', async (t) => {
        const server = await startServer(t, TESTBED, { flags: { maxPendingAcks: 4 } });
        const socket = await connect(t, server.url);
        for (let i = 0; i < 3; i++) socket.emit('hold', i, () => {});
        // Three held and the echo's own make four.
        assert.equal(await ask(socket, 'echo', 'fine'), 'fine');
        socket.emit('hold', 4, () => {});
        const gone = once(socket, 'disconnect');
        socket.emit('hold', 5, () => {});
        await gone;
        await logged(server, /over max-pending-acks \(4\)/);
    });

    test('rooms per socket are capped', async (t) => {
        const server = await startServer(t, TESTBED, { flags: { maxRooms: 3 } });
        const socket = await connect(t, server.url);
        for (const room of ['a', 'b', 'c']) await ask(socket, 'join', room);
        const { rooms } = await ask(socket, 'join', 'a');
        assert.equal(rooms.length, 4);
        const gone = once(socket, 'disconnect');
        socket.emit('join', 'd', () => {});
        await gone;
        await logged(server, /over max-rooms \(3\)/);
    });

    test('attachments per packet are capped', async (t) => {
        const server = await startServer(t, TESTBED, { flags: { maxAttachments: 2 } });
        const socket = await connect(t, server.url);
        const two = await ask(socket, 'echo', { a: Buffer.from([1]), b: Buffer.from([2]) });
        assert.deepEqual([...two.a, ...two.b], [1, 2]);
        const gone = once(socket, 'disconnect');
        socket.emit('echo', Buffer.from([1]), Buffer.from([2]), Buffer.from([3]));
        await gone;
        await logged(server, /over max-attachments \(2\)/);
    });

    test('JSON nesting is capped', async (t) => {
        const server = await startServer(t, TESTBED, { flags: { maxJsonDepth: 8 } });
        const socket = await connect(t, server.url);
        const nest = (n) => (n === 0 ? 'x' : [nest(n - 1)]);
        // The arguments' array is one level: 7 more make 8.
        assert.deepEqual(await ask(socket, 'echo', nest(7)), nest(7));
        const gone = once(socket, 'disconnect');
        socket.emit('echo', nest(8));
        await gone;
        await logged(server, /over max-json-depth \(8\)/);
    });

    test('a panicking handler costs its socket only; the process keeps serving', async (t) => {
        const server = await startServer(t, TESTBED, { env: { RUST_BACKTRACE: '0' } });
        const victim = await connect(t, server.url);
        const other = await connect(t, server.url);
        const gone = once(victim, 'disconnect');
        victim.emit('panic');
        const [reason] = await gone;
        assert.equal(reason, 'io server disconnect');
        for (let i = 0; i < 20; i++) assert.equal(await ask(other, 'echo', i), i);
        // Where: the panic hook's line names the file and line.
        await logged(server, /testbed\.rs:\d+:\d+/);
        await logged(server, /the testbed's panic event/);
        await logged(server, /the handler of "panic" of namespace \/ panicked/);
        const again = await connect(t, server.url);
        assert.equal(await ask(again, 'echo', 'after'), 'after');
    });

    test('a panicking middleware, on_connect or on_disconnect costs its socket only', async (t) => {
        // Without backtraces, so that the harness's tail of the output keeps every line.
        const server = await startServer(t, TESTBED, { env: { RUST_BACKTRACE: '0' } });
        const other = await connect(t, server.url, { namespace: '/fragile' });
        const refused = await connectRefused(t, server.url, { namespace: '/fragile', auth: { panic: 'middleware' } });
        assert.equal(refused.message, 'server error');
        await logged(server, /a connect middleware of namespace \/fragile panicked .*refusing the connection/);
        const victim = makeSocket(server.url, { namespace: '/fragile', auth: { panic: 'connect' } });
        t.after(() => victim.disconnect());
        const [reason] = await once(victim, 'disconnect');
        assert.equal(reason, 'io server disconnect');
        await logged(server, /on_connect of namespace \/fragile panicked .*disconnecting the socket/);
        const leaving = await connect(t, server.url, { namespace: '/fragile', auth: { panic: 'disconnect' } });
        leaving.disconnect();
        await logged(server, /on_disconnect of namespace \/fragile panicked/);
        assert.equal(await ask(other, 'echo', 'still'), 'still');
    });
});

/** Polling handshakes on one keep-alive connection from `localAddress`; the statuses. */
async function handshakes(port, count, localAddress) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress });
    const statuses = [];
    try {
        for (let i = 0; i < count; i++) {
            statuses.push(await new Promise((resolve, reject) => {
                const req = http.get({ host: '127.0.0.1', port, agent, path: '/socket.io/?EIO=4&transport=polling' }, (res) => {
                    res.resume();
                    res.on('end', () => resolve(res.statusCode));
                });
                req.on('error', reject);
            }));
        }
    } finally {
        agent.destroy();
    }
    return statuses;
}

describe('sessions before authentication (app)', { skip: APP.available ? false : APP.missing }, () => {
    test('one address flooding handshakes cannot fill the session table for others', async (t) => {
        const server = await startServer(t, APP, { flags: { maxConnections: 300, maxPendingSessions: 32 } });
        const flood = await handshakes(server.port, 400, '127.0.0.2');
        const count = (code) => flood.filter((s) => s === code).length;
        t.diagnostic(`400 handshakes from 127.0.0.2: ${count(200)} × 200, ${count(429)} × 429, ${count(503)} × 503`);
        assert.equal(count(200), 32);
        assert.equal(count(429), 400 - 32);
        // Another address still gets in.
        assert.deepEqual(await handshakes(server.port, 3, '127.0.0.1'), [200, 200, 200]);
        await logged(server, /refusing handshakes from 127\.0\.0\.2: over max-pending-sessions \(32\)/);
        assert.equal(server.output.match(/refusing handshakes/g).length, 1, 'one line, not one per request');
    });

    test('a client repeating CONNECT runs the session middleware one at a time, not once per packet', async (t) => {
        const server = await startServer(t, APP);
        // The threads that run blocking calls, by name: sled starts its own
        // pool of I/O threads on its first write, whenever that comes.
        const tasks = `/proc/${server.child.pid}/task`;
        const comm = (task) => { try { return fs.readFileSync(`${tasks}/${task}/comm`, 'utf8'); } catch { return ''; } };
        const threads = () => fs.readdirSync(tasks).filter((task) => comm(task).startsWith('sessio-blocking')).length;
        const before = threads();
        const client = await rawClient(server.port);
        let most = before;
        const sampler = setInterval(() => { most = Math.max(most, threads()); }, 2);
        // 3,000 CONNECT packets for "/" in one burst, without a session cookie.
        await client.flood(repeated(text('40'), 3000 * 6), 3000 * 6);
        await sleep(500);
        clearInterval(sampler);
        t.diagnostic(`blocking threads: ${before} before, at most ${most} during the burst`);
        // Each refusal is one store read on a blocking thread; one at a time
        // needs one such thread, not one per packet.
        assert.ok(most <= Math.max(before, 1), `${most} blocking threads during the burst, ${before} before`);
        client.socket.destroy();
    });
});
