// The Admin UI sees the cluster (issue 22, item 3): two sessio nodes (SESSIO_REDIS_BIN, a
// build with --features redis) with the Admin UI on, sharing accounts and sessions on a
// redis-server of this test's own (a free loopback port, a temporary directory). A UI
// connected to node A, spoken to with socket.io-client as the UI speaks it, gets node B's
// `server_stats` (its own serverId and pid) and B's sockets in `all_sockets`, then B's
// changes, and its commands reach B's sockets, as the official server does through its
// adapter.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, startSharedServer } from './harness.mjs';
import { REDIS_APP, bin, skip, startRedis } from './redis.mjs';
import { CookieJar, connect, http, next, sleep, uniqueName, waitFor } from './clients.mjs';

const ADMIN = 'root';
const PASSWORD = 'a-good-password';

/** A logged-in user's socket on `node`; resolves with it and its cookie. */
async function userSocket(t, node) {
    const jar = new CookieJar();
    const body = { username: uniqueName('cl'), password: PASSWORD };
    assert.equal((await http(node.url, '/api/register', { method: 'POST', body })).status, 201);
    assert.equal((await http(node.url, '/api/login', { method: 'POST', jar, body })).status, 200);
    const socket = await connect(t, node.url, { mode: 'websocket', cookie: jar.header() });
    return { socket, cookie: jar.header() };
}

/** The admin socket as the UI opens it (polling first, the login in `auth`). */
const adminUi = (t, node) => connect(t, node.url, {
    mode: 'upgrade', namespace: '/admin', auth: { username: ADMIN, password: PASSWORD },
});

/** The `server_stats` a UI received until one from `node` came; resolves with that one. */
async function statsOf(ui, node, ms = 8000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const [stats] = await next(ui, 'server_stats', Math.max(deadline - Date.now(), 1));
        if (stats.pid === node.child.pid) return stats;
    }
}

describe('Admin UI in a Redis cluster: every node\'s stats and sockets', { skip }, () => {
    let redisDir, redis, nodeA, nodeB;

    before(async () => {
        redisDir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-redis-admin-'));
        const port = await freePort();
        const redisUrl = `redis://127.0.0.1:${port}`;
        redis = await startRedis(port, redisDir);
        const env = {
            SESSIO_REDIS: redisUrl, SESSIO_SESSION_STORE: 'redis', SESSIO_ACCOUNT_STORE: 'redis',
            SESSIO_SECRET: 'shared by both sessio nodes 0002',
        };
        const flags = { adminUser: ADMIN };
        nodeA = await startSharedServer(REDIS_APP, { flags, env });
        nodeB = await startSharedServer(REDIS_APP, { flags, env });
        // The accounts are in Redis: one `user add` makes the admin of both.
        const add = spawnSync(bin, ['user', 'add', ADMIN, '--data-dir', nodeA.dataDir], {
            env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20000, input: `${PASSWORD}\n`,
        });
        assert.equal(add.status, 0, add.stderr);
        await waitFor(() => /redis adapter: connected/.test(nodeA.output) && /redis adapter: connected/.test(nodeB.output),
            10000, 'both nodes on the Redis adapter');
    });

    after(async () => {
        await nodeA?.dispose();
        await nodeB?.dispose();
        if (redis && redis.child.exitCode === null) {
            redis.child.kill('SIGTERM');
            await Promise.race([redis.exited, sleep(3000)]);
        }
        if (redisDir) rmSync(redisDir, { recursive: true, force: true });
    });

    test('a UI on node A gets B\'s server_stats and B\'s sockets, then B\'s changes, without the cookie', async (t) => {
        const onB = await userSocket(t, nodeB);
        const onA = await userSocket(t, nodeA);
        const ui = await adminUi(t, nodeA);

        const [all] = await next(ui, 'all_sockets', 8000);
        const listed = all.find((s) => s.id === onB.socket.id);
        assert.ok(listed, `B's socket is not in A's all_sockets: ${JSON.stringify(all.map((s) => s.id))}`);
        assert.equal(listed.nsp, '/');
        assert.ok(listed.rooms.includes(onB.socket.id));
        assert.ok(listed.rooms.some((r) => /^[0-9a-f]{32}$/.test(r)), `no session room: ${listed.rooms}`);
        assert.equal(listed.handshake.address, '127.0.0.1');
        assert.equal(listed.handshake.headers.host, `127.0.0.1:${nodeB.port}`);
        assert.ok(all.some((s) => s.id === onA.socket.id), 'A\'s own socket is listed too');
        assert.equal(all.filter((s) => s.id === onA.socket.id).length, 1, 'A\'s socket is listed once');
        const text = JSON.stringify(all);
        for (const { cookie } of [onA, onB]) assert.ok(!text.includes(cookie.split('=')[1]), 'a session cookie was sent');
        assert.ok(!text.toLowerCase().includes('"cookie"'), 'a cookie header was sent');

        const [statsA, statsB] = [await statsOf(ui, nodeA), await statsOf(ui, nodeB)];
        assert.notEqual(statsA.serverId, statsB.serverId, 'the UI keys servers by serverId');
        assert.equal(statsB.serverId, `${statsB.hostname}#${nodeB.child.pid}`);
        assert.ok(statsB.uptime > 0);
        const sockets = (stats) => Object.fromEntries(stats.namespaces.map((n) => [n.name, n.socketsCount]));
        assert.equal(sockets(statsB)['/'], 1);
        assert.equal(sockets(statsB)['/admin'], 0, 'the UI is on A');
        assert.equal(sockets(statsA)['/admin'], 1);

        // A socket connecting to B, and leaving it, is seen from A.
        const later = await userSocket(t, nodeB);
        const laterId = later.socket.id;
        await waitFor(() => ui.inbox.some((e) => e.event === 'socket_connected' && e.args[0].id === laterId),
            5000, 'socket_connected of B\'s new socket on A\'s UI');
        later.socket.disconnect();
        await waitFor(() => ui.inbox.some((e) => e.event === 'socket_disconnected' && e.args[1] === laterId),
            5000, 'socket_disconnected of B\'s socket on A\'s UI');
    });

    test('the UI\'s commands on node A reach B\'s sockets', async (t) => {
        const onB = await userSocket(t, nodeB);
        const ui = await adminUi(t, nodeA);
        await next(ui, 'config');
        const id = onB.socket.id;
        ui.emit('join', '/', 'blue', id);
        await waitFor(() => ui.inbox.some((e) => e.event === 'room_joined' && e.args[1] === 'blue' && e.args[2] === id),
            5000, 'room_joined from B');
        const gone = new Promise((resolve) => onB.socket.once('disconnect', resolve));
        ui.emit('_disconnect', '/', false, id);
        const reason = await Promise.race([gone, sleep(5000).then(() => 'still connected')]);
        assert.equal(reason, 'io server disconnect');
    });
});
