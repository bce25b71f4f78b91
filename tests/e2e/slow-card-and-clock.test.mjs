// A board's card and clock, faked around the real binary (glibc build: both tools are
// LD_PRELOAD libraries):
// - a card that stalls 300 ms on every fsync/fdatasync (a shim built here from
//   faults/slow-fsync.c with gcc) costs only the writers: another socket's echo stays
//   fast, and nobody is disconnected with 1 s heartbeats;
// - the wall clock jumped (a Pi has no battery: it boots at the last saved time and NTP
//   jumps it) 1 day back, then 90 days forward and back, under libfaketime with the
//   monotonic clock untouched: no crash, sessions expire by the wall clock, sockets of
//   live sessions stay, new logins and sockets work at once.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { APP, startServer } from './harness.mjs';
import { CookieJar, ask, connect, http, sleep, waitFor } from './clients.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'clock-password';
const STALL_MS = 300;

const notBinary = APP.missing || (APP.kind !== 'binary' && 'needs the sessio binary (SESSIO_BIN)');

function glibc() {
    const out = spawnSync('ldd', [APP.bin || '/nonexistent']);
    return out.status === 0 && /libc\.so/.test(String(out.stdout));
}

function shimSkip() {
    if (notBinary) return notBinary;
    if (!glibc()) return 'the fsync shim is an LD_PRELOAD library: needs a dynamically linked (glibc) sessio';
    if (spawnSync('gcc', ['--version']).status !== 0) return 'needs gcc to build the fsync shim';
    return false;
}

const FAKETIME_LIBS = [
    '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/faketime/libfaketime.so.1',
];
const libfaketime = FAKETIME_LIBS.find((p) => existsSync(p));

function clockSkip() {
    if (notBinary) return notBinary;
    if (!glibc()) return 'libfaketime is an LD_PRELOAD library: needs a dynamically linked (glibc) sessio';
    if (!libfaketime) return "needs libfaketime (Debian's faketime; tests/install-deps installs it)";
    return false;
}

async function loggedIn(url, username, { register = true } = {}) {
    if (register) {
        const reg = await http(url, '/api/register', { method: 'POST', body: { username, password: PASSWORD } });
        assert.equal(reg.status, 201, reg.text);
    }
    const jar = new CookieJar();
    const res = await http(url, '/api/login', { method: 'POST', jar, body: { username, password: PASSWORD } });
    assert.equal(res.status, 200, res.text);
    return jar;
}

function watchDisconnects(socket, into) {
    socket.on('disconnect', (reason) => into.push(reason));
    return socket;
}

const percentile = (values, p) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

describe('a stalling card (sessio binary, fsync shim)', { skip: shimSkip() }, () => {
    test(`a ${STALL_MS} ms stall on every sync costs only the writers`, { timeout: 60000 }, async (t) => {
        const build = mkdtempSync(path.join(os.tmpdir(), 'sessio-shim-'));
        t.after(() => rmSync(build, { recursive: true, force: true }));
        const shim = path.join(build, 'slow-fsync.so');
        execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', shim, path.join(here, 'faults', 'slow-fsync.c'), '-ldl']);
        const server = await startServer(t, APP, {
            flags: { pingInterval: 1000, pingTimeout: 1000 },
            env: { LD_PRELOAD: shim, SLOW_FSYNC_MS: String(STALL_MS) },
        });
        const writerJar = await loggedIn(server.url, 'writer');
        const readerJar = await loggedIn(server.url, 'reader');
        const disconnects = [];
        const writer = watchDisconnects(await connect(t, server.url, { cookie: writerJar.header() }), disconnects);
        const echoer = watchDisconnects(await connect(t, server.url, { cookie: readerJar.header() }), disconnects);
        const idle = watchDisconnects(await connect(t, server.url, { cookie: readerJar.header() }), disconnects);

        const until = Date.now() + 6000;
        const writes = [];
        const writing = (async () => {
            while (Date.now() < until) {
                const started = performance.now();
                const answer = await ask(writer, 'updateCount');
                assert.equal(answer.count, writes.length + 1);
                writes.push(performance.now() - started);
            }
        })();
        const echoes = [];
        while (Date.now() < until) {
            const started = performance.now();
            assert.equal(await ask(echoer, 'echo', echoes.length), echoes.length);
            echoes.push(performance.now() - started);
            await sleep(5);
        }
        await writing;

        // The shim is in: every acknowledged write waited for its sync.
        assert.ok(writes.length >= 3, `only ${writes.length} writes`);
        assert.ok(Math.min(...writes) >= STALL_MS * 0.9, `a write acked in ${Math.min(...writes)} ms: the shim is not in`);
        // The others do not wait for a sync: well under one stall.
        const p99 = percentile(echoes, 99);
        assert.ok(p99 < STALL_MS / 2, `echo p99 ${p99.toFixed(1)} ms during ${STALL_MS} ms syncs (${echoes.length} echoes)`);
        assert.deepEqual(disconnects, [], 'sockets disconnected while the card stalled');
        assert.ok(writer.connected && echoer.connected && idle.connected);
        // A read over HTTP does not wait either.
        const started = performance.now();
        assert.equal((await http(server.url, '/api/me', { jar: readerJar })).status, 200);
        assert.ok(performance.now() - started < STALL_MS, 'GET /api/me waited for a sync');
        t.diagnostic(`${writes.length} writes (median ${percentile(writes, 50).toFixed(0)} ms), ` +
            `${echoes.length} echoes (p99 ${p99.toFixed(1)} ms)`);
    });
});

describe('a jumping clock (sessio binary, libfaketime)', { skip: clockSkip() }, () => {
    test('1 day back, 90 days forward and back: sessions by the wall clock, no crash', { timeout: 60000 }, async (t) => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'sessio-clock-'));
        t.after(() => rmSync(dir, { recursive: true, force: true }));
        const offset = path.join(dir, 'offset');
        // libfaketime reads the file again after FAKETIME_CACHE_DURATION, which a
        // loaded machine can stretch: a jump is done once the server's own Date
        // header says so.
        const jump = async (seconds) => {
            writeFileSync(offset, `${seconds >= 0 ? '+' : ''}${seconds}\n`);
            const want = Date.now() + seconds * 1000;
            await waitFor(async () => {
                const res = await fetch(`${server.url}/`);
                await res.arrayBuffer();
                return Math.abs(Date.parse(res.headers.get('date')) - want) < 60_000;
            }, 15000, `the server's clock to move by ${seconds} s`);
        };
        writeFileSync(offset, '+0\n');
        const DAY = 86400;
        const server = await startServer(t, APP, {
            // Sessions last 3 days: longer than the jump back, far shorter than the jump forward.
            flags: { sessionMaxAge: 3 * DAY, sessionCheckInterval: 300, pingInterval: 1000, pingTimeout: 1000 },
            env: {
                LD_PRELOAD: libfaketime,
                FAKETIME_TIMESTAMP_FILE: offset,
                FAKETIME_CACHE_DURATION: '1',
                FAKETIME_DONT_FAKE_MONOTONIC: '1',
                DONT_FAKE_MONOTONIC: '1',
            },
        });
        const alive = () => assert.equal(server.child?.exitCode ?? null, null, `the server exited:\n${server.output}`);
        const me = async (jar) => (await http(server.url, '/api/me', { jar })).status;

        const ann = await loggedIn(server.url, 'ann');
        const drops = [];
        const annSocket = watchDisconnects(await connect(t, server.url, { cookie: ann.header() }), drops);
        assert.equal((await ask(annSocket, 'updateCount')).count, 1);

        // Back one day: the session is still live, its socket stays, new ones work.
        await jump(-DAY);
        await sleep(2500); // heartbeats and expiry checks go on meanwhile
        alive();
        assert.equal(await me(ann), 200);
        assert.deepEqual(drops, [], 'a socket dropped when the clock went back');
        assert.equal((await ask(annSocket, 'updateCount')).count, 2);
        const bob = await loggedIn(server.url, 'bob');
        const bobSocket = watchDisconnects(await connect(t, server.url, { cookie: bob.header() }), drops);
        assert.equal(await ask(bobSocket, 'echo', 'b'), 'b');

        // Forward 90 days: every session (3 days) has expired by the wall clock, and
        // their sockets are disconnected; new logins and sockets work at once.
        await jump(90 * DAY);
        alive();
        assert.equal(await me(ann), 401);
        assert.equal(await me(bob), 401);
        await waitFor(() => drops.length === 2, 5000, 'the sockets of the expired sessions to be disconnected');
        const carol = await loggedIn(server.url, 'carol');
        const carolSocket = watchDisconnects(await connect(t, server.url, { cookie: carol.header() }), drops);
        assert.equal((await ask(carolSocket, 'updateCount')).count, 1);
        await loggedIn(server.url, 'ann', { register: false });

        // And back to now: the session made "in 90 days" has not expired, nothing breaks.
        await jump(0);
        await sleep(2500);
        alive();
        assert.equal(await me(carol), 200);
        assert.equal(drops.length, 2, 'a socket dropped when the clock came back');
        assert.equal((await ask(carolSocket, 'updateCount')).count, 2);
        const dave = await loggedIn(server.url, 'dave');
        const daveSocket = await connect(t, server.url, { cookie: dave.header() });
        assert.equal(await ask(daveSocket, 'echo', 'd'), 'd');
        assert.doesNotMatch(server.output, /panicked/);
    });
});
