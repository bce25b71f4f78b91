// The faults a board's card brings, with the real binary on a small file system of its
// own (root only: it mounts one): a full disk refuses writes with 503 and an error ack,
// serves reads, loses nothing acknowledged, and heals within seconds of space coming
// back, without a restart; a file system the kernel turns read-only after card errors
// does the same until it is repaired; a server started on a full disk or a read-only
// data directory says so in one line and waits for it (exiting after a minute).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { APP, ServerProcess } from './harness.mjs';
import { CookieJar, ask, connect, http, sleep, waitFor } from './clients.mjs';

const PASSWORD = 'card-password';

function whySkip() {
    if (APP.missing) return APP.missing;
    if (APP.kind !== 'binary') return 'needs the sessio binary (SESSIO_BIN), not a command template';
    if (process.getuid?.() !== 0) return 'needs root to mount a small file system (run as root to test a full or read-only card)';
    const probe = mkdtempSync(path.join(os.tmpdir(), 'sessio-mount-probe-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
    if (mounted.status !== 0) {
        rmSync(probe, { recursive: true, force: true });
        return `cannot mount a tmpfs here: ${String(mounted.stderr).trim()}`;
    }
    spawnSync('umount', [probe]);
    rmSync(probe, { recursive: true, force: true });
    return false;
}

const skip = whySkip();

/** A mounted file system for one test, unmounted when it ends (after the server's end). */
function mountFs(t, kind) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `sessio-card-${kind}-`));
    const card = {
        dir,
        image: kind === 'tmpfs' ? null : `${dir}.img`,
        dataDir: path.join(dir, 'data'),
        server: null,
        unmount() {
            spawnSync('umount', [dir]);
        },
    };
    t.after(async () => {
        await card.server?.kill9();
        card.unmount();
        rmSync(dir, { recursive: true, force: true });
        if (card.image) rmSync(card.image, { force: true });
    });
    if (kind === 'tmpfs') {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dir]);
    } else {
        // ext4 that the kernel remounts read-only on an error, as a Pi's root does.
        execFileSync('truncate', ['-s', '16M', card.image]);
        execFileSync('mkfs.ext4', ['-q', '-F', card.image], { stdio: ['ignore', 'ignore', 'pipe'] });
        execFileSync('mount', ['-o', 'loop,errors=remount-ro', card.image, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    return card;
}

/** The server with its data directory on `card`, stopped when the test ends (before the unmount). */
function serverOn(t, card, options = {}) {
    const server = new ServerProcess(APP, options);
    rmSync(server.dataDir, { recursive: true, force: true });
    server.dataDir = card.dataDir;
    card.server = server;
    return server;
}

/** Fills the file system of `card` to the last byte. */
function fill(card) {
    for (const [name, bs] of [['filler', '64k'], ['filler-tail', '1k']]) {
        spawnSync('dd', ['if=/dev/zero', `of=${path.join(card.dir, name)}`, `bs=${bs}`], { stdio: 'ignore' });
    }
}

function free(card) {
    for (const name of readdirSync(card.dir).filter((n) => n.startsWith('filler'))) {
        rmSync(path.join(card.dir, name));
    }
}

async function register(url, username) {
    return http(url, '/api/register', { method: 'POST', body: { username, password: PASSWORD } });
}

async function logIn(url, username) {
    const jar = new CookieJar();
    const res = await http(url, '/api/login', { method: 'POST', jar, body: { username, password: PASSWORD } });
    assert.equal(res.status, 200, res.text);
    return jar;
}

async function storeUp(url) {
    const res = await http(url, '/metrics');
    const line = res.text.split('\n').find((l) => l.startsWith('sessio_store_up '));
    assert.ok(line, `no sessio_store_up in /metrics:\n${res.text}`);
    return Number(line.split(' ')[1]);
}

function assertRefused(res, what) {
    assert.equal(res.status, 503, `${what}: ${res.status} ${res.text}`);
    assert.equal(res.json?.success, false, what);
    assert.match(res.json.error, /disk full or read-only/, what);
    assert.ok(Number(res.headers.get('retry-after')) > 0, `${what}: no Retry-After`);
}

const count = (line, pattern) => line.split('\n').filter((l) => pattern.test(l)).length;

/**
 * Counts on `socket` until the store refuses a write; every ack before is the next count.
 * Returns the last acknowledged count and the refusal.
 */
async function countUntilRefused(socket, acked) {
    for (let i = 0; i < 500; i += 1) {
        const answer = await ask(socket, 'updateCount');
        if (answer.success === false) return { acked, refusal: answer };
        assert.equal(answer.count, acked + 1, 'an acknowledged count skipped or repeated');
        acked = answer.count;
    }
    throw new Error('500 writes acknowledged on a full disk: none refused');
}

describe('a sick card (sessio binary)', { skip }, () => {
    test('a full disk: writes refused, reads served, healed without a restart', { timeout: 60000 }, async (t) => {
        const card = mountFs(t, 'tmpfs');
        const server = serverOn(t, card);
        await server.start();
        assert.equal((await register(server.url, 'ann')).status, 201);
        const jar = await logIn(server.url, 'ann');
        const socket = await connect(t, server.url, { cookie: jar.header() });
        const other = await connect(t, server.url, { cookie: jar.header() });
        let acked = 0;
        for (let i = 0; i < 3; i += 1) acked = (await ask(socket, 'updateCount')).count;
        assert.equal(acked, 3);
        assert.equal(await storeUp(server.url), 1);

        fill(card);
        const down = await countUntilRefused(socket, acked);
        acked = down.acked;
        assert.match(down.refusal.error, /disk full or read-only/);
        assertRefused(await register(server.url, 'bob'), 'a registration on a full disk');
        assertRefused(await http(server.url, '/api/login', {
            method: 'POST',
            body: { username: 'ann', password: PASSWORD },
        }), 'a login on a full disk (it writes a session)');
        assert.equal(await storeUp(server.url), 0);
        // Reads go on: the session, the page, another socket's echo.
        const me = await http(server.url, '/api/me', { jar });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.json.username, 'ann');
        assert.equal((await http(server.url, '/')).status, 200);
        assert.deepEqual(await ask(other, 'echo', { n: 1 }), { n: 1 });
        assert.ok(socket.connected && other.connected);
        // A socket connecting now reads its session: it is let in.
        const late = await connect(t, server.url, { cookie: jar.header() });
        assert.equal(await ask(late, 'echo', 'late'), 'late');

        free(card);
        const freed = Date.now();
        await waitFor(async () => {
            const answer = await ask(socket, 'updateCount');
            if (answer.success === false) return false;
            // The refused writes left nothing behind.
            assert.equal(answer.count, acked + 1);
            acked = answer.count;
            return true;
        }, 10000, 'a write to be taken again after space came back');
        const healedInMs = Date.now() - freed;
        assert.ok(healedInMs < 5000, `healed only after ${healedInMs} ms`);
        t.diagnostic(`writes taken again ${healedInMs} ms after space came back`);
        if (process.env.STORE_FAULTS_SHOW_LOG) console.log(server.output);
        assert.equal((await register(server.url, 'bob')).status, 201);
        await logIn(server.url, 'bob');
        assert.equal(await storeUp(server.url), 1);
        // One line when the store went down, one when it came back.
        assert.equal(count(server.output, /store in .* failed: .*No space left on device/), 1, server.output);
        assert.equal(count(server.output, /store recovered/), 1, server.output);
        assert.equal(count(server.output, /sessio (error|warn)/), 2, `more than the two lines:\n${server.output}`);
        assert.doesNotMatch(server.output, /session store: account store|panicked/);

        // Everything acknowledged is on disk.
        await server.restart({ kill9: true });
        const after = await http(server.url, '/api/me', { jar });
        assert.equal(after.json.count, acked);
        await logIn(server.url, 'bob');
    });

    test('started on a full disk: says so in one line, waits for room, then serves', { timeout: 60000 }, async (t) => {
        const card = mountFs(t, 'tmpfs');
        const server = serverOn(t, card);
        await server.start();
        assert.equal((await register(server.url, 'ann')).status, 201);
        const jar = await logIn(server.url, 'ann');
        await server.stop();

        // sled writes when it opens (it zeroes the rest of a log segment): no
        // reads without room, so the server waits, saying why.
        fill(card);
        const starting = server.start();
        starting.catch(() => {}); // awaited below
        await waitFor(() => /cannot be written .*No space left on device.*waiting/.test(server.output), 10000,
            'the line saying the data directory is full');
        await sleep(2500);
        assert.equal(count(server.output, /cannot be written/), 1, 'said more than once');
        free(card);
        await starting;
        const me = await http(server.url, '/api/me', { jar });
        assert.equal(me.status, 200, me.text);
        assert.equal((await register(server.url, 'bob')).status, 201);
        assert.equal(await storeUp(server.url), 1);
        assert.match(server.output, /takes writes again/);
    });

    test('started on a read-only data directory: says so and waits for it', { timeout: 60000 }, async (t) => {
        const card = mountFs(t, 'tmpfs');
        const server = serverOn(t, card);
        await server.start();
        assert.equal((await register(server.url, 'ann')).status, 201);
        const jar = await logIn(server.url, 'ann');
        await server.stop();

        execFileSync('mount', ['-o', 'remount,ro', card.dir]);
        const starting = server.start();
        starting.catch(() => {}); // awaited below
        await waitFor(() => /cannot be written .*Read-only file system.*waiting/.test(server.output), 10000,
            'the line saying the data directory is read-only');
        await sleep(1000);
        assert.equal(count(server.output, /cannot be written/), 1, 'said more than once');
        execFileSync('mount', ['-o', 'remount,rw', card.dir]);
        await starting;
        const me = await http(server.url, '/api/me', { jar });
        assert.equal(me.status, 200, me.text);
        assert.equal((await register(server.url, 'bob')).status, 201);
        assert.equal(await storeUp(server.url), 1);
    });

    test('the kernel turns the file system read-only: writes refused, reads served, nothing lost', { timeout: 60000 }, async (t) => {
        let card;
        try {
            card = mountFs(t, 'ext4');
        } catch (err) {
            t.skip(`cannot loop-mount an ext4 image here: ${String(err.stderr || err.message).trim()}`);
            return;
        }
        const device = path.basename(execFileSync('findmnt', ['-n', '-o', 'SOURCE', card.dir]).toString().trim());
        const trigger = `/sys/fs/ext4/${device}/trigger_fs_error`;
        if (!existsSync(trigger)) {
            t.skip(`this kernel has no ${trigger} to turn the file system read-only with`);
            return;
        }
        const server = serverOn(t, card);
        await server.start();
        assert.equal((await register(server.url, 'ann')).status, 201);
        const jar = await logIn(server.url, 'ann');
        const socket = await connect(t, server.url, { cookie: jar.header() });
        let acked = 0;
        for (let i = 0; i < 3; i += 1) acked = (await ask(socket, 'updateCount')).count;

        // What ext4 does on a card error with errors=remount-ro (a Pi's default).
        writeFileSync(trigger, 'sessio-test\n');
        const down = await countUntilRefused(socket, acked);
        acked = down.acked;
        assertRefused(await register(server.url, 'bob'), 'a registration on a read-only file system');
        assert.equal(await storeUp(server.url), 0);
        assert.equal((await http(server.url, '/api/me', { jar })).status, 200);
        assert.deepEqual(await ask(socket, 'echo', 1), 1);
        assert.equal(count(server.output, /store in .* failed: .*Read-only file system/), 1, server.output);
        assert.equal(count(server.output, /store recovered/), 0);

        // The kernel keeps it read-only until it is unmounted and checked: the
        // operator's way back, after which everything acknowledged is there.
        await server.stop();
        assert.doesNotMatch(server.output, /panicked/);
        card.unmount();
        spawnSync('e2fsck', ['-p', '-f', card.image], { stdio: 'ignore' });
        execFileSync('mount', ['-o', 'loop,errors=remount-ro', card.image, card.dir]);
        await server.start();
        const me = await http(server.url, '/api/me', { jar });
        assert.equal(me.json.count, acked);
        assert.equal((await register(server.url, 'bob')).status, 201);
    });
});
