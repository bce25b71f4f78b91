// GET /metrics on the sessio binary: the Prometheus text parsed by the reference
// parser (Python's prometheus_client, installed by tests/install-deps python), every
// family the issue lists present, the counters moving with logins, sockets on both
// transports and refused handshakes, and the endpoint refused to clients that are
// not loopback (behind --trust-proxy, the forwarded address is the client) unless
// --metrics-allow names them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { APP, startServer } from './harness.mjs';
import { CookieJar, ask, connect, connectRefused, http, uniqueName, waitFor } from './clients.mjs';

const skip = APP.kind === 'binary' ? false : (APP.missing || '/metrics exists only on the sessio binary');
const parser = path.join(path.dirname(fileURLToPath(import.meta.url)), 'parse-metrics.py');
// Debian's python3-prometheus-client is for Debian's interpreter.
const python = process.env.PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/** Scrapes and parses; `{family: {type, samples}}` (counter families without `_total`). */
async function scrape(url) {
    const res = await http(url, '/metrics');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const run = spawnSync(python, [parser], { input: res.text, encoding: 'utf8', timeout: 20000 });
    assert.equal(run.status, 0, `the Prometheus parser refused the text: ${run.stderr}`);
    return JSON.parse(run.stdout);
}

/** The value of a family's sample named `name` with `labels` (exactly), or undefined. */
function value(families, family, name, labels = {}) {
    const samples = families[family]?.samples ?? [];
    const want = JSON.stringify(Object.entries(labels).sort());
    return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

const EXPECTED = {
    sessio_connections: 'gauge',
    sessio_sockets: 'gauge',
    sessio_handshakes_refused: 'counter',
    sessio_packets_received: 'counter',
    sessio_packets_sent: 'counter',
    sessio_bytes_received: 'counter',
    sessio_bytes_sent: 'counter',
    sessio_broadcasts: 'counter',
    sessio_acks_timed_out: 'counter',
    sessio_logins: 'counter',
    sessio_registrations: 'counter',
    sessio_store_sessions: 'gauge',
    sessio_store_size_bytes: 'gauge',
    sessio_store_up: 'gauge',
    sessio_store_sync_seconds: 'histogram',
    process_resident_memory_bytes: 'gauge',
    process_cpu_seconds: 'counter',
    process_open_fds: 'gauge',
};

describe('/metrics (sessio binary)', { skip }, () => {
    test('every family parses, and the counters move with what happens', async (t) => {
        const server = await startServer(t, APP);
        const url = server.url;
        const before = await scrape(url);
        for (const [name, type] of Object.entries(EXPECTED)) {
            assert.equal(before[name]?.type, type, `family ${name}`);
            assert.ok(before[name].help.length > 0, `${name} has help`);
        }
        const at = (families, family, name, labels) => value(families, family, name, labels) ?? 0;
        const moved = (after, family, name, labels) => at(after, family, name, labels) - at(before, family, name, labels);

        const username = uniqueName('m');
        const jar = new CookieJar();
        assert.equal((await http(url, '/api/register', { method: 'POST', body: { username, password: 'metrics-pass-1' } })).status, 201);
        assert.equal((await http(url, '/api/login', { method: 'POST', jar, body: { username, password: 'metrics-pass-1' } })).status, 200);
        // Ten failures at once for one name, then the eleventh attempt is throttled.
        const failed = await Promise.all(Array.from({ length: 10 }, () =>
            http(url, '/api/login', { method: 'POST', body: { username, password: 'wrong-password' }, timeoutMs: 30000 })));
        assert.deepEqual(failed.map((r) => r.status), Array(10).fill(401));
        assert.equal((await http(url, '/api/login', { method: 'POST', body: { username, password: 'wrong-password' } })).status, 429);

        const ws = await connect(t, url, { mode: 'websocket', cookie: jar.header() });
        const polling = await connect(t, url, { mode: 'polling', cookie: jar.header() });
        const big = 'x'.repeat(5000);
        assert.equal(await ask(ws, 'echo', big), big);
        assert.equal(await ask(polling, 'echo', big), big);
        const notify = await http(url, '/api/notify', { method: 'POST', jar, body: { message: 'hello' } });
        assert.equal(notify.status, 200);
        // Refused: a socket without a session (the namespace's middleware), and an
        // Engine.IO handshake for a transport that does not exist.
        await connectRefused(t, url, { mode: 'websocket' });
        assert.equal((await http(url, '/socket.io/?EIO=4&transport=carrier-pigeon')).status, 400);

        const after = await scrape(url);
        assert.equal(moved(after, 'sessio_registrations', 'sessio_registrations_total'), 1);
        assert.equal(moved(after, 'sessio_logins', 'sessio_logins_total', { result: 'ok' }), 1);
        assert.equal(moved(after, 'sessio_logins', 'sessio_logins_total', { result: 'failed' }), 10);
        assert.equal(moved(after, 'sessio_logins', 'sessio_logins_total', { result: 'throttled' }), 1);
        assert.equal(moved(after, 'sessio_handshakes_refused', 'sessio_handshakes_refused_total', { reason: 'namespace_middleware' }), 1);
        assert.equal(moved(after, 'sessio_handshakes_refused', 'sessio_handshakes_refused_total', { reason: 'unknown_transport' }), 1);
        assert.equal(moved(after, 'sessio_broadcasts', 'sessio_broadcasts_total'), 1);
        assert.equal(at(after, 'sessio_connections', 'sessio_connections', { transport: 'websocket' }), 1);
        assert.equal(at(after, 'sessio_connections', 'sessio_connections', { transport: 'polling' }), 1);
        assert.equal(at(after, 'sessio_sockets', 'sessio_sockets', { namespace: '/' }), 2);
        // Each echo is at least one packet and its 5000 bytes each way; the notification
        // reached both sockets.
        assert.ok(moved(after, 'sessio_packets_received', 'sessio_packets_received_total') >= 2);
        assert.ok(moved(after, 'sessio_packets_sent', 'sessio_packets_sent_total') >= 4);
        assert.ok(moved(after, 'sessio_bytes_received', 'sessio_bytes_received_total') >= 10000);
        assert.ok(moved(after, 'sessio_bytes_sent', 'sessio_bytes_sent_total') >= 10000);
        assert.ok(at(after, 'sessio_store_sessions', 'sessio_store_sessions') >= 1);
        assert.ok(at(after, 'sessio_store_size_bytes', 'sessio_store_size_bytes') > 0);
        assert.equal(at(after, 'sessio_store_up', 'sessio_store_up'), 1);
        // The registration and the login each waited for at least one sync.
        assert.ok(moved(after, 'sessio_store_sync_seconds', 'sessio_store_sync_seconds_count') >= 2);
        assert.equal(
            at(after, 'sessio_store_sync_seconds', 'sessio_store_sync_seconds_bucket', { le: '+Inf' }),
            at(after, 'sessio_store_sync_seconds', 'sessio_store_sync_seconds_count'));
        assert.ok(at(after, 'process_resident_memory_bytes', 'process_resident_memory_bytes') > 1 << 20);
        assert.ok(at(after, 'process_open_fds', 'process_open_fds') >= 3);
        assert.ok(moved(after, 'process_cpu_seconds', 'process_cpu_seconds_total') > 0);

        ws.disconnect();
        polling.disconnect();
        await waitFor(async () => at(await scrape(url), 'sessio_sockets', 'sessio_sockets', { namespace: '/' }) === 0,
            5000, 'the sockets to be gone from the gauge');
    });

    test('behind a trusted proxy, a forwarded client that is not loopback gets 403', async (t) => {
        const server = await startServer(t, APP, { env: { SESSIO_TRUST_PROXY: 'true' } });
        const forwarded = (ip) => ({ headers: { 'x-forwarded-for': ip } });
        assert.equal((await http(server.url, '/metrics', forwarded('203.0.113.9'))).status, 403);
        assert.equal((await http(server.url, '/metrics', forwarded('127.0.0.1'))).status, 200);
        assert.equal((await http(server.url, '/metrics')).status, 200);
        assert.equal((await http(server.url, '/metrics', { method: 'POST', raw: '' })).status, 405);
    });

    test('--metrics-allow names who may read it, loopback included or not', async (t) => {
        const env = { SESSIO_TRUST_PROXY: 'true', SESSIO_METRICS_ALLOW: '203.0.113.0/24,2001:db8::1' };
        const server = await startServer(t, APP, { env });
        const forwarded = (ip) => ({ headers: { 'x-forwarded-for': ip } });
        assert.equal((await http(server.url, '/metrics', forwarded('203.0.113.9'))).status, 200);
        assert.equal((await http(server.url, '/metrics', forwarded('2001:db8::1'))).status, 200);
        assert.equal((await http(server.url, '/metrics', forwarded('203.0.114.1'))).status, 403);
        assert.equal((await http(server.url, '/metrics')).status, 403, 'the list replaces loopback');
    });
});
