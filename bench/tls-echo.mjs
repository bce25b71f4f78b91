// The CPU cost of TLS per Socket.IO echo: starts a sessio binary (pinned to one core),
// logs in, and runs CLIENTS WebSocket connections each sending `echo` with an ack, one
// at a time, TOTAL in all; prints the server's CPU time (utime + stime from /proc) per
// echo, and the RSS each connected socket adds. Run it once over ws and once over wss (a build with --features tls):
//
//   node bench/tls-echo.mjs target/release/sessio ws
//   node bench/tls-echo.mjs target/release/sessio-tls wss
//
// It loads socket.io-client from tests/node_modules (tests/install-deps npm). Loopback only.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'package.json'));
const { io } = require('socket.io-client');

const [bin, scheme = 'ws'] = process.argv.slice(2);
const CLIENTS = Number(process.env.CLIENTS || 50);
const TOTAL = Number(process.env.TOTAL || 40000);
const PAYLOAD = 'x'.repeat(Number(process.env.PAYLOAD || 100));
const CORE = process.env.SERVER_CORE ?? '0';
if (!bin || !['ws', 'wss'].includes(scheme)) {
    console.error('usage: node bench/tls-echo.mjs SESSIO_BIN ws|wss');
    process.exit(2);
}
const secure = scheme === 'wss';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
    });
});
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sessio-tls-bench-'));
const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn',
    '--max-connections-per-address', '0'];
if (secure) args.push('--tls-self-signed');
const server = spawn('taskset', ['-c', CORE, path.resolve(bin), ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
process.on('exit', () => server.kill('SIGKILL'));
for (let i = 0; ; i++) {
    const up = await new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 200) throw new Error('server did not start');
    await sleep(50);
}
const base = `${secure ? 'https' : 'http'}://127.0.0.1:${port}`;
const ca = secure ? readFileSync(path.join(dataDir, 'tls-cert.pem')) : undefined;

function post(urlPath, body) {
    const data = JSON.stringify(body);
    const lib = secure ? https : http;
    return new Promise((resolve, reject) => {
        const req = lib.request(new URL(urlPath, base), {
            method: 'POST', ca, headers: { 'content-type': 'application/json' },
        }, (res) => {
            res.resume();
            res.on('end', () => resolve(res));
        });
        req.on('error', reject);
        req.end(data);
    });
}

const user = { username: `bench${process.pid}`, password: 'a long enough password' };
await post('/api/register', user);
const login = await post('/api/login', user);
const cookie = login.headers['set-cookie'][0].split(';')[0];

function rssKiB() {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]);
}
const rss0 = rssKiB();
const sockets = await Promise.all(Array.from({ length: CLIENTS }, () => new Promise((resolve, reject) => {
    const socket = io(base, {
        transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { cookie }, ca,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
})));

function cpuSeconds() {
    const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

async function run(count) {
    let left = count;
    await Promise.all(sockets.map(async (socket) => {
        while (left > 0) {
            left--;
            await socket.timeout(10000).emitWithAck('echo', PAYLOAD);
        }
    }));
}

await sleep(500);
const perConnection = (rssKiB() - rss0) / CLIENTS;
await run(2000); // warm up
const cpu0 = cpuSeconds();
const t0 = process.hrtime.bigint();
await run(TOTAL);
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = cpuSeconds() - cpu0;
console.log(`${scheme} ${path.basename(bin)}: ${TOTAL} echoes (${CLIENTS} clients, ${PAYLOAD.length} B) in ${wall.toFixed(2)} s, ` +
    `server CPU ${cpu.toFixed(2)} s = ${((cpu / TOTAL) * 1e6).toFixed(1)} us per echo, ${(TOTAL / wall).toFixed(0)} echoes/s; ` +
    `RSS ${perConnection.toFixed(1)} KiB per connected socket`);
for (const s of sockets) s.disconnect();
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });
