// Running the app server: the operator's commands on its data directory, start-up
// refusals with a one-line reason, and a clean stop on SIGTERM.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { APP, ServerProcess, startServer } from './harness.mjs';
import { CookieJar, connect, http, once } from './clients.mjs';

const skip = APP.kind === 'binary' ? false : (APP.missing || 'operator commands exist only on the sessio binary');

/** Runs `sessio ARGS` to completion. */
function sessio(args, input) {
    const run = spawnSync(APP.bin, args, { input, encoding: 'utf8', timeout: 30000 });
    return { code: run.status, out: run.stdout, err: run.stderr };
}

describe('operation (sessio binary)', { skip }, () => {
    test('user add, list and del work on a stopped server\'s data, and the user can log in', async (t) => {
        const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-ops-'));
        t.after(() => rmSync(dataDir, { recursive: true, force: true }));
        const added = sessio(['user', 'add', 'operator_made', '--data-dir', dataDir], 'a-good-password\n');
        assert.equal(added.code, 0, added.err);
        assert.match(sessio(['user', 'list', '--data-dir', dataDir]).out, /\toperator_made\t/);
        const bad = sessio(['user', 'add', 'short_pw', '--data-dir', dataDir], 'short\n');
        assert.notEqual(bad.code, 0);
        assert.match(bad.err, /^sessio: .*password/m);

        const server = new ServerProcess(APP, { flags: { registration: 'closed' } });
        server.dataDir = dataDir;
        t.after(() => server.kill9());
        await server.start();
        const jar = new CookieJar();
        const login = await http(server.url, '/api/login', { method: 'POST', jar, body: { username: 'operator_made', password: 'a-good-password' } });
        assert.equal(login.status, 200);
        // The store admits one process at a time: the command goes through the server
        // (admin.test.mjs covers that in full).
        const live = sessio(['user', 'list', '--data-dir', dataDir]);
        assert.equal(live.code, 0, live.err);
        assert.match(live.out, /\toperator_made\t/);
        await server.stop();

        const sessions = sessio(['session', 'list', '--data-dir', dataDir]);
        assert.equal(sessions.code, 0, sessions.err);
        assert.match(sessions.out, /operator_made/);
        assert.match(sessio(['session', 'purge', '--all', '--data-dir', dataDir]).out, /purged all 1 sessions/);
        assert.equal(sessio(['session', 'list', '--data-dir', dataDir]).out, '');
        assert.equal(sessio(['user', 'del', 'operator_made', '--data-dir', dataDir]).code, 0);
        assert.equal(sessio(['user', 'list', '--data-dir', dataDir]).out, '');
    });

    test('bad options and a taken port stop the start with a one-line reason', async (t) => {
        const bad = sessio(['serve', '--ping-interval', 'soon']);
        assert.equal(bad.code, 1);
        assert.equal(bad.err, 'sessio: --ping-interval: "soon" is not a positive number of milliseconds\n');
        const server = await startServer(t, APP);
        const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-port-'));
        t.after(() => rmSync(dataDir, { recursive: true, force: true }));
        const taken = sessio(['serve', '--listen', `127.0.0.1:${server.port}`, '--data-dir', dataDir]);
        assert.equal(taken.code, 1);
        assert.match(taken.err, /^sessio: cannot listen on 127\.0\.0\.1:\d+: .*\n$/);
        const help = sessio(['--help']);
        assert.equal(help.code, 0);
        for (const flag of ['--listen', '--data-dir', '--secret', '--allowed-origin', '--max-payload', '--log-level']) {
            assert.ok(help.out.includes(flag), `--help mentions ${flag}`);
        }
    });

    test('SIGTERM closes the sockets properly and exits 0 within 5 s', async (t) => {
        const server = await startServer(t, APP);
        const user = { username: `term_${Date.now() % 100000}`, password: 'a-good-password' };
        await http(server.url, '/api/register', { method: 'POST', body: user });
        const jar = new CookieJar();
        await http(server.url, '/api/login', { method: 'POST', jar, body: user });
        const socket = await connect(t, server.url, { mode: 'websocket', cookie: jar.header() });
        const gone = once(socket, 'disconnect', 5000);
        const started = Date.now();
        const child = server.child;
        server.signal('SIGTERM');
        const { code } = await child.exited;
        assert.equal(code, 0);
        assert.ok(Date.now() - started < 5000, `exited after ${Date.now() - started} ms`);
        const [reason] = await gone;
        assert.equal(reason, 'transport close');
        assert.match(server.output, /stopping/);
        server.child = null;
    });
});
