// Any node answers any request (issue 22, item 1): three sessio nodes built with
// `--features redis` (SESSIO_REDIS_BIN) on one redis-server of this test's own, behind
// Debian's nginx as a plain round-robin balancer (no ip_hash, no affinity), both started
// by the test on free loopback ports with their files in a temporary directory. The
// official socket.io-client logs in through the balancer and connects with polling only,
// with the upgrade, and with WebSocket only; its polls land on every node, and the ones
// that land on a node other than the session's are forwarded there (nginx's access log
// says which node each request went to). A node killed with -9 costs its clients a `400`
// and a reconnection elsewhere; a forwarding header a client makes up is refused; and
// the owning node still refuses a cross-site Origin that came through another node.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { skip, startCluster, tagOf } from './nginx-cluster.mjs';
import { CookieJar, ask, connect, http, next, sleep, uniqueName, waitFor } from './clients.mjs';

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json'));
const { WebSocket } = require('ws');

// Short heartbeats, so that a client polls several times a second and its polls spread
// over the three nodes.
const PING_MS = 300;

describe('any node answers any request: three nodes behind round-robin nginx', { skip }, () => {
    let cluster, nodes, url, accessLog, portsOf, nodeOfSid;

    before(async () => {
        cluster = await startCluster({ env: { SESSIO_PING_INTERVAL: String(PING_MS), SESSIO_PING_TIMEOUT: '2000' } });
        ({ nodes, url, accessLog, portsOf, nodeOfSid } = cluster);
    });

    after(async () => {
        await cluster?.stop();
    });

    /** A user registered and logged in through the balancer: their cookie jar. */
    async function loggedIn() {
        const user = { username: uniqueName('fw'), password: 'forward-password-1' };
        assert.equal((await http(url, '/api/register', { method: 'POST', body: user })).status, 201);
        const jar = new CookieJar();
        assert.equal((await http(url, '/api/login', { method: 'POST', body: user, jar })).status, 200);
        return { user, jar };
    }

    /** Exchanges acks with `socket` for a while, across several heartbeats; fails if it drops. */
    async function staysConnected(socket, user) {
        let dropped = null;
        socket.on('disconnect', (reason) => { dropped = reason; });
        for (let i = 0; i < 12; i++) {
            assert.deepEqual(await ask(socket, 'echo', { i, text: `round ${i}` }), { i, text: `round ${i}` });
            assert.equal((await ask(socket, 'getUserInfo')).username, user.username);
            await sleep(PING_MS / 2);
        }
        // Several heartbeats: each is a poll answered, and a new one made.
        await sleep(PING_MS * 5);
        assert.deepEqual(await ask(socket, 'echo', 'still here'), 'still here');
        assert.equal(dropped, null, `the socket dropped: ${dropped}`);
        assert.ok(socket.connected);
    }

    /** Asserts that nginx sent requests of `sid` to other nodes than its owner, none refused. */
    function forwarded(sid, { atLeast }) {
        const owner = nodeOfSid(sid);
        assert.ok(owner, `sid ${sid} is tagged with one of the nodes`);
        const ports = portsOf(sid);
        assert.ok(ports.filter((p) => p !== owner.port).length >= atLeast,
            `requests of ${sid} that nginx sent to another node than its owner ${owner.port}: ${ports}`);
        assert.deepEqual(accessLog().filter((r) => r.uri.includes(sid) && r.status >= 400), []);
        return ports;
    }

    test('socket.io-client (polling) logs in, connects and stays connected through polls on every node', async (t) => {
        const { user, jar } = await loggedIn();
        const socket = await connect(t, url, { mode: 'polling', cookie: jar.header() });
        const [hello] = await next(socket, 'connected');
        assert.equal(hello.message, `Welcome ${user.username}!`);
        await staysConnected(socket, user);
        const ports = forwarded(socket.io.engine.id, { atLeast: 4 });
        assert.ok(ports.length >= 10, `polls: ${ports}`);
        assert.equal(new Set(ports).size, 3, `every node had polls: ${ports}`);
        socket.disconnect();
    });

    test('socket.io-client (upgrade): six clients upgrade through the balancer and stay connected', async (t) => {
        const clients = await Promise.all([0, 1, 2, 3, 4, 5].map(async () => {
            const { user, jar } = await loggedIn();
            const socket = await connect(t, url, { mode: 'upgrade', cookie: jar.header() });
            assert.equal((await next(socket, 'connected'))[0].message, `Welcome ${user.username}!`);
            return { user, socket, sid: socket.io.engine.id };
        }));
        await Promise.all(clients.map(({ socket, user }) => staysConnected(socket, user)));
        for (const { socket } of clients) {
            assert.equal(socket.io.engine.transport.name, 'websocket');
            socket.disconnect();
        }
        // nginx logs a WebSocket once it is closed.
        await waitFor(() => clients.every(({ sid }) => accessLog().some((r) => r.uri.includes(sid) && r.uri.includes('transport=websocket'))),
            5000, 'the WebSocket requests in the access log');
        const elsewhere = clients.map(({ sid }) => forwarded(sid, { atLeast: 0 }).filter((p) => p !== nodeOfSid(sid).port).length);
        assert.ok(elsewhere.reduce((a, b) => a + b) >= 6, `requests forwarded, per client: ${elsewhere}`);
    });

    test('socket.io-client (websocket) logs in, connects and stays connected', async (t) => {
        const { user, jar } = await loggedIn();
        const socket = await connect(t, url, { mode: 'websocket', cookie: jar.header() });
        assert.equal((await next(socket, 'connected'))[0].message, `Welcome ${user.username}!`);
        await staysConnected(socket, user);
        socket.disconnect();
    });

    test('a session opened on one node is polled through the second and upgraded through the third', async () => {
        const { jar } = await loggedIn();
        const cookie = jar.header();
        const [a, b, c] = nodes;
        const open = await http(a.url, '/socket.io/?EIO=4&transport=polling', { headers: { cookie } });
        assert.equal(open.status, 200, open.text);
        const { sid } = JSON.parse(open.text.slice(1));
        assert.ok(sid.startsWith(tagOf(a)), `${sid} is tagged with node A's ${tagOf(a)}`);
        const q = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
        const join = await http(b.url, q, { method: 'POST', raw: '40', headers: { cookie, 'content-type': 'text/plain;charset=UTF-8' } });
        assert.equal(join.status, 200, join.text);
        assert.equal(join.text, 'ok');
        const joined = await http(c.url, q, { headers: { cookie } });
        assert.equal(joined.status, 200, joined.text);
        assert.match(joined.text, /^40\{"sid":/);
        // The upgrade, through node B: a WebSocket relayed to node A.
        const ws = new WebSocket(`ws://127.0.0.1:${b.port}/socket.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`,
            { headers: { cookie } });
        const frames = [];
        let wake = () => {};
        ws.on('message', (data) => {
            const text = data.toString();
            if (text === '2') ws.send('3'); // the heartbeat
            else { frames.push(text); wake(); }
        });
        const frame = async (what) => {
            const deadline = Date.now() + 5000;
            while (!frames.some(what)) {
                if (Date.now() > deadline) throw new Error(`no such frame within 5 s; got ${JSON.stringify(frames)}`);
                await new Promise((resolve) => { wake = resolve; setTimeout(resolve, 100); });
            }
            return frames.splice(frames.findIndex(what), 1)[0];
        };
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
        ws.send('2probe');
        assert.equal(await frame((f) => f.startsWith('3')), '3probe');
        ws.send('5');
        ws.send('421["echo","through B"]');
        assert.equal(await frame((f) => f.startsWith('431')), '431["through B"]');
        // Several heartbeats later, still there.
        await sleep(PING_MS * 4);
        ws.send('422["echo","later"]');
        assert.equal(await frame((f) => f.startsWith('432')), '432["later"]');
        ws.close();
        await new Promise((resolve) => ws.once('close', resolve));
    });

    test('a broadcast from a socket on one node reaches a polling socket through any node', async (t) => {
        const a = await loggedIn();
        const b = await loggedIn();
        const polling = await connect(t, url, { mode: 'polling', cookie: a.jar.header() });
        const ws = await connect(t, url, { mode: 'websocket', cookie: b.jar.header() });
        await next(polling, 'connected');
        await next(ws, 'connected');
        for (let i = 0; i < 5; i++) {
            ws.emit('sendMessage', { message: `hello ${i}` });
            const [got] = await next(polling, 'message');
            assert.equal(got.message, `hello ${i}`);
        }
    });

    test('a forwarding header a client makes up is refused, through nginx or straight to a node', async (t) => {
        const { jar } = await loggedIn();
        const socket = await connect(t, url, { mode: 'polling', cookie: jar.header() });
        await next(socket, 'connected');
        const sid = socket.io.engine.id;
        const now = Math.floor(Date.now() / 1000);
        const forged = {
            'sessio-forwarded-for': `203.0.113.9 ${now} ${'ab'.repeat(32)}`,
            cookie: jar.header(),
        };
        const target = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
        for (const base of [url, ...nodes.map((n) => n.url)]) {
            const res = await http(base, target, { headers: forged });
            assert.equal(res.status, 403, `${base}: ${res.status} ${res.text}`);
            const handshake = await http(base, '/socket.io/?EIO=4&transport=polling', { headers: forged });
            assert.equal(handshake.status, 403, `${base} handshake: ${handshake.status} ${handshake.text}`);
        }
        // A plain X-Forwarded-For changes nothing (no --trust-proxy) and is not passed on.
        const res = await http(url, '/socket.io/?EIO=4&transport=polling', { headers: { 'x-forwarded-for': '203.0.113.9' } });
        assert.equal(res.status, 200);
        assert.ok(socket.connected, 'the real socket is untouched');
    });

    test('the owning node refuses a cross-site Origin that came through another node', async (t) => {
        const { jar } = await loggedIn();
        const socket = await connect(t, url, { mode: 'polling', cookie: jar.header() });
        await next(socket, 'connected');
        const sid = socket.io.engine.id;
        const owner = nodeOfSid(sid);
        const other = nodes.find((n) => n !== owner);
        const target = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
        const post = (origin) => http(other.url, target, {
            method: 'POST', raw: '42["echo","origin test"]', headers: { 'content-type': 'text/plain;charset=UTF-8', origin },
        });
        const refusals = (node) => node.output.split('refused a transport request').length - 1;
        const [ownerBefore, otherBefore] = [refusals(owner), refusals(other)];
        const evil = await post('http://evil.example');
        assert.equal(evil.status, 403, `${evil.status} ${evil.text}`);
        await waitFor(() => refusals(owner) > ownerBefore, 2000, 'the owner logging its refusal');
        assert.equal(refusals(other), otherBefore, 'the forwarding node passed the request on');
        // The same request from the site itself goes through.
        const fine = await post(`http://127.0.0.1:${other.port}`);
        assert.equal(fine.status, 200, `${fine.status} ${fine.text}`);
        assert.equal(fine.text, 'ok');
        assert.ok(socket.connected);
    });

    test('a node killed with -9: its clients get 400 and reconnect on the others', async (t) => {
        const { jar } = await loggedIn();
        const socket = await connect(t, url, {
            mode: 'polling', cookie: jar.header(), reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300,
        });
        await next(socket, 'connected');
        // The node that holds it goes (this is the file's last test).
        const victim = nodeOfSid(socket.io.engine.id);
        const survivors = nodes.filter((n) => n !== victim);
        const oldSid = socket.io.engine.id;
        const gone = new Promise((resolve) => socket.once('disconnect', resolve));
        const back = new Promise((resolve) => socket.io.once('reconnect', resolve));
        await victim.kill9();
        const target = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(oldSid)}`;
        for (const node of survivors) {
            const res = await http(node.url, target);
            assert.equal(res.status, 400, `${node.url}: ${res.status} ${res.text}`);
            assert.deepEqual(res.json, { code: 1, message: 'Session ID unknown' });
        }
        await gone;
        await Promise.race([back, sleep(10000).then(() => { throw new Error('no reconnection within 10 s'); })]);
        await waitFor(() => socket.connected, 5000, 'the socket connected again');
        const newSid = socket.io.engine.id;
        assert.notEqual(newSid, oldSid);
        assert.ok(!newSid.startsWith(tagOf(victim)), `${newSid} on a live node`);
        assert.deepEqual(await ask(socket, 'echo', 'after'), 'after');
        socket.disconnect();
    });
});
