// HTTPS without a proxy (issue 13, item 4): the app built with `--features tls`
// (SESSIO_TLS_BIN) and started with --tls-self-signed. The npm socket.io-client logs
// in over https and connects over polling, WebSocket (wss) and the upgrade, trusting
// exactly the certificate the server made in its data directory (checked for 127.0.0.1
// and localhost, so the SANs are right); the cookie is Secure; a restart serves the
// same certificate; plain HTTP on the port gets no answer. Then --tls-cert/--tls-key
// with that certificate copied elsewhere, and a key that does not match is refused.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { ServerProcess, startSharedServer } from './harness.mjs';
import { MODE_NAMES, ask, connect, next, raw, uniqueName } from './clients.mjs';

const bin = process.env.SESSIO_TLS_BIN;
const TLS_APP = { name: 'app', kind: 'binary', bin: bin && path.resolve(bin), reference: false, available: !!bin };
const skip = bin ? false : 'no TLS build: set SESSIO_TLS_BIN to a sessio built with --features tls (tests/run does)';

/** One https request trusting `ca`; resolves with { status, headers, json }. */
function request(base, ca, urlPath, { method = 'GET', body, cookie } = {}) {
    const url = new URL(urlPath, base);
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = {};
    if (data) headers['content-type'] = 'application/json';
    if (cookie) headers.cookie = cookie;
    return new Promise((resolve, reject) => {
        const req = https.request(url, { method, headers, ca, timeout: 10000 }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { text += d; });
            res.on('end', () => {
                let json;
                try { json = JSON.parse(text); } catch { json = undefined; }
                resolve({ status: res.statusCode, headers: res.headers, json });
            });
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end(data);
    });
}

/** The SHA-256 fingerprint of the certificate the server presents. */
function presented(port) {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
            const fingerprint = socket.getPeerCertificate().fingerprint256;
            socket.destroy();
            resolve(fingerprint);
        });
        socket.on('error', reject);
    });
}

describe('HTTPS with a self-signed certificate', { skip }, () => {
    let server;
    let base;
    let ca;
    let cookie;
    let username;

    before(async () => {
        server = await startSharedServer(TLS_APP, { flags: { tlsSelfSigned: true } });
        base = `https://127.0.0.1:${server.port}`;
        ca = readFileSync(path.join(server.dataDir, 'tls-cert.pem'));
        const user = { username: uniqueName('tls'), password: 'a long enough password' };
        username = user.username;
        const reg = await request(base, ca, '/api/register', { method: 'POST', body: user });
        assert.equal(reg.status, 201);
        const login = await request(base, ca, '/api/login', { method: 'POST', body: user });
        assert.equal(login.status, 200);
        const set = login.headers['set-cookie'] ?? [];
        assert.equal(set.length, 1, `one session cookie: ${set}`);
        assert.match(set[0], /;\s*Secure/i, 'the cookie is Secure over HTTPS');
        cookie = set[0].split(';')[0];
    });
    after(() => server?.dispose());

    test('the key is owner-only, and the API answers with the session', async () => {
        assert.equal(statSync(path.join(server.dataDir, 'tls-key.pem')).mode & 0o777, 0o600);
        const me = await request(base, ca, '/api/me', { cookie });
        assert.equal(me.status, 200);
        assert.equal(me.json.username, username);
        // Checked against the name too: localhost is in the certificate.
        const local = await request(`https://localhost:${server.port}`, ca, '/api/me', { cookie });
        assert.equal(local.status, 200);
    });

    for (const mode of MODE_NAMES) {
        test(`socket.io-client connects with the session over ${mode}`, async (t) => {
            const socket = await connect(t, base, { mode, cookie, ca });
            const [hello] = await next(socket, 'connected');
            assert.equal(hello.message, `Welcome ${username}!`);
            const expected = mode === 'polling' ? 'polling' : 'websocket';
            assert.equal(socket.io.engine.transport.name, expected);
            const info = await ask(socket, 'getUserInfo');
            assert.equal(info.username, username);
            const big = 'x'.repeat(200_000);
            assert.deepEqual(await ask(socket, 'echo', { big, n: 1 }), { big, n: 1 });
        });
    }

    test('plain HTTP on the HTTPS port is not served', async () => {
        const reply = await raw(server.port, 'GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n', 500);
        assert.ok(!reply.startsWith('HTTP/1.1 200'), reply);
    });

    test('a restart serves the same certificate', async () => {
        const before = await presented(server.port);
        const file = readFileSync(path.join(server.dataDir, 'tls-cert.pem'), 'utf8');
        await server.restart();
        assert.equal(await presented(server.port), before);
        assert.equal(readFileSync(path.join(server.dataDir, 'tls-cert.pem'), 'utf8'), file);
        const me = await request(base, ca, '/api/me', { cookie });
        assert.equal(me.status, 200, 'the session outlives the restart too');
    });
});

describe('HTTPS with --tls-cert and --tls-key', { skip }, () => {
    let dir;
    let ca;
    before(async () => {
        // A certificate and key made by a first start with --tls-self-signed.
        const maker = await startSharedServer(TLS_APP, { flags: { tlsSelfSigned: true } });
        dir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-tls-files-'));
        for (const name of ['tls-cert.pem', 'tls-key.pem']) copyFileSync(path.join(maker.dataDir, name), path.join(dir, name));
        ca = readFileSync(path.join(dir, 'tls-cert.pem'));
        await maker.dispose();
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('the server serves the given certificate over polling and WebSocket', async (t) => {
        const server = await startSharedServer(TLS_APP, {
            flags: { tlsCert: path.join(dir, 'tls-cert.pem'), tlsKey: path.join(dir, 'tls-key.pem') },
        });
        t.after(() => server.dispose());
        const base = `https://127.0.0.1:${server.port}`;
        const user = { username: uniqueName('tlsf'), password: 'a long enough password' };
        assert.equal((await request(base, ca, '/api/register', { method: 'POST', body: user })).status, 201);
        const login = await request(base, ca, '/api/login', { method: 'POST', body: user });
        assert.match(login.headers['set-cookie'][0], /;\s*Secure/i);
        const cookie = login.headers['set-cookie'][0].split(';')[0];
        for (const mode of ['polling', 'websocket']) {
            const socket = await connect(t, base, { mode, cookie, ca });
            assert.equal((await ask(socket, 'getUserInfo')).username, user.username);
        }
    });

    test('a key that is not the certificate\'s stops the start with a reason', async () => {
        const other = await startSharedServer(TLS_APP, { flags: { tlsSelfSigned: true } });
        const wrongKey = path.join(other.dataDir, 'tls-key.pem');
        const server = new ServerProcess(TLS_APP, {
            flags: { tlsCert: path.join(dir, 'tls-cert.pem'), tlsKey: wrongKey },
        });
        try {
            await assert.rejects(server.start(), /exited \(code 1[\s\S]*TLS: certificate and key refused/);
        } finally {
            await server.dispose();
            await other.dispose();
        }
    });
});
