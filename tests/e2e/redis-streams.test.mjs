// Issue 22, item 4: recovery on any node. Two sessio app nodes with --redis-adapter streams
// (SESSIO_REDIS_BIN, sessions and accounts in Redis so that a login holds on both) and a
// Node server using @socket.io/redis-streams-adapter 0.3 (peers/streams-peer.mjs, its
// package pinned in peers/streams/), and, when TESTBED_REDIS_BIN is set, the testbed built
// with the redis feature in the same mode (it triggers fetchSockets and serverSideEmit from
// sessio). A socket.io-client 4.8 that drops from one server and reconnects to another
// comes back with its id, its rooms and every event it missed, once and in order.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ServerProcess, freePort } from './harness.mjs';
import { CookieJar, connect, http, once, sleep, uniqueName, waitFor } from './clients.mjs';
import { REDIS_APP, skip, startRedis } from './redis.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const { createClient } = require('redis');
const testbedBin = process.env.TESTBED_REDIS_BIN;
const PUBLIC = 'socket.io#/#';

const children = new Set();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));

/** A child process that prints `ready` (a regexp) once it serves. */
async function child(file, args, ready) {
    const proc = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let output = '';
    const keep = (chunk) => { output += chunk.toString(); };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    await waitFor(() => ready.test(output), 10000, `${file} ready\n${output}`);
    return { proc, exited, output: () => output };
}

/** The events (name and arguments) a socket got, in order, but the greeting. */
const events = (socket) => socket.inbox.filter((e) => e.event !== 'connected');

/** An offset as the streams adapter gives them: a stream entry id. */
const OFFSET = /^\d+-\d+$/;

/** Drops a socket's transport the way a network does, and waits until `server` has its session record. */
async function drop(socket, monitor, keys) {
    const gone = once(socket, 'disconnect');
    socket.io.engine.close();
    await gone;
    await waitFor(async () => (await monitor.keys('sio:session:*')).length > keys, 5000, 'the session record');
}

/** Points a dropped socket at another server and reconnects it there. */
async function reconnectTo(socket, url) {
    socket.io.uri = url;
    const connected = once(socket, 'connect', 10000);
    socket.connect();
    await connected;
}

describe('redis streams: recovery on any node, and one cluster with Node servers', { skip }, () => {
    let redis, redisDir, url, a, b, peer, testbed, monitor;

    const members = () => (testbed ? 4 : 3);
    const servers = async () => Number((await monitor.sendCommand(['PUBSUB', 'NUMSUB', PUBLIC]))[1]);

    /** A user registered and logged in (on node A; sessions and accounts are in Redis). */
    async function login(prefix) {
        const user = { username: uniqueName(prefix), password: 'streams-password-1' };
        assert.equal((await http(a.url, '/api/register', { method: 'POST', body: user })).status, 201);
        const jar = new CookieJar();
        assert.equal((await http(a.url, '/api/login', { method: 'POST', body: user, jar })).status, 200);
        return jar;
    }

    /** Everything sent to `socket` before this has come once it gets the tag (a Node broadcast). */
    async function sync(t, socket) {
        const tag = uniqueName('sync');
        const n = await connect(t, peer.url);
        await n.emitWithAck('broadcast', tag);
        await waitFor(() => socket.inbox.some((e) => e.event === 'message' && e.args[0].msg === tag), 5000, 'the sync');
        n.disconnect();
    }

    before(async () => {
        redisDir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-streams-'));
        const port = await freePort();
        redisPort = port;
        url = `redis://127.0.0.1:${port}`;
        redis = await startRedis(port, redisDir);
        monitor = createClient({ url });
        monitor.on('error', () => {});
        await monitor.connect();
        env = {
            SESSIO_REDIS: url,
            SESSIO_REDIS_ADAPTER: 'streams',
            SESSIO_SESSION_STORE: 'redis',
            SESSIO_ACCOUNT_STORE: 'redis',
            SESSIO_RECOVERY_WINDOW: '60',
            SESSIO_SECRET: 'streams-e2e-shared-secret',
        };
        a = new ServerProcess(REDIS_APP, { env });
        b = new ServerProcess(REDIS_APP, { env });
        await Promise.all([a.start(), b.start()]);
        const peerPort = await freePort();
        peer = await child(process.execPath, [path.join(here, 'peers', 'streams-peer.mjs'), String(peerPort), url], /ready/);
        peer.url = `http://127.0.0.1:${peerPort}`;
        if (testbedBin) {
            const tbPort = await freePort();
            testbed = await child(testbedBin, ['--listen', `127.0.0.1:${tbPort}`, '--redis', url,
                '--redis-adapter', 'streams', '--recovery-window', '60'], /connected as/);
            testbed.url = `http://127.0.0.1:${tbPort}`;
        }
        await waitFor(async () => (await servers()) === members(), 10000, 'every server subscribed');
    });

    let redisPort, env;

    after(async () => {
        await monitor?.disconnect().catch(() => {});
        await Promise.all([a?.dispose(), b?.dispose()]);
        for (const c of [peer, testbed]) {
            c?.proc.kill();
            await c?.exited;
        }
        redis?.child.kill();
        await redis?.exited;
        rmSync(redisDir, { recursive: true, force: true });
    });

    test('the start-up line says which adapter', () => {
        assert.match(a.output, /adapter: redis streams at redis:\/\/127\.0\.0\.1:\d+, stream socket\.io, .*recovery on any node on/);
        assert.match(a.output, /redis streams adapter: connected as /);
    });

    for (const mode of ['websocket', 'polling']) {
        test(`${mode}: a client dropped from A comes back on B with its id, rooms and every missed event once, in order`,
            async (t) => {
                const jar = await login('ra');
                const other = await login('rb');
                const s = await connect(t, a.url, { mode, cookie: jar.header() });
                const o = await connect(t, b.url, { cookie: other.header() });
                const n = await connect(t, peer.url);
                // A witness: a socket of the same session on B, in the same rooms, that stays.
                const w = await connect(t, b.url, { cookie: jar.header() });
                // An event to the socket itself carries a stream offset last.
                s.emit('requestData');
                await waitFor(() => events(s).some((e) => e.event === 'response'), 5000, 'the response');
                const response = events(s).find((e) => e.event === 'response');
                assert.match(response.args.at(-1), OFFSET, JSON.stringify(response.args));
                // A Node socket puts it in a room of its own.
                const room = uniqueName('room');
                await n.emitWithAck('socketsJoin', [s.id, w.id], room);
                await waitFor(async () => (await n.timeout(5000).emitWithAck('fetchSockets', room)).length === 2,
                    5000, 'in the room');
                const id = s.id;
                const keys = (await monitor.keys('sio:session:*')).length;
                const before = events(s).length;
                await drop(s, monitor, keys);
                // Meanwhile: to everyone from B and from Node, to its session's room from B, to its
                // Node room, and what is not for it.
                await o.emitWithAck('sendMessage', { message: 'm1 from b' });
                assert.equal((await http(b.url, '/api/notify', { method: 'POST', body: { message: 'm2 to its session' }, jar })).status, 200);
                await n.emitWithAck('broadcast', 'm3 from node');
                await n.emitWithAck('toRoom', room, 'm4 to its room');
                await n.emitWithAck('toRoom', uniqueName('other'), 'not for it');
                assert.equal((await http(b.url, '/api/notify', { method: 'POST', body: { message: 'not for it' }, jar: other })).status, 200);
                await reconnectTo(s, b.url);
                assert.equal(s.id, id, 'the same socket id');
                assert.equal(s.recovered, true);
                await sync(t, s);
                // What it missed is what the witness got meanwhile: the same events with the
                // same offsets, in the same order (the stream's: emits from two servers are
                // in the order Redis took them, not always the order they were asked for).
                const sent = (socket, from) => events(socket).slice(from)
                    .filter((e) => (e.event === 'message' || e.event === 'notification')
                        && /^m\d/.test(e.args[0].message ?? e.args[0].msg))
                    .map((e) => `${e.event} ${e.args[0].message ?? e.args[0].msg} ${e.args.at(-1)}`);
                await sync(t, w);
                const missed = sent(s, before);
                assert.deepEqual(missed, sent(w, 0));
                assert.deepEqual(missed.map((x) => x.split(' ').slice(0, 2).join(' ')).sort(),
                    ['message m1', 'message m3', 'message m4', 'notification m2']);
                for (const x of missed) assert.match(x.split(' ').at(-1), OFFSET);
                // Its rooms came along: its session's room (a notify from A) and the Node one.
                assert.equal((await http(a.url, '/api/notify', { method: 'POST', body: { message: 'after' }, jar })).status, 200);
                await n.emitWithAck('toRoom', room, 'after, to its room');
                await waitFor(() => events(s).filter((e) => e.args[0]?.message === 'after' || e.args[0]?.msg === 'after, to its room').length === 2,
                    5000, 'its rooms reach it on B');
                await sleep(300); // a duplicate would come by now
                const seen = events(s).map((e) => `${e.event} ${e.args[0]?.message ?? e.args[0]?.msg}`);
                for (const text of ['message m1 from b', 'message m3 from node', 'notification after', 'message after, to its room']) {
                    assert.equal(seen.filter((x) => x === text).length, 1, `${text} once in ${seen}`);
                }
                assert.equal(seen.filter((x) => x.endsWith('not for it')).length, 0);
                // Its record was taken: it is in Redis no more.
                assert.equal((await monitor.keys('sio:session:*')).length, keys);
            });
    }

    test('events in flight when the transport drops come once, in order, on the other node', async (t) => {
        const jar = await login('fa');
        const s = await connect(t, a.url, { cookie: jar.header() });
        const n = await connect(t, peer.url);
        const room = uniqueName('burst');
        await n.emitWithAck('socketsJoin', [s.id], room);
        await waitFor(async () => (await n.timeout(5000).emitWithAck('fetchSockets', room)).length === 1, 5000, 'in the room');
        const keys = (await monitor.keys('sio:session:*')).length;
        const seen = [];
        const dropped = new Promise((resolve) => {
            s.on('message', (m) => {
                if (!m.msg?.startsWith?.('n')) return;
                seen.push(Number(m.msg.slice(1)));
                if (m.msg === 'n19') {
                    s.once('disconnect', resolve);
                    setTimeout(() => s.io.engine.close(), 0);
                }
            });
        });
        const sent = [];
        for (let i = 0; i < 40; i++) sent.push(n.emitWithAck('toRoom', room, `n${i}`));
        await dropped;
        await Promise.all(sent);
        await waitFor(async () => (await monitor.keys('sio:session:*')).length > keys, 5000, 'the session record');
        for (let i = 40; i < 50; i++) await n.emitWithAck('toRoom', room, `n${i}`);
        await reconnectTo(s, b.url);
        assert.equal(s.recovered, true);
        await sync(t, s);
        assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i));
    });

    test('a made-up pid, a made-up offset, or a second claim of the same session give a new socket', async (t) => {
        const jar = await login('ma');
        const s = await connect(t, a.url, { cookie: jar.header(), auth: { pid: 'nobody', offset: '1-0' } });
        assert.equal(s.recovered, false);
        s.emit('requestData');
        await waitFor(() => events(s).some((e) => e.event === 'response'), 5000, 'the response');
        const keys = (await monitor.keys('sio:session:*')).length;
        const id = s.id;
        await drop(s, monitor, keys);
        // A claim with its pid but an offset that was never given out.
        const pid = s._pid;
        const liar = await connect(t, b.url, { cookie: jar.header(), auth: { pid, offset: '1-0' } });
        assert.equal(liar.recovered, false);
        assert.notEqual(liar.id, id);
        // The record was taken by that claim: the real client cannot have it twice.
        await reconnectTo(s, b.url);
        assert.equal(s.recovered, false);
        assert.notEqual(s.id, id);
    });

    test('a replay over half what may wait for the client gives a new socket', async (t) => {
        const c = new ServerProcess(REDIS_APP, { env: { ...env, SESSIO_MAX_QUEUED_BYTES: '65536' } });
        t.after(() => c.dispose());
        await c.start();
        const jar = await login('qa');
        const s = await connect(t, a.url, { cookie: jar.header() });
        const n = await connect(t, peer.url);
        s.emit('requestData');
        await waitFor(() => events(s).some((e) => e.event === 'response'), 5000, 'the response');
        const id = s.id;
        await drop(s, monitor, (await monitor.keys('sio:session:*')).length);
        // 80 events of 1 KB: 80 KB, over half of C's 64 KiB, under A's and B's 1 MB.
        for (let i = 0; i < 80; i++) await n.emitWithAck('broadcast', `${i}`.padEnd(1000, '.'));
        await reconnectTo(s, c.url);
        assert.equal(s.recovered, false);
        assert.notEqual(s.id, id);
        await waitFor(() => /not a recovered one: it missed more than it may be sent at once/.test(c.output), 5000,
            'the reason logged');
    });

    test('another session cannot take a dropped socket', async (t) => {
        const jar = await login('oa');
        const thief = await login('ob');
        const s = await connect(t, a.url, { cookie: jar.header() });
        s.emit('requestData');
        await waitFor(() => events(s).some((e) => e.event === 'response'), 5000, 'the response');
        const offset = events(s).find((e) => e.event === 'response').args.at(-1);
        const keys = (await monitor.keys('sio:session:*')).length;
        const id = s.id;
        await drop(s, monitor, keys);
        const other = await connect(t, b.url, { cookie: thief.header(), auth: { pid: s._pid, offset } });
        assert.equal(other.recovered, false);
        assert.notEqual(other.id, id);
    });

    test('a mixed cluster: broadcasts both ways, rooms, fetchSockets and serverSideEmit', async (t) => {
        const jar = await login('ca');
        const s = await connect(t, a.url, { cookie: jar.header() });
        const sb = await connect(t, b.url, { cookie: (await login('cb')).header() });
        const n = await connect(t, peer.url);
        // sessio to Node and Node to sessio.
        await s.emitWithAck('sendMessage', { message: 'from sessio' });
        await n.emitWithAck('broadcast', 'from node');
        const texts = (socket) => socket.inbox.filter((e) => e.event === 'message').map((e) => e.args[0].message ?? e.args[0].msg);
        for (const socket of [s, sb, n]) {
            await waitFor(() => ['from sessio', 'from node'].every((x) => texts(socket).includes(x)), 5000, 'both broadcasts');
        }
        await sleep(300);
        for (const socket of [s, sb, n]) {
            assert.equal(texts(socket).filter((x) => x === 'from sessio').length, 1);
            assert.equal(texts(socket).filter((x) => x === 'from node').length, 1);
        }
        // Node's fetchSockets lists sessio's sockets (no cookie), and a room made from Node reaches them.
        const all = await n.timeout(5000).emitWithAck('fetchSockets', null);
        for (const id of [s.id, sb.id, n.id]) assert.ok(all.some((x) => x.id === id), `${id} listed`);
        const room = uniqueName('mixed');
        await n.emitWithAck('socketsJoin', [s.id, n.id], room);
        await waitFor(async () => (await n.timeout(5000).emitWithAck('fetchSockets', room)).length === 2, 5000, 'two in the room');
        await n.emitWithAck('toRoom', room, 'to the mixed room');
        await waitFor(() => texts(s).includes('to the mixed room') && texts(n).includes('to the mixed room'), 5000, 'the room');
        await sleep(200);
        assert.ok(!texts(sb).includes('to the mixed room'));
        // A Node broadcast waiting for acks gets sessio's answers.
        s.on('question', (cb) => cb({ from: 'sessio a' }));
        sb.on('question', (cb) => cb({ from: 'sessio b' }));
        n.on('question', (cb) => cb({ from: 'node' }));
        const answers = await n.timeout(8000).emitWithAck('ackBroadcast', 3000);
        assert.ok(!answers.error, answers.error);
        for (const from of ['sessio a', 'sessio b', 'node']) assert.ok(answers.some((x) => x.from === from), from);
        // serverSideEmit from Node: the app nodes have no "ping" handler, so Node times out
        // with the answers that came (the testbed's, when it runs).
        const fromNode = await n.timeout(9000).emitWithAck('serverSideEmit', 1);
        assert.match(fromNode.error, new RegExp(`only ${testbed ? 1 : 0} responses received out of ${members() - 1}`));
    });

    test('fetchSockets and serverSideEmit from sessio see the Node server',
        { skip: !testbedBin && 'TESTBED_REDIS_BIN not set (the testbed built with --features redis)' }, async (t) => {
            const n = await connect(t, peer.url);
            const tb = await connect(t, testbed.url);
            const s = await connect(t, a.url, { cookie: (await login('ta')).header() });
            const all = await tb.timeout(8000).emitWithAck('fetchSockets');
            const ids = all.map((x) => x.id);
            for (const id of [n.id, tb.id, s.id]) assert.ok(ids.includes(id), `${id} in ${ids}`);
            assert.deepEqual(all.find((x) => x.id === n.id).rooms, [n.id]);
            // The app nodes do not answer "ping"; Node does.
            const answers = await tb.timeout(8000).emitWithAck('serverSideEmit', 1);
            assert.match(answers.error, /only 1 responses received out of 3/);
            // Node's serverSideEmitWithAck gets the testbed's answer among them.
            const room = uniqueName('tb');
            await tb.emitWithAck('join', room);
            await n.emitWithAck('toRoom', room, 'node to the testbed room');
            await waitFor(() => tb.inbox.some((e) => e.event === 'message' && e.args[0].msg === 'node to the testbed room'),
                5000, 'a Node room emit on the testbed');
            // A disconnect of a room from sessio reaches the Node server's socket in it.
            const doomed = uniqueName('doomed');
            const victim = await connect(t, peer.url);
            await victim.emitWithAck('join', doomed);
            const gone = once(victim, 'disconnect');
            await tb.emitWithAck('disconnectRoom', { room: doomed });
            assert.equal((await gone)[0], 'io server disconnect');
            // Binary both ways (base64 MessagePack entries on the stream).
            await tb.emitWithAck('relay', { from: 'testbed', file: Buffer.from([1, 0, 255]) });
            await n.emitWithAck('relay', { from: 'node', file: Buffer.from([7, 8]) }, Buffer.from('raw'));
            const relayed = (socket, from) => socket.inbox.find((e) => e.event === 'relayed' && e.args[0].from === from);
            await waitFor(() => relayed(n, 'testbed') && relayed(tb, 'node') && relayed(s, 'node'), 5000, 'both relays');
            assert.deepEqual([...relayed(n, 'testbed').args[0].file], [1, 0, 255]);
            for (const socket of [tb, s]) {
                const { args } = relayed(socket, 'node');
                assert.deepEqual([...args[0].file], [7, 8]);
                assert.equal(Buffer.from(args[1]).toString(), 'raw');
                assert.match(args[2], OFFSET, 'its offset after the arguments');
            }
        });

    test('recovery from a Node server to sessio, and back', async (t) => {
        const jar = await login('na');
        // The client starts on the Node server (its cookie goes along, unused there).
        const s = await connect(t, peer.url, { cookie: jar.header() });
        const o = await connect(t, b.url, { cookie: (await login('nb')).header() });
        const n = await connect(t, peer.url);
        const room = uniqueName('noderoom');
        await s.emitWithAck('join', room);
        // `n` witnesses its room too: each event is sent once the one before is in the
        // stream (n got it), so that the order asked for is the stream's.
        await n.emitWithAck('join', room);
        const nodeGot = (text) => n.inbox.some((e) => e.event === 'message'
            && (e.args[0].message ?? e.args[0].msg) === text);
        const landed = (text) => waitFor(() => nodeGot(text), 5000, `${text} in the stream`);
        await n.emitWithAck('broadcast', 'first');
        await waitFor(() => events(s).some((e) => e.args[0]?.msg === 'first'), 5000, 'an offset');
        const id = s.id;
        let keys = (await monitor.keys('sio:session:*')).length;
        await drop(s, monitor, keys);
        await o.emitWithAck('sendMessage', { message: 'k1 from sessio' });
        await landed('k1 from sessio');
        await n.emitWithAck('toRoom', room, 'k2 to its room');
        await reconnectTo(s, a.url);
        assert.equal(s.id, id, 'Node\'s socket id, on sessio');
        assert.equal(s.recovered, true);
        await sync(t, s);
        const texts = () => events(s).map((e) => e.args[0]?.message ?? e.args[0]?.msg);
        assert.deepEqual(texts().filter((x) => /^k\d/.test(x)), ['k1 from sessio', 'k2 to its room']);
        // Its Node room came along to sessio.
        await n.emitWithAck('toRoom', room, 'k3 to its room on sessio');
        await waitFor(() => texts().includes('k3 to its room on sessio'), 5000, 'its room on sessio');
        // And back to Node.
        keys = (await monitor.keys('sio:session:*')).length;
        await drop(s, monitor, keys);
        await o.emitWithAck('sendMessage', { message: 'k4 from sessio' });
        await landed('k4 from sessio');
        await n.emitWithAck('toRoom', room, 'k5 to its room');
        // The Node adapter reads what a socket missed and then lets it join, while its
        // reading of the stream goes on: what it reads in between is lost, what it has
        // not read yet comes twice (its FIXME). So both are read on the Node server
        // (its other client got them) before the client comes back there.
        await landed('k5 to its room');
        await reconnectTo(s, peer.url);
        assert.equal(s.id, id);
        assert.equal(s.recovered, true);
        await sync(t, s);
        assert.deepEqual(texts().filter((x) => /^k\d/.test(x)),
            ['k1 from sessio', 'k2 to its room', 'k3 to its room on sessio', 'k4 from sessio', 'k5 to its room']);
        // Its rooms: its own, the Node one, and its session's, which it joined on sessio.
        const rooms = await s.emitWithAck('rooms');
        assert.ok(rooms.includes(id) && rooms.includes(room) && rooms.length === 3, JSON.stringify(rooms));
    });

    test("Redis keeps bounded: the stream is trimmed near 10000 entries and records expire with the window", async () => {
        const info = await monitor.sendCommand(['XLEN', 'socket.io']);
        assert.ok(Number(info) > 0);
        // A dropped socket's record lives as long as the window (60 s here), no longer.
        const dropped = await connect(null, a.url, { cookie: (await login('lt')).header() });
        await drop(dropped, monitor, (await monitor.keys('sio:session:*')).length);
        const keys = await monitor.keys('sio:session:*');
        assert.ok(keys.length > 0);
        for (const key of keys) {
            const ttl = Number(await monitor.sendCommand(['PTTL', key]));
            assert.ok(ttl > 50000 && ttl <= 60000, `${key}: ${ttl} ms`);
        }
        // 12000 entries more from sessio (a socket's own events): trimmed to about maxLen.
        const jar = await login('la');
        const s = await connect(null, a.url, { cookie: jar.header() });
        for (let i = 0; i < 120; i++) {
            await Promise.all(Array.from({ length: 100 }, () => s.emitWithAck('requestData')));
        }
        // Each came back off the stream: all 12000 are in it (or were).
        await waitFor(() => s.inbox.filter((e) => e.event === 'response').length === 12000, 20000, 'every response');
        s.disconnect();
        const length = Number(await monitor.sendCommand(['XLEN', 'socket.io']));
        assert.ok(length <= 10000 + 1000, `the stream holds ${length} entries`);
        assert.ok(length >= 9000, `the stream holds ${length} entries`);
    });
    test('Redis going away: broadcasts reach local sockets at once (no offset), and the link comes back', async (t) => {
        const jar = await login('ga');
        const [one, two] = [await connect(t, a.url, { cookie: jar.header() }), await connect(t, a.url, { cookie: (await login('gb')).header() })];
        const warnings = () => (a.output.match(/redis streams adapter: Redis unreachable/g) || []).length;
        const before = warnings();
        redis.child.kill();
        await redis.exited;
        await waitFor(() => warnings() > before, 8000, 'a warning');
        await one.emitWithAck('sendMessage', { message: 'while redis is down' });
        await waitFor(() => two.inbox.some((e) => e.event === 'message' && e.args[0].message === 'while redis is down'),
            3000, 'local delivery');
        const got = two.inbox.find((e) => e.event === 'message' && e.args[0].message === 'while redis is down');
        assert.equal(got.args.length, 1, 'no offset: it is not in the stream');
        redis = await startRedis(redisPort, redisDir);
        await waitFor(() => /redis streams adapter: reconnected/.test(a.output), 10000, 'reconnected');
        await monitor.ping().catch(() => {});
        await waitFor(async () => (await servers().catch(() => 0)) === members(), 10000, 'every server back');
        await one.emitWithAck('sendMessage', { message: 'after the restart' });
        await waitFor(() => two.inbox.some((e) => e.event === 'message' && e.args[0].message === 'after the restart'
            && OFFSET.test(e.args.at(-1))), 5000, 'off the stream again, with an offset');
    });
});
