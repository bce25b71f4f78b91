// One set of accounts for the cluster (issue 22, item 2): two sessio nodes built with
// `--features redis` (SESSIO_REDIS_BIN) with `--account-store redis --session-store redis`
// on one redis-server of this test's own (a free loopback port, a temporary directory, no
// persistence). A user registered through node A logs in on node B; of two registrations
// of one name on the two nodes at once exactly one wins; `sessio user add|list|passwd|del`
// against node B's data directory (over its control socket) and against a data directory
// no server holds (straight to Redis) see and change the same accounts, and a user
// deleted or given a new password on B can no longer log in on A, whose open socket of
// that user is disconnected by the time the command returns (the nodes check their
// sessions only every ten minutes here, so only the cluster's disconnect can do it), also
// with express-session's cookie, whose rooms are named by the session id. The login
// throttle counts a name's failures on both nodes.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { freePort, startSharedServer } from './harness.mjs';
import { REDIS_APP, bin, skip, startRedis } from './redis.mjs';
import { CookieJar, connect, http, next, sleep, uniqueName } from './clients.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const { createClient } = require('redis');

// Longer than the file runs: a socket that goes, goes by the operator's command.
const CHECK_MS = 600000;
// Between the command's return and the client seeing its socket closed: loopback only.
const SEEN_MS = 500;

const newUser = (prefix) => ({ username: uniqueName(prefix), password: `pw-${Math.random().toString(36).slice(2)}` });

async function register(url, user) {
    return http(url, '/api/register', { method: 'POST', body: user });
}

async function login(url, user, jar = new CookieJar()) {
    const res = await http(url, '/api/login', { method: 'POST', body: user, jar });
    return { status: res.status, text: res.text, jar };
}

describe('accounts in Redis: one set for the cluster', { skip }, () => {
    let redisDir, redis, client, nodeA, nodeB, env, idleDir;
    const flags = { sessionCheckInterval: CHECK_MS };

    /** `sessio WORDS...` against `dataDir`, the password (if any) on stdin. */
    const operator = (dataDir, words, password) => spawnSync(bin, [...words, '--data-dir', dataDir], {
        env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20000,
        input: password === undefined ? '' : `${password}\n`,
    });

    /** `operator` without blocking the event loop, so sockets see what happens meanwhile. */
    const operatorAsync = (dataDir, words, password) => new Promise((resolve, reject) => {
        const child = spawn(bin, [...words, '--data-dir', dataDir], { env: { ...process.env, ...env } });
        let stdout = '', stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
        child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
        child.once('error', reject);
        child.once('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
        child.stdin.end(password === undefined ? '' : `${password}\n`);
    });

    /** A socket of `user` on `node` (A unless told), and a promise of its disconnect reason. */
    async function socketOn(t, user, node = nodeA) {
        const { jar } = await login(node.url, user);
        const socket = await connect(t, node.url, { cookie: jar.header() });
        await next(socket, 'connected');
        const gone = new Promise((resolve) => socket.once('disconnect', resolve));
        return { jar, gone };
    }

    /** Called once the command returned: its socket went by then (give or take SEEN_MS). */
    async function goneByReturn({ gone }) {
        const reason = await Promise.race([gone, sleep(SEEN_MS).then(() => null)]);
        assert.ok(reason, `the other node's socket was still connected ${SEEN_MS} ms after the command returned`);
        assert.equal(reason, 'io server disconnect');
    }

    before(async () => {
        redisDir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-redis-accounts-'));
        idleDir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-idle-node-'));
        const port = await freePort();
        const redisUrl = `redis://127.0.0.1:${port}`;
        redis = await startRedis(port, redisDir);
        client = createClient({ url: redisUrl });
        client.on('error', () => {});
        await client.connect();
        // One secret, so that a cookie one node signs is good on the other.
        env = {
            SESSIO_REDIS: redisUrl, SESSIO_SESSION_STORE: 'redis', SESSIO_ACCOUNT_STORE: 'redis',
            SESSIO_SECRET: 'shared by both sessio nodes 0001',
        };
        nodeA = await startSharedServer(REDIS_APP, { flags, env });
        nodeB = await startSharedServer(REDIS_APP, { flags, env });
    });

    after(async () => {
        await client?.disconnect().catch(() => {});
        await nodeA?.dispose();
        await nodeB?.dispose();
        if (redis && redis.child.exitCode === null) {
            redis.child.kill('SIGTERM');
            await Promise.race([redis.exited, sleep(3000)]);
        }
        for (const dir of [redisDir, idleDir]) if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('the start-up lines say the accounts are in redis', () => {
        assert.match(nodeA.output, /accounts in redis, shared by every node on it/);
        assert.doesNotMatch(nodeA.output, /accounts in redis but sessions in sled/);
    });

    test('registered on node A, a user logs in on node B; the record in Redis has the hash, not the password', async (t) => {
        const user = newUser('ab');
        const made = await register(nodeA.url, user);
        assert.equal(made.status, 201, made.text);
        const { status, text, jar } = await login(nodeB.url, user);
        assert.equal(status, 200, text);
        const me = await http(nodeB.url, '/api/me', { jar });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.json.username, user.username);
        const socket = await connect(t, nodeA.url, { cookie: jar.header() });
        const [hello] = await next(socket, 'connected');
        assert.equal(hello.message, `Welcome ${user.username}!`);

        const stored = await client.get(`sessio:user:${user.username}`);
        assert.ok(stored, 'the account is in Redis under sessio:user:<name>');
        const record = JSON.parse(stored);
        assert.equal(record.username, user.username);
        assert.match(record.password_hash, /^\$argon2id\$/);
        assert.ok(!stored.includes(user.password));
        assert.equal(await client.ttl(`sessio:user:${user.username}`), -1, 'accounts do not expire');

        const again = await register(nodeB.url, { ...user, password: 'another password' });
        assert.equal(again.status, 409, again.text);
        assert.equal((await login(nodeB.url, { ...user, password: 'another password' })).status, 401);
    });

    test('of registrations of one name on both nodes at once, exactly one wins', async () => {
        for (let round = 0; round < 3; round++) {
            const username = uniqueName('race');
            const tries = [nodeA, nodeB, nodeA, nodeB].map((node, i) =>
                register(node.url, { username, password: `password-${i}` }));
            const statuses = (await Promise.all(tries)).map((res) => res.status);
            assert.deepEqual(statuses.filter((s) => s === 201).length, 1, `statuses ${statuses}`);
            assert.ok(statuses.every((s) => s === 201 || s === 409), `statuses ${statuses}`);
            const winner = statuses.indexOf(201);
            assert.equal((await login(nodeA.url, { username, password: `password-${winner}` })).status, 200);
            assert.equal((await login(nodeB.url, { username, password: `password-${winner}` })).status, 200);
        }
    });

    test('user add on node B\'s data dir: the user logs in on node A; user list on B shows A\'s users', async () => {
        const added = newUser('op');
        const add = operator(nodeB.dataDir, ['user', 'add', added.username], added.password);
        assert.equal(add.status, 0, add.stderr);
        assert.match(add.stdout, new RegExp(`^added ${added.username} \\(id \\d+\\)`));
        assert.equal((await login(nodeA.url, added)).status, 200);

        const onA = newUser('la');
        assert.equal((await register(nodeA.url, onA)).status, 201);
        const list = operator(nodeB.dataDir, ['user', 'list']);
        assert.equal(list.status, 0, list.stderr);
        for (const name of [added.username, onA.username]) {
            assert.match(list.stdout, new RegExp(`^\\d+\\t${name}\\t`, 'm'));
        }
        // A data directory no server holds: the command goes to Redis itself.
        const idle = operator(idleDir, ['user', 'list']);
        assert.equal(idle.status, 0, idle.stderr);
        assert.equal(idle.stdout, list.stdout);
    });

    test('user passwd on node B: the old password fails on node A, the new one works, A\'s socket goes', async (t) => {
        const user = newUser('pw');
        assert.equal((await register(nodeA.url, user)).status, 201);
        const onA = await socketOn(t, user);
        const passwd = await operatorAsync(nodeB.dataDir, ['user', 'passwd', user.username], 'the new password');
        await goneByReturn(onA);
        assert.equal(passwd.status, 0, passwd.stderr);
        assert.equal(passwd.stdout, `changed the password of ${user.username} (ended 1 sessions)\n`);
        assert.equal((await login(nodeA.url, user)).status, 401);
        assert.equal((await login(nodeA.url, { ...user, password: 'the new password' })).status, 200);
    });

    test('user del on node B: login on node A fails, A\'s socket goes, the list and Redis lose the user', async (t) => {
        const user = newUser('del');
        assert.equal((await register(nodeA.url, user)).status, 201);
        const onA = await socketOn(t, user);
        const { jar } = onA;
        const del = await operatorAsync(nodeB.dataDir, ['user', 'del', user.username]);
        await goneByReturn(onA);
        assert.equal(del.status, 0, del.stderr);
        assert.equal(del.stdout, `deleted ${user.username} (ended 1 sessions)\n`);
        const refused = await login(nodeA.url, user);
        assert.equal(refused.status, 401, refused.text);
        assert.equal((await http(nodeA.url, '/api/me', { jar })).status, 401);
        assert.equal(await client.get(`sessio:user:${user.username}`), null);
        const list = operator(nodeA.dataDir, ['user', 'list']);
        assert.equal(list.status, 0, list.stderr);
        assert.ok(!list.stdout.includes(`\t${user.username}\t`), list.stdout);
        const twice = operator(idleDir, ['user', 'del', user.username]);
        assert.notEqual(twice.status, 0);
        assert.match(twice.stderr, new RegExp(`no user ${user.username}`));
    });

    test('with express-session\'s cookie (rooms named by the session id), user del on one node ends the socket on the other', async (t) => {
        const expressEnv = { ...env, SESSIO_COOKIE_FORMAT: 'express' };
        const nodeC = await startSharedServer(REDIS_APP, { flags, env: expressEnv });
        const nodeD = await startSharedServer(REDIS_APP, { flags, env: expressEnv });
        try {
            const user = newUser('ex');
            assert.equal((await register(nodeC.url, user)).status, 201);
            const onC = await socketOn(t, user, nodeC);
            assert.match(onC.jar.header(), /connect\.sid=s%3A/, 'an express-session cookie');
            const del = await operatorAsync(nodeD.dataDir, ['user', 'del', user.username]);
            await goneByReturn(onC);
            assert.equal(del.status, 0, del.stderr);
            assert.equal(del.stdout, `deleted ${user.username} (ended 1 sessions)\n`);
        } finally {
            await nodeC.dispose();
            await nodeD.dispose();
        }
    });

    // Every wrong login in this file comes from 127.0.0.1: the address's count (delays
    // from 10) stays below that, so only the username's (delays from 5) is seen here.
    test('the login throttle counts a name\'s failures on both nodes, and a success on either clears them', async () => {
        const user = newUser('th');
        assert.equal((await register(nodeA.url, user)).status, 201);
        const wrong = { ...user, password: 'not the password' };
        const timed = async (node, creds) => {
            const started = Date.now();
            const { status } = await login(node.url, creds);
            return { status, ms: Date.now() - started };
        };
        for (const node of [nodeA, nodeB, nodeA, nodeB, nodeA]) {
            const { status, ms } = await timed(node, wrong);
            assert.equal(status, 401);
            assert.ok(ms < 1000, `an attempt below the limit took ${ms} ms`);
        }
        // B has seen two of the five: counted alone it would not delay.
        const sixth = await timed(nodeB, wrong);
        assert.equal(sixth.status, 401);
        assert.ok(sixth.ms >= 1000, `the sixth failure in all was answered after ${sixth.ms} ms, not delayed`);
        assert.equal((await client.keys('sessio:throttle:user:*')).length >= 1, true);
        // The right password on A (delayed too), then B counts from zero again.
        assert.equal((await login(nodeA.url, user)).status, 200);
        const after = await timed(nodeB, wrong);
        assert.equal(after.status, 401);
        assert.ok(after.ms < 1000, `after a success the count started again, yet it took ${after.ms} ms`);
    });

    test('--account-store redis without --redis is a one-line start error', () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-no-redis-'));
        try {
            const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SESSIO_')));
            const run = spawnSync(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--account-store', 'redis'], {
                env: clean, encoding: 'utf8', timeout: 10000,
            });
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /--account-store redis needs --redis URL/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
