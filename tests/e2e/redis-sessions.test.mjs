// Sessions in Redis shared with an existing Express app (issue 12, points 2, 3 and the
// session half of 5): two sessio nodes built with `--features redis` (SESSIO_REDIS_BIN)
// with `--session-store redis --cookie-format express`, and the Express peer
// (peers/express-app.mjs: express 5, express-session 1.18, connect-redis 7, node-redis 4)
// with the same secret, all on one redis-server of this test's own (a free loopback
// port, a temporary directory, no persistence). A login on either side authenticates a
// socket.io-client on a sessio node and the Express app's /api/me; a logout on either
// side ends the session everywhere, an open socket included; the key's TTL is the
// session's max age.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createRequire } from 'node:module';
import { freePort, startSharedServer } from './harness.mjs';
import { CookieJar, connect, connectRefused, http, next, once, sleep, uniqueName } from './clients.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const { createClient } = require('redis');

const bin = process.env.SESSIO_REDIS_BIN;
const redisServer = process.env.REDIS_SERVER || 'redis-server';
const haveRedis = spawnSync(redisServer, ['--version']).status === 0;
const skip = !bin
    ? 'no Redis build: set SESSIO_REDIS_BIN to a sessio built with --features redis (tests/run does)'
    : !haveRedis
        ? `no ${redisServer} (tests/install-deps redis)`
        : false;
const REDIS_APP = { name: 'app', kind: 'binary', bin: bin && path.resolve(bin), reference: false, available: !!bin };

const SECRET = 'shared by sessio and express 0001';
const CHECK_MS = 300;
const MAX_AGE_S = 600;

// redis-server and the Express app die with the test process, however it ends.
const children = new Set();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));

/** A child process that prints "ready" (or listens on `port`) once it serves. */
async function startChild(file, args, { port, ready } = {}) {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    let output = '';
    const keep = (chunk) => { output = (output + chunk).slice(-8000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`${file} exited: ${output}`);
        if (ready && output.includes(ready)) return { child, exited, output: () => output };
        if (port && await new Promise((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
            s.once('error', () => resolve(false));
        })) return { child, exited, output: () => output };
        await sleep(50);
    }
    child.kill('SIGKILL');
    throw new Error(`${file} did not start: ${output}`);
}

async function stopChild(proc) {
    if (!proc || proc.child.exitCode !== null) return;
    proc.child.kill('SIGTERM');
    await Promise.race([proc.exited, sleep(3000)]);
    proc.child.kill('SIGKILL');
}

/** The session id in a jar's `connect.sid` (express-session's `s:<id>.<mac>`). */
function sessionId(jar) {
    const value = decodeURIComponent(jar.cookies.get('connect.sid') || '');
    const m = /^s:([A-Za-z0-9_-]{32})\./.exec(value);
    assert.ok(m, `no express-session cookie in the jar: ${jar.header()}`);
    return m[1];
}

async function register(url, user) {
    const res = await http(url, '/api/register', { method: 'POST', body: user });
    assert.equal(res.status, 201, `register on ${url}: ${res.status} ${res.text}`);
}

async function login(url, user, jar = new CookieJar()) {
    const res = await http(url, '/api/login', { method: 'POST', body: user, jar });
    assert.equal(res.status, 200, `login on ${url}: ${res.status} ${res.text}`);
    return jar;
}

const newUser = (prefix) => ({ username: uniqueName(prefix), password: `pw-${Math.random().toString(36).slice(2)}` });

describe('sessions in Redis, shared with Express (express-session + connect-redis)', { skip }, () => {
    let redisDir, redis, redisUrl, client, nodeA, nodeB, express, expressUrl, env;

    before(async () => {
        redisDir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-redis-'));
        const port = await freePort();
        redisUrl = `redis://127.0.0.1:${port}`;
        redis = await startChild(redisServer, [
            '--port', String(port), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'no',
        ], { port });
        client = createClient({ url: redisUrl });
        client.on('error', () => {});
        await client.connect();
        env = {
            SESSIO_REDIS: redisUrl,
            SESSIO_SESSION_STORE: 'redis',
            SESSIO_COOKIE_FORMAT: 'express',
            SESSIO_SECRET: SECRET,
        };
        const flags = { sessionCheckInterval: CHECK_MS, sessionMaxAge: MAX_AGE_S };
        nodeA = await startSharedServer(REDIS_APP, { flags, env });
        nodeB = await startSharedServer(REDIS_APP, { flags, env });
        const expressPort = await freePort();
        expressUrl = `http://127.0.0.1:${expressPort}`;
        express = await startChild(process.execPath, [
            path.join(here, 'peers', 'express-app.mjs'), String(expressPort), redisUrl, SECRET,
        ], { ready: 'ready' });
    });

    after(async () => {
        await client?.disconnect().catch(() => {});
        await stopChild(express);
        await nodeA?.dispose();
        await nodeB?.dispose();
        await stopChild(redis);
        if (redisDir) rmSync(redisDir, { recursive: true, force: true });
    });

    test('the start-up line says which store and cookie', () => {
        assert.match(nodeA.output, /sessions in redis, cookie connect\.sid in express format/);
    });

    test('a login on node A authenticates a socket on node B, and B\'s /api/me', async (t) => {
        const user = newUser('ab');
        await register(nodeA.url, user);
        const jar = await login(nodeA.url, user);
        const id = sessionId(jar);
        assert.ok(await client.get(`sess:${id}`), 'the login is in Redis under sess:<id>');
        const me = await http(nodeB.url, '/api/me', { jar });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.json.username, user.username);
        const socket = await connect(t, nodeB.url, { cookie: jar.header() });
        const [hello] = await next(socket, 'connected');
        assert.equal(hello.message, `Welcome ${user.username}!`);
    });

    test('an Express login authenticates a sessio socket; a sessio login, Express\'s /api/me', async (t) => {
        const user = newUser('ex');
        await register(expressUrl, user);
        const jar = await login(expressUrl, user);
        const socket = await connect(t, nodeA.url, { cookie: jar.header() });
        const [hello] = await next(socket, 'connected');
        assert.equal(hello.message, `Welcome ${user.username}!`);
        assert.equal(typeof hello.userId, 'number'); // the Express app's user id
        // A count the sessio socket makes is in the session the Express app reads.
        assert.deepEqual(await socket.timeout(5000).emitWithAck('updateCount'), { count: 1 });
        const seen = await http(expressUrl, '/api/me', { jar });
        assert.equal(seen.status, 200, seen.text);
        assert.equal(seen.json.count, 1);

        const other = newUser('sx');
        await register(nodeB.url, other);
        const sessioJar = await login(nodeB.url, other);
        const me = await http(expressUrl, '/api/me', { jar: sessioJar });
        assert.equal(me.status, 200, `Express does not know sessio's login: ${me.text}`);
        assert.equal(me.json.username, other.username);
        assert.equal(me.json.count, 0);
    });

    test('a sessio logout ends the Express session', async () => {
        const user = newUser('lo');
        await register(nodeA.url, user);
        const jar = await login(nodeA.url, user);
        assert.equal((await http(expressUrl, '/api/me', { jar: jar.clone() })).status, 200);
        const out = await http(nodeB.url, '/api/logout', { method: 'POST', jar: jar.clone() });
        assert.equal(out.status, 200, out.text);
        assert.equal(await client.get(`sess:${sessionId(jar)}`), null);
        assert.equal((await http(expressUrl, '/api/me', { jar })).status, 401);
    });

    test('an Express logout disconnects the open sessio socket within the check interval and refuses the next handshake', async (t) => {
        const user = newUser('el');
        await register(expressUrl, user);
        const jar = await login(expressUrl, user);
        const cookie = jar.header();
        const socket = await connect(t, nodeB.url, { cookie });
        await next(socket, 'connected');
        const gone = once(socket, 'disconnect', CHECK_MS * 2 + 2000);
        const started = Date.now();
        const out = await http(expressUrl, '/api/logout', { method: 'POST', jar });
        assert.equal(out.status, 200, out.text);
        const [reason] = await gone;
        const took = Date.now() - started;
        assert.equal(reason, 'io server disconnect');
        assert.ok(took <= CHECK_MS * 2 + 500, `disconnected after ${took} ms, the check interval is ${CHECK_MS} ms`);
        const refused = await connectRefused(t, nodeA.url, { cookie });
        assert.equal(refused.message, 'Authentication required');
    });

    test('operator commands work on the Redis store: session list, user del ending the sessions', async (t) => {
        const user = newUser('op');
        await register(nodeA.url, user);
        const jar = await login(nodeA.url, user);
        const socket = await connect(t, nodeA.url, { cookie: jar.header() });
        await next(socket, 'connected');
        const operator = (...words) => spawnSync(bin, [...words, '--data-dir', nodeA.dataDir], {
            env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10000,
        });
        const list = operator('session', 'list');
        assert.equal(list.status, 0, list.stderr);
        assert.match(list.stdout, new RegExp(`^[0-9a-f]{64}\\t${user.username}\\texpires `, 'm'));
        assert.ok(!list.stdout.includes(sessionId(jar)), 'session list shows no session id');
        const gone = once(socket, 'disconnect', 2000);
        const del = operator('user', 'del', user.username);
        assert.equal(del.status, 0, del.stderr);
        assert.match(del.stdout, /ended 1 sessions/);
        assert.equal((await gone)[0], 'io server disconnect');
        assert.equal(await client.get(`sess:${sessionId(jar)}`), null);
        assert.equal((await http(expressUrl, '/api/me', { jar })).status, 401);
    });

    test('the key\'s TTL is the session\'s max age, on both sides', async (t) => {
        const user = newUser('tt');
        await register(nodeA.url, user);
        const sessioJar = await login(nodeA.url, user);
        const ttl = await client.ttl(`sess:${sessionId(sessioJar)}`);
        assert.ok(ttl > MAX_AGE_S - 5 && ttl <= MAX_AGE_S, `sessio's session: TTL ${ttl} s, max age ${MAX_AGE_S} s`);
        const stored = JSON.parse(await client.get(`sess:${sessionId(sessioJar)}`));
        assert.equal(stored.cookie.originalMaxAge, MAX_AGE_S * 1000);
        assert.ok(Math.abs(Date.parse(stored.cookie.expires) - Date.now() - ttl * 1000) < 5000, stored.cookie.expires);

        await register(expressUrl, user);
        const expressJar = await login(expressUrl, user);
        const expressTtl = await client.ttl(`sess:${sessionId(expressJar)}`);
        assert.ok(expressTtl > 86400 - 5 && expressTtl <= 86400, `Express's session: TTL ${expressTtl} s`);
        // A change made on sessio keeps the TTL and the cookie object Express gave the session.
        const before = JSON.parse(await client.get(`sess:${sessionId(expressJar)}`)).cookie;
        const socket = await connect(t, nodeA.url, { cookie: expressJar.header() });
        assert.deepEqual(await socket.timeout(5000).emitWithAck('updateCount'), { count: 1 });
        const after = JSON.parse(await client.get(`sess:${sessionId(expressJar)}`));
        assert.equal(after.count, 1);
        assert.deepEqual(after.cookie, before);
        const kept = await client.ttl(`sess:${sessionId(expressJar)}`);
        assert.ok(kept > 86400 - 10 && kept <= 86400, `TTL ${kept} s after sessio's change`);
    });

    // Last: it stops Redis (which keeps nothing) and starts it again.
    test('while Redis is down a login is refused with 500 and open sockets stay; then it works again', async (t) => {
        const user = newUser('rd');
        await register(nodeA.url, user);
        const jar = await login(nodeA.url, user);
        const socket = await connect(t, nodeA.url, { cookie: jar.header() });
        await next(socket, 'connected');
        const dropped = [];
        socket.on('disconnect', (reason) => dropped.push(reason));

        await stopChild(redis);
        const down = await http(nodeA.url, '/api/login', { method: 'POST', body: user, jar: new CookieJar() });
        assert.equal(down.status, 500, down.text);
        assert.equal(down.json.error, 'session store unavailable');
        await sleep(CHECK_MS * 3); // session checks fail meanwhile: no one is disconnected for it
        assert.deepEqual(dropped, []);
        assert.deepEqual(await socket.timeout(5000).emitWithAck('echo', 'still here'), 'still here');

        redis = await startChild(redisServer, [
            '--port', redisUrl.split(':').at(-1), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'no',
        ], { port: Number(redisUrl.split(':').at(-1)) });
        const again = await login(nodeA.url, user);
        assert.equal((await http(nodeB.url, '/api/me', { jar: again })).status, 200);
    });
});
