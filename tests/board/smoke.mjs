// End-to-end smoke test of one sessio binary (native or ARM under qemu-user), or of any
// server already running that speaks ../../shared/CONTRACT.md.
//
//   node tests/board/smoke.mjs target/boards/sessio-aarch64-unknown-linux-musl
//   SMOKE_URL=http://127.0.0.1:3001 node tests/board/smoke.mjs
//
// With a binary it starts `BIN serve --listen 127.0.0.1:PORT --data-dir TMP` on a free
// loopback port, under qemu-aarch64-static / qemu-arm-static when the ELF is for ARM
// (QEMU_CPU and QEMU_LD_PREFIX are passed through to qemu-user), waits for it to accept
// connections, then: register, log in, refuse an anonymous Socket.IO connection, connect
// over WebSocket and over HTTP long-polling with the npm socket.io-client, echo (text and
// binary), log out (which disconnects the sockets), and stop the server.
// Needs socket.io-client: `npm ci --prefix tests` (or NODE_PATH pointing at a node_modules).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const { io } = require('socket.io-client');

const STEP_MS = 10_000; // per request/event; qemu-user is slow but not that slow
const START_MS = Number(process.env.SMOKE_START_MS || 60_000);

const bin = process.argv[2];
if (!bin && !process.env.SMOKE_URL) {
    console.error('usage: node tests/board/smoke.mjs BINARY   |   SMOKE_URL=http://HOST:PORT node tests/board/smoke.mjs');
    process.exit(2);
}

/** The qemu-user command that runs an ELF file for another machine, or none for the host's. */
function emulatorFor(path) {
    const header = Buffer.alloc(20);
    const fd = openSync(path, 'r');
    try { readSync(fd, header, 0, 20, 0); } finally { closeSync(fd); }
    if (header.readUInt32BE(0) !== 0x7f454c46) return null; // a script: the host runs it
    const machine = header.readUInt16LE(18);
    const host = { x64: 0x3e, arm64: 0xb7, arm: 0x28 }[process.arch];
    if (machine === host) return null;
    if (machine === 0xb7) return 'qemu-aarch64-static';
    if (machine === 0x28) return 'qemu-arm-static';
    throw new Error(`${path}: no emulator known for ELF machine 0x${machine.toString(16)}`);
}

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    });
}

function canConnect(port) {
    return new Promise((resolve) => {
        const sock = net.connect({ host: '127.0.0.1', port }, () => { sock.destroy(); resolve(true); });
        sock.once('error', () => resolve(false));
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the binary on a free loopback port and resolves with its base URL once it accepts. */
async function startServer(path) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'sessio-smoke-'));
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
    const emulator = emulatorFor(path);
    const [cmd, argv] = emulator ? [emulator, [path, ...args]] : [path, args];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    let exited = null;
    child.once('exit', (code, signal) => { exited = { code, signal }; });
    child.once('error', (e) => { exited = { error: e.message }; });
    const stop = async () => {
        if (!exited) {
            child.kill('SIGTERM');
            for (let i = 0; i < 100 && !exited; i++) await sleep(100);
            if (!exited) child.kill('SIGKILL');
        }
        rmSync(dataDir, { recursive: true, force: true });
    };
    const deadline = Date.now() + START_MS;
    while (!(await canConnect(port))) {
        if (exited || Date.now() > deadline) {
            await stop();
            throw new Error(`${[cmd, ...argv].join(' ')} did not accept connections `
                + `(${exited ? `exited ${JSON.stringify(exited)}` : `after ${START_MS} ms`}); output:\n${output}`);
        }
        await sleep(100);
    }
    return { url: `http://127.0.0.1:${port}`, stop, output: () => output };
}

async function api(base, method, path, { body, cookie } = {}) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (cookie) headers.cookie = cookie;
    const res = await fetch(base + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'manual', signal: AbortSignal.timeout(STEP_MS),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text, setCookies: res.headers.getSetCookie() };
}

/** Resolves with the first emission of `event` on `socket`, rejects after STEP_MS. */
function once(socket, event) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${event}' within ${STEP_MS} ms`)), STEP_MS);
        socket.once(event, (...args) => { clearTimeout(timer); resolve(args); });
    });
}

function connect(base, cookie, transports) {
    return io(base, {
        transports, upgrade: false, reconnection: false, forceNew: true,
        timeout: STEP_MS, extraHeaders: cookie ? { cookie } : {},
    });
}

const server = bin ? await startServer(bin) : { url: process.env.SMOKE_URL.replace(/\/$/, ''), stop: async () => {} };
const base = server.url;
const sockets = [];
after(async () => {
    for (const s of sockets) s.disconnect();
    await server.stop();
});

const username = `smoke_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const password = 'smoke-test-password';
let cookie;

test('the server answers: /api/me without a session is 401', async () => {
    const r = await api(base, 'GET', '/api/me');
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json?.success, false);
});

test('register', async () => {
    const r = await api(base, 'POST', '/api/register', { body: { username, password } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json, { success: true, username });
});

test('log in: a session cookie, then /api/me knows the user', async () => {
    const bad = await api(base, 'POST', '/api/login', { body: { username, password: 'wrong-password' } });
    assert.equal(bad.status, 401, bad.text);
    const r = await api(base, 'POST', '/api/login', { body: { username, password } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json?.success, true);
    assert.equal(r.json?.username, username);
    assert.ok(r.setCookies.length > 0, 'login sets a cookie');
    cookie = r.setCookies.map((c) => c.split(';')[0]).join('; ');
    const me = await api(base, 'GET', '/api/me', { cookie });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json?.username, username);
});

test('Socket.IO refuses a connection without a session', async () => {
    const s = connect(base, null, ['polling']);
    sockets.push(s);
    const [err] = await once(s, 'connect_error');
    assert.equal(err.message, 'Authentication required');
});

const echoPayload = { text: 'héllo ✓', n: 42, list: [1, 'two', null], bin: Buffer.from([0, 1, 2, 250, 255]) };

for (const transport of ['websocket', 'polling']) {
    test(`Socket.IO over ${transport}: welcome, echo with a binary attachment`, async () => {
        const s = connect(base, cookie, [transport]);
        sockets.push(s);
        const welcome = once(s, 'connected');
        await once(s, 'connect');
        assert.equal(s.io.engine.transport.name, transport);
        const [hello] = await welcome;
        assert.equal(hello.message, `Welcome ${username}!`);
        const echoed = await s.timeout(STEP_MS).emitWithAck('echo', echoPayload);
        assert.deepEqual({ ...echoed, bin: Buffer.from(echoed.bin) }, echoPayload);
    });
}

test('log out: the sockets are disconnected and the session is gone', async () => {
    const live = sockets.filter((s) => s.connected);
    assert.equal(live.length, 2, 'both authenticated sockets are still connected');
    const gone = live.map((s) => once(s, 'disconnect'));
    const r = await api(base, 'POST', '/api/logout', { cookie });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { success: true, message: 'Logged out' });
    for (const [reason] of await Promise.all(gone)) assert.equal(reason, 'io server disconnect');
    const me = await api(base, 'GET', '/api/me', { cookie });
    assert.equal(me.status, 401, me.text);
});
