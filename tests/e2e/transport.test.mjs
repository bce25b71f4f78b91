// The Socket.IO transport end to end (issue 2), against the `testbed` example server,
// driven by socket.io-client in each of three modes: polling only, WebSocket only, and
// polling upgraded to WebSocket.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Manager } from 'socket.io-client';
import { TESTBED, startServer, startSharedServer } from './harness.mjs';
import { MODE_NAMES, MODES, ask, askAll, connect, connectRefused, next, once, pending, waitFor } from './clients.mjs';

const skip = TESTBED.available ? false : TESTBED.missing;
const expectedTransport = { polling: 'polling', websocket: 'websocket', upgrade: 'websocket' };
const room = (what) => `${what}-${Math.random().toString(36).slice(2, 10)}`;

/** Waits until `socket` got a `sync` event with `tag`: everything sent to it before has arrived. */
async function sync(from, sockets, tag) {
    await ask(from, 'broadcast', { event: 'sync', data: tag });
    for (const s of sockets) {
        for (;;) {
            const [got] = await next(s, 'sync');
            if (got === tag) break;
        }
    }
}

describe('transport (testbed)', { skip }, () => {
    let server;
    before(async () => {
        server = await startSharedServer(TESTBED);
    });
    after(() => server?.dispose());

    for (const mode of MODE_NAMES) {
        describe(`${mode} mode`, () => {
            const open = (t, opts = {}) => connect(t, server.url, { mode, ...opts });

            test('connects over the expected transport and gets hello with its own id', async (t) => {
                const socket = await open(t);
                assert.equal(socket.io.engine.transport.name, expectedTransport[mode]);
                const [hello] = await next(socket, 'hello');
                assert.deepEqual(hello, { id: socket.id });
            });

            test('echo acks every argument unchanged', async (t) => {
                const socket = await open(t);
                const args = [1, 'two', { three: [3, 'x', null, true] }, null, false, 'ünïcødé ✓ 😀'];
                assert.deepEqual(await askAll(socket, 'echo', ...args), args);
            });

            test('many acks in flight come back to the right callers', async (t) => {
                const socket = await open(t);
                const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(socket, 'echo', { i })));
                assert.deepEqual(answers, Array.from({ length: 50 }, (_, i) => ({ i })));
            });

            test('a server emit with ack gets the client\'s answer', async (t) => {
                const socket = await open(t);
                socket.on('question', (data, cb) => cb({ got: data }));
                const reply = await ask(socket, 'ask', { data: { q: 42 }, timeoutMs: 3000 });
                assert.deepEqual(reply, { answer: { got: { q: 42 } } });
            });

            test('a server emit with ack times out when the client never acks', async (t) => {
                const socket = await open(t);
                let asked = null;
                socket.on('question', (data) => {
                    asked = data;
                });
                const started = Date.now();
                const reply = await ask(socket, 'ask', { data: 'ping?', timeoutMs: 300 });
                assert.deepEqual(reply, { error: 'timeout' });
                assert.equal(asked, 'ping?');
                assert.ok(Date.now() - started >= 250, 'the timeout fired too early');
            });

            test('binary buffers nested in objects and arrays are echoed back intact', async (t) => {
                const socket = await open(t);
                const bytes = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
                const payload = {
                    a: bytes(256, 0),
                    nested: { list: [bytes(1, 9), 'text', { deep: bytes(1000, 3) }], n: 5 },
                    empty: Buffer.alloc(0),
                };
                const [back, second, third] = await askAll(socket, 'echo', payload, bytes(17, 1), [bytes(3, 2), 7]);
                assert.ok(Buffer.from(back.a).equals(payload.a));
                assert.ok(Buffer.from(back.nested.list[0]).equals(payload.nested.list[0]));
                assert.equal(back.nested.list[1], 'text');
                assert.ok(Buffer.from(back.nested.list[2].deep).equals(payload.nested.list[2].deep));
                assert.equal(back.nested.n, 5);
                assert.equal(Buffer.from(back.empty).length, 0);
                assert.ok(Buffer.from(second).equals(bytes(17, 1)));
                assert.ok(Buffer.from(third[0]).equals(bytes(3, 2)));
                assert.equal(third[1], 7);
            });

            test('binary a client sends as base64 (forceBase64) is echoed back intact', async (t) => {
                // Over WebSocket too: `b` and base64 in a text frame (sessio closed the
                // session on it before; the official engine.io-client suite found it).
                const socket = await open(t, { forceBase64: true });
                const bytes = Buffer.from([0, 1, 2, 3, 4, 250, 255]);
                const [back] = await askAll(socket, 'echo', { data: bytes });
                assert.ok(Buffer.from(back.data).equals(bytes));
            });

            test('a 990,000-byte string in one packet is echoed back', async (t) => {
                const socket = await open(t);
                const big = 'x'.repeat(989_000) + 'é'.repeat(500); // 990,000 bytes of UTF-8
                assert.equal(Buffer.byteLength(big), 990_000);
                const [back] = await askAll(socket, 'echo', big);
                assert.equal(back.length, big.length);
                assert.ok(back === big, 'the echoed string differs');
            });

            test('a 700,000-byte buffer (base64 over polling stays under 1 MB) is echoed back', async (t) => {
                const socket = await open(t);
                const big = Buffer.alloc(700_000);
                for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
                const [back] = await askAll(socket, 'echo', big);
                assert.ok(Buffer.from(back).equals(big), 'the echoed buffer differs');
            });

            test('an over-limit payload cuts off its client while another client keeps working', async (t) => {
                const bystander = await open(t);
                const sender = await open(t);
                const gone = once(sender, 'disconnect', 10000);
                sender.emit('echo', 'y'.repeat(1_100_000), () => {});
                const [reason] = await gone;
                assert.ok(typeof reason === 'string' && reason.length > 0);
                assert.equal(sender.connected, false);
                assert.deepEqual(await askAll(bystander, 'echo', 'still here'), ['still here']);
                assert.equal(bystander.connected, true);
            });

            test('join and leave ack the sorted rooms of the socket, its own id room included', async (t) => {
                const socket = await open(t);
                const [r1, r2] = [room('b'), room('a')];
                assert.deepEqual(await ask(socket, 'join', r1), { rooms: [socket.id, r1].sort() });
                assert.deepEqual(await ask(socket, 'join', r2), { rooms: [socket.id, r1, r2].sort() });
                assert.deepEqual(await ask(socket, 'leave', r1), { rooms: [socket.id, r2].sort() });
                assert.deepEqual(await ask(socket, 'leave', r2), { rooms: [socket.id] });
            });

            test('room emits reach members only: toRoom, toRoomFromMe, broadcastExcept, after leave', async (t) => {
                const [a, b, c] = await Promise.all([open(t), open(t), open(t)]);
                const r = room('r');
                await ask(a, 'join', r);
                await ask(b, 'join', r);

                assert.deepEqual(await ask(a, 'toRoom', { room: r, event: 'roomMsg', data: { n: 1 } }), { ok: true });
                assert.deepEqual(await next(a, 'roomMsg'), [{ n: 1 }]);
                assert.deepEqual(await next(b, 'roomMsg'), [{ n: 1 }]);
                await sync(a, [c], 'after toRoom');
                assert.deepEqual(pending(c, 'roomMsg'), [], 'a socket outside the room got a room message');

                // a non-member may emit to a room too
                assert.deepEqual(await ask(c, 'toRoom', { room: r, event: 'roomMsg', data: { n: 2 } }), { ok: true });
                assert.deepEqual(await next(a, 'roomMsg'), [{ n: 2 }]);
                assert.deepEqual(await next(b, 'roomMsg'), [{ n: 2 }]);

                assert.deepEqual(await ask(a, 'toRoomFromMe', { room: r, event: 'fromMe', data: 'hi' }), { ok: true });
                assert.deepEqual(await next(b, 'fromMe'), ['hi']);
                await sync(c, [a, c], 'after toRoomFromMe');
                assert.deepEqual(pending(a, 'fromMe'), [], 'the sender got its own toRoomFromMe message');
                assert.deepEqual(pending(c, 'fromMe'), [], 'a socket outside the room got a room message');

                assert.deepEqual(await ask(a, 'broadcastExcept', { room: r, event: 'except', data: 3 }), { ok: true });
                assert.deepEqual(await next(c, 'except'), [3]);
                await sync(c, [a, b], 'after broadcastExcept');
                assert.deepEqual(pending(a, 'except'), [], 'broadcastExcept reached a socket of the excepted room');
                assert.deepEqual(pending(b, 'except'), [], 'broadcastExcept reached a socket of the excepted room');

                assert.deepEqual(await ask(b, 'leave', r), { rooms: [b.id] });
                await ask(c, 'toRoom', { room: r, event: 'roomMsg', data: { n: 4 } });
                assert.deepEqual(await next(a, 'roomMsg'), [{ n: 4 }]);
                await sync(c, [b], 'after leave');
                assert.deepEqual(pending(b, 'roomMsg'), [], 'a socket that left the room still got its messages');
            });

            test('a socket\'s own id is a room others can emit to', async (t) => {
                const [a, b] = await Promise.all([open(t), open(t)]);
                await ask(a, 'toRoom', { room: b.id, event: 'direct', data: 'for b' });
                assert.deepEqual(await next(b, 'direct'), ['for b']);
                await sync(a, [a], 'after direct');
                assert.deepEqual(pending(a, 'direct'), []);
            });

            test('broadcast reaches every connected socket, the sender included', async (t) => {
                const sockets = await Promise.all([open(t), open(t), open(t)]);
                assert.deepEqual(await ask(sockets[1], 'broadcast', { event: 'all', data: { hi: 'everyone' } }), { ok: true });
                for (const s of sockets) assert.deepEqual(await next(s, 'all'), [{ hi: 'everyone' }]);
            });

            test('server-side disconnect gives the client reason "io server disconnect"', async (t) => {
                const own = await startServer(t, TESTBED); // its own server: the socket count is exact
                const [watcher, socket] = await Promise.all([
                    connect(t, own.url, { mode }),
                    connect(t, own.url, { mode }),
                ]);
                assert.equal((await ask(watcher, 'count')).sockets, 2);
                const gone = once(socket, 'disconnect', 5000);
                socket.emit('disconnectMe');
                const [reason] = await gone;
                assert.equal(reason, 'io server disconnect');
                await waitFor(async () => (await ask(watcher, 'count')).sockets === 1, 5000,
                    'the server-side socket count to drop to 1');
            });

            test('disconnectRoom disconnects exactly the sockets of the room', async (t) => {
                const [a, b, c] = await Promise.all([open(t), open(t), open(t)]);
                const r = room('d');
                await ask(a, 'join', r);
                await ask(b, 'join', r);
                const goneA = once(a, 'disconnect', 5000);
                const goneB = once(b, 'disconnect', 5000);
                assert.deepEqual(await ask(c, 'disconnectRoom', { room: r }), { ok: true });
                assert.equal((await goneA)[0], 'io server disconnect');
                assert.equal((await goneB)[0], 'io server disconnect');
                assert.equal(c.connected, true);
                assert.deepEqual(await askAll(c, 'echo', 'c lives'), ['c lives']);
            });

            test('namespace /private admits the right token and passes the auth payload', async (t) => {
                const socket = await open(t, { namespace: '/private', auth: { token: 'letmein', extra: [1, 2] } });
                const [hello] = await next(socket, 'hello');
                assert.deepEqual(hello, { ns: '/private', auth: { token: 'letmein', extra: [1, 2] } });
            });

            test('namespace /private refuses a wrong token with connect_error "bad token"', async (t) => {
                const err = await connectRefused(t, server.url, { mode, namespace: '/private', auth: { token: 'nope' } });
                assert.equal(err.message, 'bad token');
                const none = await connectRefused(t, server.url, { mode, namespace: '/private' });
                assert.equal(none.message, 'bad token');
            });

            test('an unknown namespace is refused with "Invalid namespace"', async (t) => {
                const err = await connectRefused(t, server.url, { mode, namespace: '/no-such-namespace' });
                assert.equal(err.message, 'Invalid namespace');
            });

            test('two namespaces share one connection; a refused one does not hurt the other', async (t) => {
                const manager = new Manager(server.url, { ...MODES[mode], reconnection: false, timeout: 5000 });
                const main = manager.socket('/');
                const priv = manager.socket('/private', { auth: { token: 'letmein' } });
                const bad = manager.socket('/nowhere');
                t.after(() => {
                    main.disconnect();
                    priv.disconnect();
                    bad.disconnect();
                });
                const helloMain = once(main, 'hello', 10000);
                const helloPriv = once(priv, 'hello', 10000);
                const [err] = await once(bad, 'connect_error', 10000);
                assert.equal(err.message, 'Invalid namespace');
                assert.deepEqual(await helloMain, [{ id: main.id }]);
                assert.deepEqual(await helloPriv, [{ ns: '/private', auth: { token: 'letmein' } }]);
                assert.deepEqual(await askAll(main, 'echo', 'multiplexed'), ['multiplexed']);
                priv.disconnect(); // leaving one namespace keeps the connection for the other
                assert.deepEqual(await askAll(main, 'echo', 'still'), ['still']);
            });

            test('a client that stops answering pings is closed by the server', { timeout: 30000 }, async (t) => {
                const pinged = await startServer(t, TESTBED, { flags: { pingInterval: 300, pingTimeout: 200 } });
                if (!pinged) return;
                const watcher = await connect(t, pinged.url, { mode });
                const mute = await connect(t, pinged.url, { mode });
                assert.equal((await ask(watcher, 'count')).sockets, 2);
                const engine = mute.io.engine;
                assert.equal(typeof engine._sendPacket, 'function', 'engine.io-client internals changed');
                const send = engine._sendPacket.bind(engine);
                engine._sendPacket = (type, ...rest) => (type === 'pong' ? undefined : send(type, ...rest));
                let pings = 0;
                engine.on('ping', () => pings++);
                const gone = once(mute, 'disconnect', 10000);
                const muted = Date.now();
                await waitFor(async () => (await ask(watcher, 'count')).sockets === 1, 10000,
                    'the server to drop the client that sends no pongs');
                const took = Date.now() - muted;
                assert.ok(took < 300 + 200 + 2000, `the silent client was dropped only after ${took} ms`);
                assert.ok(pings >= 1, 'the server never pinged');
                const [reason] = await gone;
                assert.ok(typeof reason === 'string' && reason.length > 0);
                // the client that does answer pings stays connected meanwhile
                assert.equal(watcher.connected, true);
                assert.deepEqual(await askAll(watcher, 'echo', 'alive'), ['alive']);
            });

            test('50 concurrent clients each broadcasting 20 messages: all get all, once, in order per sender',
                { timeout: 120000 }, async (t) => {
                    const clients = 50;
                    const perClient = 20;
                    const sockets = await Promise.all(Array.from({ length: clients }, () => open(t)));
                    const got = sockets.map(() => []);
                    sockets.forEach((s, i) => s.on('chat', (m) => got[i].push(m)));
                    await Promise.all(sockets.map(async (s, from) => {
                        for (let seq = 0; seq < perClient; seq++) {
                            s.emit('broadcast', { event: 'chat', data: { from, seq } }, () => {});
                        }
                        await ask(s, 'echo', 'flushed'); // acked after the broadcasts were handled
                    }));
                    const total = clients * perClient;
                    await waitFor(() => got.every((g) => g.length >= total), 60000,
                        `every client to get ${total} messages (got ${got.map((g) => g.length).join(',')})`);
                    await sync(sockets[0], sockets, 'after the storm');
                    got.forEach((messages, i) => {
                        assert.equal(messages.length, total, `client ${i} got duplicates`);
                        const bySender = Array.from({ length: clients }, () => []);
                        for (const m of messages) bySender[m.from].push(m.seq);
                        bySender.forEach((seqs, from) => assert.deepEqual(seqs, [...Array(perClient).keys()],
                            `client ${i}: messages of sender ${from} lost, duplicated or out of order`));
                    });
                });
        });
    }

    test('a WebSocket client that stops reading is dropped once 8 MB wait for it; the others get everything',
        { timeout: 60000 }, async (t) => {
            const stalled = await stalledClient(server.port);
            t.after(() => stalled.socket.destroy());
            const serverEnd = { local: server.port, remote: stalled.socket.localPort };
            assert.ok(tcpSocketExists(serverEnd), 'the server end is not to be found while connected');
            const reader = await connect(t, server.url, { mode: 'websocket' });
            let bigs = 0;
            reader.on('big', () => { bigs += 1; });
            const chunk = 'x'.repeat(500_000);
            for (let i = 0; i < 40; i++) {
                assert.deepEqual(await ask(reader, 'broadcast', { event: 'big', data: chunk }), { ok: true });
            }
            await waitFor(() => bigs === 40, 20000, `the reading client to get all 40 (got ${bigs})`);
            // 20 MB went to the stalled client: its socket buffers hold a few MB, the
            // server keeps at most 8 MB more, then gives up on it: the server's end
            // of the connection goes away although the client never read again.
            await waitFor(() => !tcpSocketExists(serverEnd), 15000, 'the server to drop the stalled connection');
            const { bytes, closed } = await stalled.resume(10000);
            assert.ok(closed, `the stalled client's connection is still open (read ${bytes} bytes)`);
            assert.ok(bytes < 40 * 500_000, `the stalled client got everything (${bytes} bytes)`);
            assert.equal(reader.connected, true);
            assert.deepEqual(await askAll(reader, 'echo', 'still here'), ['still here']);
        });
});

/** True while this machine has a TCP socket with these local and remote ports (Linux). */
function tcpSocketExists({ local, remote }) {
    const port = (address) => parseInt(address.split(':').pop(), 16);
    const tables = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) => {
        try { return [fs.readFileSync(file, 'utf8')]; } catch { return []; }
    });
    assert.ok(tables.length > 0, 'no /proc/net/tcp to look at');
    return tables.some((table) => table.split('\n').slice(1).some((line) => {
        const fields = line.trim().split(/\s+/);
        return fields.length > 2 && port(fields[1]) === local && port(fields[2]) === remote;
    }));
}

/**
 * A WebSocket client by hand that joins the main namespace and then stops
 * reading. `resume(ms)` reads again until the server closes the connection
 * (`closed`) or `ms` pass, and says how many bytes came in all.
 */
async function stalledClient(port) {
    const socket = net.connect(port, '127.0.0.1');
    let bytes = 0;
    let text = '';
    const joined = new Promise((resolve, reject) => {
        socket.on('error', reject);
        socket.on('data', (data) => {
            bytes += data.length;
            if (text === null) return;
            text += data.toString('latin1');
            if (text.includes('40{')) {
                text = null;
                resolve();
            }
        });
    });
    const closed = new Promise((resolve) => socket.on('close', () => resolve(true)));
    socket.on('error', () => {}); // a reset is what the test expects
    socket.write('GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n' +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    const mask = Buffer.from([9, 8, 7, 6]);
    const payload = Buffer.from('40');
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask,
        payload.map((b, i) => b ^ mask[i % 4])]));
    await joined;
    socket.pause();
    return {
        socket,
        async resume(ms) {
            socket.resume();
            const timeout = new Promise((resolve) => setTimeout(() => resolve(false), ms));
            return { closed: await Promise.race([closed, timeout]), bytes };
        },
    };
}
