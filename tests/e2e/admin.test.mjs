// Live administration: `sessio user add|del|passwd|list` and `sessio session list|purge`
// while the server runs (through its control socket in the data directory), and
// with it stopped (on the store directly), also after a `kill -9` left the socket
// file behind. Deleting a user or changing their password ends their sessions and
// disconnects their sockets at once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { APP, startServer } from './harness.mjs';
import { CookieJar, connect, http, uniqueName } from './clients.mjs';

const skip = APP.kind === 'binary' ? false : (APP.missing || 'operator commands exist only on the sessio binary');

// Sockets of ended sessions are also found by the periodic check; a minute
// keeps it out of the way, so a disconnect within the test is the command's.
const FLAGS = { registration: 'closed', sessionCheckInterval: 60000 };
const PASSWORD = 'a-good-password';

/** Runs `sessio ARGS --data-dir DIR` with `input` on stdin; resolves when it exits. */
function sessio(dataDir, args, input = '') {
    return new Promise((resolve) => {
        const child = spawn(APP.bin, [...args, '--data-dir', dataDir], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { err += d; });
        const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
        child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, out, err, endedAt: Date.now() });
        });
        child.stdin.on('error', () => {}); // EPIPE: a command that reads no password may exit first
        child.stdin.end(input);
    });
}

/** `sessio ARGS` that must succeed; resolves with its result. */
async function ok(dataDir, args, input) {
    const run = await sessio(dataDir, args, input);
    assert.equal(run.code, 0, `sessio ${args.join(' ')}: ${run.err}`);
    return run;
}

async function login(server, username, password = PASSWORD) {
    const jar = new CookieJar();
    const res = await http(server.url, '/api/login', { method: 'POST', jar, body: { username, password } });
    return { status: res.status, jar };
}

async function me(server, jar) {
    return (await http(server.url, '/api/me', { jar })).status;
}

/** A connected socket of `jar`'s session that notes when the server disconnects it. */
async function watchedSocket(t, server, jar, mode = 'websocket') {
    const socket = await connect(t, server.url, { mode, cookie: jar.header() });
    socket.gone = new Promise((resolve) => {
        socket.once('disconnect', (reason) => resolve({ reason, at: Date.now() }));
    });
    return socket;
}

/** Asserts the socket was disconnected by the server within `ms` of `since`. */
async function disconnectedAtOnce(socket, since, ms = 1000) {
    const timeout = new Promise((resolve) => setTimeout(() => resolve(null), ms + 1000).unref());
    const gone = await Promise.race([socket.gone, timeout]);
    assert.ok(gone, 'the socket was not disconnected');
    assert.equal(gone.reason, 'io server disconnect');
    assert.ok(gone.at - since < ms, `disconnected ${gone.at - since} ms after the command returned`);
}

describe('live administration (sessio binary)', { skip }, () => {
    test('with the server running, user add then a login works; user list and session list see it', async (t) => {
        const server = await startServer(t, APP, { flags: FLAGS });
        const name = uniqueName('live');
        const added = await ok(server.dataDir, ['user', 'add', name], `${PASSWORD}\n`);
        assert.match(added.out, new RegExp(`^added ${name} \\(id \\d+\\)\\n$`));
        const { status, jar } = await login(server, name);
        assert.equal(status, 200);
        assert.equal(await me(server, jar), 200);
        assert.match((await ok(server.dataDir, ['user', 'list'])).out, new RegExp(`^\\d+\\t${name}\\t`, 'm'));
        assert.match((await ok(server.dataDir, ['session', 'list'])).out, new RegExp(`^[0-9a-f]{64}\\t${name}\\texpires `, 'm'));

        // Refusals come back as one line, with the server's reason.
        const short = await sessio(server.dataDir, ['user', 'add', uniqueName('short')], 'short\n');
        assert.notEqual(short.code, 0);
        assert.match(short.err, /^sessio: password must be 8 to 256 characters\n$/);
        const taken = await sessio(server.dataDir, ['user', 'add', name], `${PASSWORD}\n`);
        assert.notEqual(taken.code, 0);
        assert.equal(taken.err, 'sessio: username taken\n');
        const nobody = await sessio(server.dataDir, ['user', 'del', 'nobody_here']);
        assert.equal(nobody.err, 'sessio: no user nobody_here\n');

        // The socket is the owner's only.
        const socketFile = path.join(server.dataDir, 'control.sock');
        assert.equal(statSync(socketFile).mode & 0o777, 0o600);
        // One operator line per change; never a password.
        assert.match(server.output, new RegExp(`operator: added user ${name}\\n`));
        assert.ok(!server.output.includes(PASSWORD), 'a password in the log');
    });

    test('user del while the user has sockets: they are disconnected at once and the cookie gets 401', async (t) => {
        const server = await startServer(t, APP, { flags: FLAGS });
        const [doomed, other] = [uniqueName('doomed'), uniqueName('other')];
        await ok(server.dataDir, ['user', 'add', doomed], `${PASSWORD}\n`);
        await ok(server.dataDir, ['user', 'add', other], `${PASSWORD}\n`);
        const a = await login(server, doomed);
        const b = await login(server, other);
        const ws = await watchedSocket(t, server, a.jar, 'websocket');
        const polling = await watchedSocket(t, server, a.jar, 'polling');
        const bystander = await watchedSocket(t, server, b.jar);

        const del = await ok(server.dataDir, ['user', 'del', doomed]);
        assert.equal(del.out, `deleted ${doomed} (ended 1 sessions)\n`);
        await disconnectedAtOnce(ws, del.endedAt);
        await disconnectedAtOnce(polling, del.endedAt);
        assert.equal(await me(server, a.jar), 401);
        assert.equal((await login(server, doomed)).status, 401);
        // Nobody else is touched.
        assert.equal(await me(server, b.jar), 200);
        assert.ok(bystander.connected);
        assert.match(server.output, new RegExp(`operator: deleted user ${doomed}, ended 1 sessions\\n`));
    });

    test('user passwd ends the user\'s sessions and sockets; the new password logs in, the old one not', async (t) => {
        const server = await startServer(t, APP, { flags: FLAGS });
        const name = uniqueName('passwd');
        const newPassword = 'another good password';
        await ok(server.dataDir, ['user', 'add', name], `${PASSWORD}\n`);
        const first = await login(server, name);
        const second = await login(server, name);
        const socket = await watchedSocket(t, server, first.jar);

        const changed = await ok(server.dataDir, ['user', 'passwd', name], `${newPassword}\n`);
        assert.equal(changed.out, `changed the password of ${name} (ended 2 sessions)\n`);
        await disconnectedAtOnce(socket, changed.endedAt);
        assert.equal(await me(server, first.jar), 401);
        assert.equal(await me(server, second.jar), 401);
        assert.equal((await login(server, name)).status, 401);
        assert.equal((await login(server, name, newPassword)).status, 200);
        const unknown = await sessio(server.dataDir, ['user', 'passwd', 'nobody_here'], `${newPassword}\n`);
        assert.equal(unknown.err, 'sessio: no user nobody_here\n');
        assert.match(server.output, new RegExp(`operator: changed the password of user ${name}, ended 2 sessions\\n`));
        assert.ok(!server.output.includes(newPassword), 'a password in the log');
    });

    test('session list and purge while the server runs; purge --all disconnects every session\'s sockets', async (t) => {
        const server = await startServer(t, APP, { flags: FLAGS });
        const names = [uniqueName('s1'), uniqueName('s2')];
        const sessions = [];
        for (const name of names) {
            await ok(server.dataDir, ['user', 'add', name], `${PASSWORD}\n`);
            const { jar } = await login(server, name);
            sessions.push({ jar, socket: await watchedSocket(t, server, jar) });
        }
        const listed = (await ok(server.dataDir, ['session', 'list'])).out;
        for (const name of names) assert.match(listed, new RegExp(`\\t${name}\\t`));
        assert.equal((await ok(server.dataDir, ['session', 'purge'])).out, 'purged 0 expired sessions\n');
        assert.equal(await me(server, sessions[0].jar), 200);

        const purged = await ok(server.dataDir, ['session', 'purge', '--all']);
        assert.equal(purged.out, 'purged all 2 sessions\n');
        for (const { jar, socket } of sessions) {
            await disconnectedAtOnce(socket, purged.endedAt);
            assert.equal(await me(server, jar), 401);
        }
        assert.equal((await ok(server.dataDir, ['session', 'list'])).out, '');
        assert.match(server.output, /operator: purged all 2 sessions\n/);
    });

    test('with the server stopped the commands work on the store, also after kill -9 left the socket file', async (t) => {
        const server = await startServer(t, APP, { flags: FLAGS });
        const socketFile = path.join(server.dataDir, 'control.sock');
        const name = uniqueName('offline');
        await ok(server.dataDir, ['user', 'add', name], `${PASSWORD}\n`);
        assert.equal((await login(server, name)).status, 200);
        await server.kill9();
        assert.ok(existsSync(socketFile), 'kill -9 leaves the socket file');

        // Offline: the stale socket is not in the way.
        assert.match((await ok(server.dataDir, ['user', 'list'])).out, new RegExp(`\\t${name}\\t`));
        assert.match((await ok(server.dataDir, ['session', 'list'])).out, new RegExp(`\\t${name}\\t`));
        const changed = await ok(server.dataDir, ['user', 'passwd', name], 'offline password\n');
        assert.equal(changed.out, `changed the password of ${name} (ended 1 sessions)\n`);
        assert.equal((await ok(server.dataDir, ['session', 'list'])).out, '');

        // Nor does it stop the next start, which answers on a fresh socket.
        await server.start();
        assert.equal((await login(server, name, 'offline password')).status, 200);
        assert.match((await ok(server.dataDir, ['user', 'list'])).out, new RegExp(`\\t${name}\\t`));

        // A clean stop removes the socket; the commands then work offline.
        await server.stop();
        assert.ok(!existsSync(socketFile), 'a clean stop removes the socket file');
        const del = await ok(server.dataDir, ['user', 'del', name]);
        assert.equal(del.out, `deleted ${name} (ended 1 sessions)\n`);
        assert.equal((await ok(server.dataDir, ['user', 'list'])).out, '');

        // A running server whose socket is gone is reported in one line.
        await server.start();
        rmSync(socketFile);
        const lost = await sessio(server.dataDir, ['user', 'list']);
        assert.notEqual(lost.code, 0);
        assert.match(lost.err, /^sessio: data directory .* is locked by another sessio instance, which does not answer: [^\n]*\n$/);
    });
});
