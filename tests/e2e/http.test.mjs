// The HTTP front of the app server: requests async-h1 alone would answer badly
// (other versions, oversized heads, pipelining), the static page and the compact client
// (types, ETag/304, gzip, traversal), and closed registration.
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { APP, startServer, startSharedServer } from './harness.mjs';
import { http, raw } from './clients.mjs';

const skip = !APP.available ? APP.missing
    : APP.kind === 'template' && APP.reference ? 'the Node seed reference serves no page and no compact client' : false;

/** The status codes of the responses in a raw reply (bodies need not end a line). */
const statuses = (text) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);

describe('HTTP front (app server)', { skip }, () => {
    let server;
    before(async () => { server = await startSharedServer(APP); });
    after(async () => { await server?.dispose(); });

    test('an HTTP/2 request line gets 505, not silence', async () => {
        const reply = await raw(server.port, 'GET / HTTP/2.0\r\nHost: x\r\n\r\n');
        assert.match(reply, /^HTTP\/1\.1 505 /);
    });

    test('a request head over 16 KiB gets 431', async () => {
        const reply = await raw(server.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17000)}\r\n\r\n`);
        assert.match(reply, /^HTTP\/1\.1 431 /);
    });

    test('garbage gets 400', async () => {
        const reply = await raw(server.port, 'HELLO THERE\r\n\r\n');
        assert.match(reply, /^HTTP\/1\.1 400 /);
    });

    test('pipelined requests are all answered, in order', async () => {
        const body = '{"username":"nobody","password":"wrong-password"}';
        const reply = await raw(server.port,
            'GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n' +
            `POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
            'GET /nope.txt HTTP/1.1\r\nHost: x\r\n\r\n');
        assert.deepEqual(statuses(reply), ['401', '401', '404']);
    });

    test('a WebSocket frame sent right behind the upgrade request is not lost', async () => {
        // A client frame ("40": join the main namespace), masked as clients must.
        const payload = Buffer.from('40');
        const mask = Buffer.from([1, 2, 3, 4]);
        const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask,
            payload.map((b, i) => b ^ mask[i % 4])]);
        const upgrade = Buffer.from('GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n' +
            'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
        const reply = await raw(server.port, Buffer.concat([upgrade, frame]), 500);
        assert.match(reply, /^HTTP\/1\.1 101 /);
        assert.match(reply, /0\{[^}]*"sid":/, 'the open packet');
        // Without a session cookie the namespace refuses: the answer to the early "40".
        assert.match(reply, /44\{"message":"Authentication required"\}/);
    });

    test('the page is served with its type, ETag and Last-Modified, and 304 when unchanged', async () => {
        const page = await http(server.url, '/');
        assert.equal(page.status, 200);
        assert.match(page.headers.get('content-type'), /^text\/html/);
        assert.match(page.text, /id="loginBtn"/);
        const etag = page.headers.get('etag');
        assert.ok(etag && page.headers.get('last-modified'), 'ETag and Last-Modified');
        const again = await http(server.url, '/', { headers: { 'if-none-match': etag } });
        assert.equal(again.status, 304);
        assert.equal(again.text, '');
        const css = await http(server.url, '/style.css');
        assert.match(css.headers.get('content-type'), /^text\/css/);
    });

    test('gzip is sent to clients that accept it, and decodes to the same bytes', async () => {
        const plain = await fetch(`${server.url}/socket.io/socket.io.js`, { headers: { 'accept-encoding': 'identity' } });
        const plainBody = Buffer.from(await plain.arrayBuffer());
        assert.match(plain.headers.get('content-type'), /javascript/);
        assert.equal(plain.headers.get('content-encoding'), null);
        const reply = await raw(server.port, 'GET /socket.io/socket.io.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n');
        const [head] = reply.split('\r\n\r\n');
        assert.match(head, /content-encoding: gzip/i);
        assert.match(head, /vary: accept-encoding/i);
        const gz = Buffer.from(reply.slice(head.length + 4), 'latin1');
        assert.deepEqual(zlib.gunzipSync(gz), plainBody);
    });

    test('missing files and paths that try to leave the folder are 404', async () => {
        for (const path of ['/nope.html', '/../Cargo.toml', '/%2e%2e/Cargo.toml', '/..%2fCargo.toml',
            '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/.%2e/src/main.rs', '/..\\Cargo.toml']) {
            const reply = await raw(server.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
            assert.match(reply, /^HTTP\/1\.1 404 /, `${path}: ${reply.split('\r\n')[0]}`);
        }
    });

    test('an unknown API route is a JSON 404; a wrong method is 405', async () => {
        const missing = await http(server.url, '/api/nothing');
        assert.equal(missing.status, 404);
        assert.equal(missing.json?.success, false);
        const wrong = await http(server.url, '/api/login');
        assert.equal(wrong.status, 405);
    });
});

describe('closed registration', { skip }, () => {
    test('register answers 403 when registration is closed', async (t) => {
        const closed = await startServer(t, APP, { flags: { registration: 'closed' } });
        if (!closed) return;
        const res = await http(closed.url, '/api/register', { method: 'POST', body: { username: 'someone', password: 'long-enough-1' } });
        assert.equal(res.status, 403);
        assert.equal(res.json?.success, false);
    });
});
