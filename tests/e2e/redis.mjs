// What the tests of a sessio cluster on Redis share: the redis-enabled build
// (SESSIO_REDIS_BIN, which tests/run builds with --features tls,redis), whether they
// can run here, and a redis-server of a test's own.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { sleep } from './clients.mjs';

/** The sessio built with `--features redis`, if tests/run (or the caller) named one. */
export const bin = process.env.SESSIO_REDIS_BIN;
const redisServer = process.env.REDIS_SERVER || 'redis-server';
const haveRedis = spawnSync(redisServer, ['--version']).status === 0;

/** `describe`'s `skip`: why these tests cannot run here, or false. */
export const skip = !bin
    ? 'no Redis build: set SESSIO_REDIS_BIN to a sessio built with --features redis (tests/run does)'
    : !haveRedis
        ? `no ${redisServer} (tests/install-deps redis)`
        : false;

/** The redis build, as `startSharedServer` takes an app. */
export const REDIS_APP = { name: 'app', kind: 'binary', bin: bin && path.resolve(bin), reference: false, available: !!bin };

// redis-server dies with the test process, however it ends.
const children = new Set();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));

/** A redis-server of the test's own on `port` (no persistence, files in `dir`), once it accepts connections. */
export async function startRedis(port, dir) {
    const child = spawn(redisServer, [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    ], { stdio: 'ignore' });
    children.add(child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`${redisServer} exited with ${child.exitCode}`);
        const up = await new Promise((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
            s.once('error', () => resolve(false));
        });
        if (up) return { child, exited };
        await sleep(50);
    }
    child.kill('SIGKILL');
    throw new Error(`${redisServer} did not listen on ${port}`);
}
