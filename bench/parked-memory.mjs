#!/usr/bin/env node
// What a socket parked for connection state recovery costs the server in memory.
//
// Starts `sessio serve` twice on a fresh data dir and a free loopback port, once with
// `--recovery-window 120` (recovery on, as by default) and once with `--recovery-window 0`
// (off). Each time: logs in one user, connects N socket.io-client sockets over WebSocket
// with its cookie, drops every transport without a DISCONNECT (as a network does; recovery
// parks them), waits until the server has closed them all, then reconnects each with its
// pid and offset and counts those that came back (`socket.recovered`), which shows the
// sockets were parked. It prints the server's VmRSS and anonymous memory
// (/proc/PID/smaps_rollup) after login, with N connected, and after they left, and
// (window 120 − window 0) / N. What parking alone costs is the difference between
// `--leave drop` and `--leave disconnect` (not parked; the log keeps the same events).
// See bench/README.md, "What a socket parked for recovery costs".
//
//   node bench/parked-memory.mjs [--bin PATH] [--clients N] [--rounds R] [--window S]
//                                [--leave drop|disconnect] [--recover yes|no] [--heaptrack FILE]
//
// --bin defaults to target/x86_64-unknown-linux-musl/release/sessio (the board form), else
// target/release/sessio. socket.io-client comes from tests/node_modules
// (`tests/install-deps npm`). Only 127.0.0.1 is used.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'tests', 'package.json'));
const { io } = require('socket.io-client');

const opts = { clients: 2000, rounds: 1, window: 120, bin: null, heaptrack: null, leave: 'drop', recover: 'yes' };
for (let i = 2; i < process.argv.length; i += 2) {
    const [key, value] = [process.argv[i].replace(/^--/, ''), process.argv[i + 1]];
    if (!(key in opts) || value === undefined) {
        console.error('usage: parked-memory.mjs [--bin PATH] [--clients N] [--rounds R] [--window S] [--heaptrack FILE] [--leave drop|disconnect] [--recover yes|no]');
        process.exit(2);
    }
    opts[key] = ['bin', 'heaptrack', 'leave', 'recover'].includes(key) ? value : Number(value);
}
const bin = realpathSync(opts.bin ?? [
    'target/x86_64-unknown-linux-musl/release/sessio',
    'target/release/sessio',
].map((p) => join(root, p)).find(existsSync) ?? '.');
if (!existsSync(bin)) throw new Error('no release build of sessio: pass --bin');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
    const server = createServer();
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address();
    await new Promise((r) => server.close(r));
    return port;
}

/** VmRSS and the anonymous memory of `pid`, in KiB. */
function memory(pid) {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name) => Number(rollup.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))[1]);
    return { rss: field('Rss'), anon: field('Anonymous') };
}

/** Open descriptors of `pid`: the connections it still holds, and a few files. */
const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;

async function startServer(window) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'sessio-parked-'));
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
        '--log-level', 'warn', '--threads', '1', '--max-connections', '20000',
        '--recovery-window', String(window)];
    const child = opts.heaptrack
        ? spawn('heaptrack', ['-o', opts.heaptrack, bin, ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
        : spawn(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
        try {
            await fetch(url + '/');
            break;
        } catch (err) {
            if (i > 300) throw err;
            await sleep(100);
        }
    }
    // Under heaptrack the server is a child of its script.
    const pid = opts.heaptrack ? descendants(child.pid).find((p) => readlinkSync(`/proc/${p}/exe`) === bin) : child.pid;
    const dispose = async (signal = 'SIGTERM') => {
        process.kill(pid, signal);
        await exited;
        rmSync(dataDir, { recursive: true, force: true });
    };
    return { pid, url, dispose };
}

function descendants(pid) {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    return children.flatMap((c) => [c, ...descendants(c)]);
}

async function loginCookie(url) {
    const user = { username: `u${Math.random().toString(36).slice(2, 10)}`, password: 'parked-pw-1234' };
    const post = (path) => fetch(url + path, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user),
    });
    const reg = await post('/api/register');
    if (reg.status !== 201) throw new Error(`register: ${reg.status}`);
    const res = await post('/api/login');
    if (res.status !== 200) throw new Error(`login: ${res.status}`);
    return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

function connectOne(url, cookie) {
    const socket = io(url, {
        transports: ['websocket'], forceNew: true, reconnection: false, timeout: 10000,
        extraHeaders: { cookie },
    });
    return new Promise((resolve, reject) => {
        socket.once('connect', () => resolve(socket));
        socket.once('connect_error', reject);
    });
}

/** Runs `f` over `items`, `inFlight` at a time. */
async function pool(items, inFlight, f) {
    const out = [];
    let next = 0;
    await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < items.length) {
            const i = next++;
            out[i] = await f(items[i]);
        }
    }));
    return out;
}

async function waitUntil(predicate, ms, what) {
    const end = Date.now() + ms;
    while (!predicate()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
    }
}

async function measure(window) {
    const server = await startServer(window);
    const { pid } = server;
    let killed = false;
    try {
        const cookie = await loginCookie(server.url);
        await sleep(500);
        const fdsIdle = fds(pid);
        const rows = [];
        for (let round = 0; round < opts.rounds; round++) {
            const base = memory(pid);
            const sockets = await pool(Array.from({ length: opts.clients }), 50, () => connectOne(server.url, cookie));
            await sleep(1000);
            const connected = memory(pid);
            // drop: the transport goes without a DISCONNECT packet ("transport close",
            // recoverable: parked); disconnect: a DISCONNECT first (not parked).
            for (const s of sockets) {
                if (opts.leave === 'drop') s.io.engine.close();
                else s.disconnect();
            }
            await waitUntil(() => fds(pid) <= fdsIdle, 30000, 'the server to close every connection');
            await sleep(1000);
            const dropped = memory(pid);
            if (opts.heaptrack) {
                // What is allocated now is what heaptrack reports as leaked.
                rows.push({ round, base, connected, dropped, recovered: 0 });
                killed = true;
                await server.dispose('SIGKILL');
                return rows;
            }
            const recovered = opts.leave !== 'drop' || opts.recover === 'no' ? 0 : (await pool(sockets, 50, (s) => new Promise((resolve, reject) => {
                s.once('connect', () => resolve(s.recovered));
                s.once('connect_error', reject);
                s.connect();
            }))).filter(Boolean).length;
            // Recovered ones leave with a DISCONNECT; with --recover no the dropped
            // stay parked, and every round parks N more.
            for (const s of sockets) s.disconnect();
            await waitUntil(() => fds(pid) <= fdsIdle, 30000, 'the server to close every connection');
            rows.push({ round, base, connected, dropped, recovered });
        }
        return rows;
    } finally {
        if (!killed) await server.dispose();
    }
}

const kib = (n) => `${n} KiB`;
console.log(`sessio: ${bin}\nclients: ${opts.clients}, rounds: ${opts.rounds}, leave: ${opts.leave}`);
const results = {};
for (const window of opts.heaptrack ? [opts.window] : [opts.window, 0]) {
    results[window] = await measure(window);
    for (const r of results[window]) {
        console.log(`window ${String(window).padStart(3)} s, round ${r.round}: ` +
            `RSS login ${kib(r.base.rss)}, connected ${kib(r.connected.rss)}, dropped ${kib(r.dropped.rss)}; ` +
            `anon login ${kib(r.base.anon)}, connected ${kib(r.connected.anon)}, dropped ${kib(r.dropped.anon)}; ` +
            `recovered ${r.recovered}/${opts.clients}`);
    }
}
if (opts.heaptrack) {
    console.log(`heaptrack_print ${opts.heaptrack}.zst: its "leaked" is what was allocated after the drop`);
    process.exit(0);
}
const on = results[opts.window][0];
const off = results[0][0];
const per = (a, b) => ((a - b) * 1024 / opts.clients).toFixed(0);
console.log(`per connected socket (window ${opts.window}, connected − login): ` +
    `RSS ${per(on.connected.rss, on.base.rss)} B, anon ${per(on.connected.anon, on.base.anon)} B`);
console.log(`per socket that left, window ${opts.window} − window 0 (parked ones and the log's events): ` +
    `RSS ${per(on.dropped.rss, off.dropped.rss)} B, anon ${per(on.dropped.anon, off.dropped.anon)} B`);
console.log(`per socket that left, after − login, window ${opts.window}: ` +
    `RSS ${per(on.dropped.rss, on.base.rss)} B, anon ${per(on.dropped.anon, on.base.anon)} B; ` +
    `window 0: RSS ${per(off.dropped.rss, off.base.rss)} B, anon ${per(off.dropped.anon, off.base.anon)} B`);
