// Engine.IO 4 / Socket.IO 5 on the wire, with plain HTTP long-polling requests against
// the `testbed` example server: the handshake, raw packets, and the protocol's errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TESTBED, startServer, startSharedServer } from './harness.mjs';
import { http } from './clients.mjs';

const skip = TESTBED.available ? false : TESTBED.missing;
const SEP = '\x1e';

/** Splits a polling payload into Engine.IO packets: { type, data }. */
function enginePackets(body) {
    return body.split(SEP).map((p) => ({ type: p[0], data: p.slice(1) }));
}

/** Parses a Socket.IO packet string (the data of an Engine.IO message packet). */
function socketPacket(s) {
    let i = 1;
    const type = Number(s[0]);
    let attachments = 0;
    if (type === 5 || type === 6) {
        const dash = s.indexOf('-', i);
        attachments = Number(s.slice(i, dash));
        i = dash + 1;
    }
    let nsp = '/';
    if (s[i] === '/') {
        const comma = s.indexOf(',', i);
        nsp = s.slice(i, comma);
        i = comma + 1;
    }
    let id = null;
    const digits = /^\d+/.exec(s.slice(i));
    if (digits) {
        id = Number(digits[0]);
        i += digits[0].length;
    }
    const data = i < s.length ? JSON.parse(s.slice(i)) : undefined;
    return { type, attachments, nsp, id, data };
}

/** A raw Engine.IO long-polling session over fetch. */
class PollingSession {
    constructor(base) {
        this.base = `${base}/socket.io/?EIO=4&transport=polling`;
    }

    async open() {
        const res = await fetch(this.base, { signal: AbortSignal.timeout(5000) });
        assert.equal(res.status, 200);
        const body = await res.text();
        assert.equal(body[0], '0', `the handshake is not an open packet: ${body.slice(0, 100)}`);
        this.handshake = JSON.parse(body.slice(1));
        this.sid = this.handshake.sid;
        this.url = `${this.base}&sid=${encodeURIComponent(this.sid)}`;
        return this.handshake;
    }

    async post(body) {
        const res = await fetch(this.url, {
            method: 'POST',
            body,
            headers: { 'content-type': 'text/plain;charset=UTF-8' },
            signal: AbortSignal.timeout(10000),
        });
        return { status: res.status, body: await res.text() };
    }

    async get(ms = 5000) {
        const res = await fetch(this.url, { signal: AbortSignal.timeout(ms) });
        return { status: res.status, body: await res.text() };
    }

    /** Polls until `count` Socket.IO packets (binary attachments included) have arrived. */
    async receive(count) {
        const got = [];
        while (got.length < count) {
            const res = await this.get();
            assert.equal(res.status, 200, `poll failed: ${res.status} ${res.body}`);
            for (const p of enginePackets(res.body)) {
                if (p.type === '4') got.push(socketPacket(p.data));
                else if (p.type === 'b') got.push({ binary: Buffer.from(p.data, 'base64') });
                else if (p.type === '6' || p.type === '2') continue; // noop, ping
                else throw new Error(`unexpected engine packet ${p.type}${p.data}`);
            }
        }
        return got;
    }
}

/** A GET of a full URL: { status, json, text }. */
const getJson = (url) => http(url, '');

describe('Engine.IO over raw HTTP (testbed)', { skip }, () => {
    let server;
    before(async () => {
        server = await startSharedServer(TESTBED);
    });
    after(() => server?.dispose());

    test('the handshake is an open packet with sid, upgrades, pingInterval, pingTimeout, maxPayload', async () => {
        const hs = await new PollingSession(server.url).open();
        assert.equal(typeof hs.sid, 'string');
        assert.deepEqual(hs.upgrades, ['websocket']);
        assert.equal(hs.pingInterval, 25000);
        assert.equal(hs.pingTimeout, 20000);
        assert.equal(hs.maxPayload, 1000000);
    });

    test('the handshake reports the configured ping settings and max payload', async (t) => {
        const custom = await startServer(t, TESTBED, { flags: { pingInterval: 1234, pingTimeout: 567, maxPayload: 50000 } });
        if (!custom) return;
        const hs = await new PollingSession(custom.url).open();
        assert.equal(hs.pingInterval, 1234);
        assert.equal(hs.pingTimeout, 567);
        assert.equal(hs.maxPayload, 50000);
    });

    test('sids are unique and look random (>= 16 URL-safe characters)', async () => {
        const sids = [];
        for (let i = 0; i < 20; i++) sids.push((await new PollingSession(server.url).open()).sid);
        assert.equal(new Set(sids).size, sids.length, 'two handshakes got the same sid');
        for (const sid of sids) {
            assert.ok(sid.length >= 16, `sid ${sid} is shorter than 16 characters`);
            assert.match(sid, /^[A-Za-z0-9_-]+$/, `sid ${sid} is not URL-safe`);
        }
        for (let i = 1; i < sids.length; i++) {
            let differ = 0;
            for (let k = 0; k < 16; k++) if (sids[i][k] !== sids[i - 1][k]) differ++;
            assert.ok(differ >= 8, `consecutive sids ${sids[i - 1]} and ${sids[i]} look sequential`);
        }
    });

    test('a raw polling session: CONNECT, hello, an event with ack, several packets in one POST', async () => {
        const s = new PollingSession(server.url);
        await s.open();
        assert.equal((await s.post('40')).status, 200);
        const [connect, hello] = await s.receive(2);
        assert.equal(connect.type, 0);
        assert.equal(typeof connect.data.sid, 'string');
        assert.deepEqual({ type: hello.type, data: hello.data }, { type: 2, data: ['hello', { id: connect.data.sid }] });

        assert.equal((await s.post(`4221["echo","hi",{"n":[1,2]}]${SEP}4222["echo","second"]`)).status, 200);
        const acks = await s.receive(2);
        assert.deepEqual(acks.map((p) => [p.type, p.id, p.data]), [[3, 21, ['hi', { n: [1, 2] }]], [3, 22, ['second']]]);
    });

    test('a raw binary event is answered with a binary ack carrying the same bytes', async () => {
        const s = new PollingSession(server.url);
        await s.open();
        await s.post('40');
        await s.receive(2); // CONNECT, hello
        const bytes = Buffer.from([0, 1, 2, 250, 255]);
        const event = `451-7["echo",{"file":{"_placeholder":true,"num":0}}]${SEP}b${bytes.toString('base64')}`;
        assert.equal((await s.post(event)).status, 200);
        const [ack, attachment] = await s.receive(2);
        assert.equal(ack.type, 6, 'expected a BINARY_ACK');
        assert.equal(ack.attachments, 1);
        assert.equal(ack.id, 7);
        assert.deepEqual(ack.data, [{ file: { _placeholder: true, num: 0 } }]);
        assert.ok(attachment.binary?.equals(bytes), 'the attachment differs');
    });

    test('a polling POST over maxPayload gets 413; a POST of exactly maxPayload is accepted', async (t) => {
        const small = await startServer(t, TESTBED, { flags: { maxPayload: 5000 } });
        if (!small) return;
        const s = new PollingSession(small.url);
        assert.equal((await s.open()).maxPayload, 5000);
        await s.post('40');
        await s.receive(2);
        const exact = `42["echo","${'a'.repeat(5000 - 13)}"]`;
        assert.equal(Buffer.byteLength(exact), 5000);
        assert.equal((await s.post(exact)).status, 200);
        const other = new PollingSession(small.url);
        await other.open();
        assert.equal((await other.post(`42["echo","${'a'.repeat(5000 - 12)}"]`)).status, 413);
        // another session is not affected
        const third = new PollingSession(small.url);
        await third.open();
        assert.equal((await third.post('40')).status, 200);
        assert.equal((await third.receive(2))[0].type, 0);
    });

    test('a polling POST over the default 1,000,000-byte maxPayload gets 413', async () => {
        const s = new PollingSession(server.url);
        await s.open();
        const res = await s.post(`4${'x'.repeat(1_000_100)}`);
        assert.equal(res.status, 413);
    });

    test('a second concurrent GET on one sid gets 400 and closes the session', async () => {
        const s = new PollingSession(server.url);
        await s.open();
        const first = s.get(10000); // nothing queued: this long-polls
        await new Promise((r) => setTimeout(r, 100));
        const second = await s.get();
        assert.equal(second.status, 400);
        const firstDone = await first; // answered at once when the session closes
        if (firstDone.status === 200) {
            assert.ok(enginePackets(firstDone.body).some((p) => p.type === '1'),
                `the pending poll was answered without a close packet: ${firstDone.body}`);
        }
        const after = await getJson(s.url);
        assert.equal(after.status, 400);
        assert.equal(after.json?.code, 1, `expected "Session ID unknown" after the overlap: ${after.text}`);
    });

    test('a session that joins no namespace within the connect timeout is closed', async (t) => {
        const own = await startServer(t, TESTBED, { flags: { connectTimeout: 300 } });
        if (!own) return;
        const idle = new PollingSession(own.url);
        await idle.open();
        const joined = new PollingSession(own.url);
        await joined.open();
        assert.equal((await joined.post('40')).status, 200);
        const started = Date.now();
        const poll = await idle.get(5000); // long-polls until the server closes it
        assert.equal(poll.status, 200);
        assert.ok(enginePackets(poll.body).some((p) => p.type === '1'), `no close packet: ${poll.body}`);
        assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
        assert.equal((await getJson(idle.url)).json?.code, 1);
        await new Promise((r) => setTimeout(r, 500));
        const packets = await joined.receive(2); // CONNECT ack and hello: still open
        assert.equal(packets[0].type, 0);
    });

    test('an unknown sid gets 400 {"code":1,"message":"Session ID unknown"}', async () => {
        for (const sid of ['nope', 'AAAAAAAAAAAAAAAAAAAA']) {
            const res = await getJson(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
            assert.equal(res.status, 400);
            assert.deepEqual(res.json, { code: 1, message: 'Session ID unknown' });
        }
        const post = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=nope`, { method: 'POST', body: '40' });
        assert.equal(post.status, 400);
        assert.deepEqual(JSON.parse(await post.text()), { code: 1, message: 'Session ID unknown' });
    });

    test('an unsupported EIO version (5, 3, missing) gets 400 with code 5', async () => {
        for (const q of ['EIO=5&transport=polling', 'EIO=3&transport=polling', 'transport=polling']) {
            const res = await getJson(`${server.url}/socket.io/?${q}`);
            assert.equal(res.status, 400, q);
            assert.equal(res.json?.code, 5, `${q}: ${res.text}`);
        }
    });

    test('an unknown or missing transport gets 400 with code 0', async () => {
        for (const q of ['EIO=4&transport=carrier-pigeon', 'EIO=4']) {
            const res = await getJson(`${server.url}/socket.io/?${q}`);
            assert.equal(res.status, 400, q);
            assert.equal(res.json?.code, 0, `${q}: ${res.text}`);
        }
    });

    test('transport=websocket without an Upgrade gets 400 with code 3', async () => {
        const res = await getJson(`${server.url}/socket.io/?EIO=4&transport=websocket`);
        assert.equal(res.status, 400);
        assert.equal(res.json?.code, 3, res.text);
    });
});
