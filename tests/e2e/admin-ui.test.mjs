// The server side of the official Socket.IO Admin UI (`--admin-user NAME`), spoken to
// with socket.io-client as the UI speaks it: the /admin namespace refuses a wrong login
// as the official server words it, sends the sockets connected before it and then
// every change, never shows the session cookie, and runs the UI's commands. The UI
// itself, in Chromium, is tests/browser/admin-ui.test.mjs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { APP, freePort, startServer } from './harness.mjs';
import { CookieJar, connect, connectRefused, http, next, once, uniqueName } from './clients.mjs';

const skip = APP.kind === 'binary' ? false : (APP.missing || 'the Admin UI is served by the sessio binary');
const ADMIN = 'root';
const PASSWORD = 'a-good-password';

/** `sessio ARGS` against the running server's data directory, `input` on stdin; must succeed. */
function sessioCommand(dataDir, args, input = '') {
    return new Promise((resolve, reject) => {
        const child = spawn(APP.bin, [...args, '--data-dir', dataDir], { stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (d) => { err += d; });
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sessio ${args.join(' ')}: ${err}`))));
        child.stdin.on('error', () => {}); // EPIPE: a command that reads no password may exit first
        child.stdin.end(input);
    });
}

const addUser = (dataDir, name) => sessioCommand(dataDir, ['user', 'add', name], `${PASSWORD}\n`);

/** A server with the Admin UI on, its admin account made, and the UI's origin allowed. */
async function adminServer(t, origin = 'http://127.0.0.1:1') {
    const server = await startServer(t, APP, { flags: { adminUser: ADMIN, allowedOrigin: origin } });
    await addUser(server.dataDir, ADMIN);
    return server;
}

/** A logged-in user's socket on `/`; resolves with it and its cookie. */
async function userSocket(t, server, mode = 'websocket') {
    const jar = new CookieJar();
    const username = uniqueName('ui');
    const body = { username, password: PASSWORD };
    assert.equal((await http(server.url, '/api/register', { method: 'POST', body })).status, 201);
    assert.equal((await http(server.url, '/api/login', { method: 'POST', jar, body })).status, 200);
    const socket = await connect(t, server.url, { mode, cookie: jar.header() });
    return { socket, cookie: jar.header() };
}

/** The admin socket as the UI opens it (polling first, the login in `auth`). */
function admin(t, server, auth = { username: ADMIN, password: PASSWORD }) {
    return connect(t, server.url, { mode: 'upgrade', namespace: '/admin', auth });
}

/** Fails if `value` carries the cookie or a credential header anywhere. */
function assertNoSecrets(value, cookie) {
    const text = JSON.stringify(value);
    assert.ok(!text.includes(cookie.split('=')[1]), 'the session cookie was sent to the UI');
    for (const header of ['"cookie"', '"authorization"']) {
        assert.ok(!text.toLowerCase().includes(header), `a ${header} header was sent to the UI`);
    }
}

describe('Admin UI server side (sessio binary)', { skip }, () => {
    test('a wrong login is refused with "invalid credentials"; off unless --admin-user', async (t) => {
        const server = await adminServer(t);
        const other = uniqueName('other');
        await addUser(server.dataDir, other);
        const refusals = [
            { username: ADMIN, password: 'not-the-password' },
            { username: 'nobody', password: PASSWORD },
            { username: other, password: PASSWORD }, // a good password, not the admin's account
            { sessionId: 'made-up' },
            {},
        ];
        for (const auth of refusals) {
            const err = await connectRefused(t, server.url, { mode: 'websocket', namespace: '/admin', auth });
            assert.equal(err.message, 'invalid credentials', JSON.stringify(auth));
        }
        assert.match(server.output, /admin UI: failed login for "root"/);
        assert.ok(!server.output.includes('not-the-password'), 'a password in the log');

        const off = await startServer(t, APP, {});
        const err = await connectRefused(t, off.url, { mode: 'websocket', namespace: '/admin', auth: { username: ADMIN, password: PASSWORD } });
        assert.equal(err.message, 'Invalid namespace');
    });

    test('the UI gets the sockets connected before it, then every change, never the cookie', async (t) => {
        const server = await adminServer(t);
        const before = await userSocket(t, server);
        const ui = await admin(t, server);

        const [sessionId] = await next(ui, 'session');
        assert.match(sessionId, /^[A-Za-z0-9_-]{22}$/);
        const [config] = await next(ui, 'config');
        assert.deepEqual(config.supportedFeatures, ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT']);
        const [all] = await next(ui, 'all_sockets');
        assertNoSecrets(all, before.cookie);
        const listed = all.find((s) => s.id === before.socket.id);
        assert.ok(listed, `the earlier socket is not listed: ${JSON.stringify(all)}`);
        assert.equal(listed.nsp, '/');
        assert.equal(listed.transport, 'websocket');
        assert.ok(listed.rooms.includes(before.socket.id));
        assert.ok(listed.rooms.length >= 2, 'the session room is listed');
        assert.equal(listed.handshake.address, '127.0.0.1');
        assert.equal(listed.handshake.headers.host, `127.0.0.1:${server.port}`);
        assert.ok(all.some((s) => s.nsp === '/admin'), 'the admin socket itself is listed');

        const [stats] = await next(ui, 'server_stats', 5000);
        assert.equal(stats.clientsCount, 2);
        assert.deepEqual(stats.namespaces.map((n) => [n.name, n.socketsCount]).sort(), [['/', 1], ['/admin', 1]]);

        const after = await userSocket(t, server);
        const [connected, at] = await next(ui, 'socket_connected');
        assert.equal(connected.id, after.socket.id);
        assert.ok(Date.parse(at) > 0, `not a date: ${at}`);
        assertNoSecrets(connected, after.cookie);
        const [nsp, sessionRoom, id] = await next(ui, 'room_joined');
        assert.deepEqual([nsp, id], ['/', after.socket.id]);
        assert.match(sessionRoom, /^[0-9a-f]{32}$/);

        const afterId = after.socket.id; // the client forgets it on disconnect
        after.socket.disconnect();
        const [leftNsp, leftId, reason] = await next(ui, 'socket_disconnected');
        assert.deepEqual([leftNsp, leftId, reason], ['/', afterId, 'client namespace disconnect']);
        // Then its rooms, as the official server tells them (the UI's room list needs it).
        const left = [await next(ui, 'room_left'), await next(ui, 'room_left')];
        assert.deepEqual(left.map((l) => l.slice(0, 3)), [['/', afterId, afterId], ['/', sessionRoom, afterId]]);

        // A socket that joins over polling is shown on WebSocket once it upgrades.
        const upgraded = await userSocket(t, server, 'upgrade');
        const [joined] = await next(ui, 'socket_connected');
        assert.deepEqual([joined.id, joined.transport], [upgraded.socket.id, 'polling']);
        // (The UI's own socket upgrades too: its update may come first.)
        let [update] = await next(ui, 'socket_updated');
        if (update.nsp === '/admin') [update] = await next(ui, 'socket_updated');
        assert.deepEqual(update, { id: upgraded.socket.id, nsp: '/', transport: 'websocket' });

        // The UI reconnects with its session id instead of the password.
        const again = await admin(t, server, { sessionId });
        await next(again, 'all_sockets');
    });

    test("the UI's login id ends when the admin's password changes or the account goes", async (t) => {
        const server = await adminServer(t);
        const ui = await admin(t, server);
        const [sessionId] = await next(ui, 'session');
        await admin(t, server, { sessionId });

        // Connected UIs are disconnected at once; their id no longer lets them in.
        const gone = once(ui, 'disconnect');
        await sessioCommand(server.dataDir, ['user', 'passwd', ADMIN], 'another-good-password\n');
        assert.equal((await gone)[0], 'io server disconnect');
        let err = await connectRefused(t, server.url, { mode: 'websocket', namespace: '/admin', auth: { sessionId } });
        assert.equal(err.message, 'invalid credentials');
        const again = await admin(t, server, { username: ADMIN, password: 'another-good-password' });
        const [newId] = await next(again, 'session');

        await sessioCommand(server.dataDir, ['user', 'del', ADMIN]);
        err = await connectRefused(t, server.url, { mode: 'websocket', namespace: '/admin', auth: { sessionId: newId } });
        assert.equal(err.message, 'invalid credentials');
    });

    test('the UI makes sockets join, receive, leave and disconnect', async (t) => {
        const server = await adminServer(t);
        const { socket } = await userSocket(t, server);
        const ui = await admin(t, server);
        await next(ui, 'all_sockets');

        ui.emit('join', '/', 'blue', socket.id);
        assert.deepEqual((await next(ui, 'room_joined')).slice(0, 3), ['/', 'blue', socket.id]);
        const hello = once(socket, 'hello');
        ui.emit('emit', '/', 'blue', 'hello', { n: 1 });
        assert.deepEqual((await hello)[0], { n: 1 });
        ui.emit('leave', '/', 'blue', socket.id);
        assert.deepEqual((await next(ui, 'room_left')).slice(0, 3), ['/', 'blue', socket.id]);

        const socketId = socket.id; // the client forgets it on disconnect
        const gone = once(socket, 'disconnect');
        ui.emit('_disconnect', '/', false, socketId);
        assert.equal((await gone)[0], 'io server disconnect');
        const [, id, reason] = await next(ui, 'socket_disconnected');
        assert.deepEqual([id, reason], [socketId, 'server namespace disconnect']);
    });

    test('a configured origin gets CORS with credentials, naming it; others get none', async (t) => {
        const origin = `http://127.0.0.1:${await freePort()}`;
        const server = await adminServer(t, origin);
        const path = '/socket.io/?EIO=4&transport=polling';
        const listed = await http(server.url, path, { headers: { origin } });
        assert.equal(listed.status, 200);
        assert.equal(listed.headers.get('access-control-allow-origin'), origin);
        assert.equal(listed.headers.get('access-control-allow-credentials'), 'true');
        const preflight = await http(server.url, path, {
            method: 'OPTIONS',
            headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        });
        assert.equal(preflight.status, 204);
        assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
        assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type');

        const own = await http(server.url, path, { headers: { origin: server.url } });
        assert.equal(own.status, 200);
        assert.equal(own.headers.get('access-control-allow-origin'), null);
        const foreign = await http(server.url, path, { headers: { origin: 'http://evil.example' } });
        assert.equal(foreign.status, 403);
        assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    });
});
