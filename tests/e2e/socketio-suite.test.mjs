// What the official Socket.IO protocol suite (socketio/socket.io-protocol, test-suite/)
// checks at the Socket.IO layer, as our own tests against the `socketio-suite` example
// (configured as the suite's reference: auth echoed on connect to `/` and `/custom`,
// `message` -> `message-back`, `message-with-ack` acked with its arguments; heartbeats
// 300 + 200 ms). Packets are compared as text, as the suite does. Over raw long-polling,
// where every packet of a response is seen, so unlike the suite's WebSocket reads these
// do not depend on how packets fall into TCP reads. The Node reference passes them too:
//   SOCKETIO_SUITE_CMD='PORT={port} node server.mjs' (the README's server on process.env.PORT)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SOCKETIO_SUITE, startSharedServer } from './harness.mjs';

const SEP = '\x1e';

/** A raw Engine.IO long-polling session that answers pings and keeps what else arrives. */
class Session {
    constructor(base) {
        this.base = `${base}/socket.io/?EIO=4&transport=polling`;
        this.inbox = [];
    }

    async open() {
        const res = await fetch(this.base, { signal: AbortSignal.timeout(5000) });
        assert.equal(res.status, 200);
        this.url = `${this.base}&sid=${JSON.parse((await res.text()).slice(1)).sid}`;
        return this;
    }

    /** POSTs Engine.IO packets; a Buffer goes as a base64 binary packet. */
    async send(...packets) {
        const body = packets.map((p) => (Buffer.isBuffer(p) ? `b${p.toString('base64')}` : `4${p}`)).join(SEP);
        return this.post(body);
    }

    async post(body) {
        const res = await fetch(this.url, { method: 'POST', body, signal: AbortSignal.timeout(5000) });
        await res.text();
        return res.status;
    }

    /** One poll: keeps its packets but pings (answered) and noops; rejects if the session ended. */
    async poll() {
        const res = await fetch(this.url, { signal: AbortSignal.timeout(5000) });
        const body = await res.text();
        if (res.status !== 200) throw new Error(`poll answered ${res.status} ${body}`);
        for (const p of body.split(SEP)) {
            if (p === '2') await this.post('3');
            else if (p === '6') continue;
            else if (p[0] === 'b') this.inbox.push(Buffer.from(p.slice(1), 'base64'));
            else if (p[0] === '4') this.inbox.push(p.slice(1));
            else throw new Error(`unexpected Engine.IO packet ${p}`);
        }
    }

    /** The next `count` Socket.IO packets (text, or Buffer for attachments). */
    async receive(count) {
        while (this.inbox.length < count) await this.poll();
        return this.inbox.splice(0, count);
    }

    /** Polls (answering pings) for `ms`; resolves with what arrived meanwhile. */
    async idle(ms) {
        const deadline = Date.now() + ms;
        while (Date.now() < deadline) await this.poll();
        return this.inbox.splice(0);
    }

    /** Polls until the server ends the session: a close packet or a 400 (within `ms`). */
    async closed(ms = 3000) {
        const deadline = Date.now() + ms;
        while (Date.now() < deadline) {
            const res = await fetch(this.url, { signal: AbortSignal.timeout(ms) });
            const packets = (await res.text()).split(SEP);
            if (res.status === 400 || packets.includes('1')) return true;
            if (packets.includes('2')) await this.post('3');
        }
        return false;
    }
}

/** The sid of a CONNECT reply `40{"sid":...}` (on `nsp`, with nothing else in it). */
function connected(packet, nsp = '') {
    const prefix = `0${nsp ? `${nsp},` : ''}`;
    assert.ok(packet.startsWith(prefix), `not a CONNECT reply: ${packet}`);
    const data = JSON.parse(packet.slice(prefix.length));
    assert.deepEqual(Object.keys(data), ['sid']);
    assert.equal(typeof data.sid, 'string');
    return data.sid;
}

const placeholders = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}';

describe('the Socket.IO suite\'s checks (socketio-suite example)', { skip: SOCKETIO_SUITE.available ? false : SOCKETIO_SUITE.missing }, () => {
    let server;
    before(async () => {
        server = await startSharedServer(SOCKETIO_SUITE);
    });
    after(() => server?.dispose());

    const open = () => new Session(server.url).open();
    /** A session connected to `/`, its CONNECT reply and auth event taken. */
    const joined = async () => {
        const s = await open();
        await s.send('0');
        await s.receive(2);
        return s;
    };

    test('CORS is open to any origin, preflight included', async () => {
        const url = `${server.url}/socket.io/?EIO=4&transport=polling`;
        const origin = { origin: 'http://elsewhere.example' };
        const preflight = await fetch(url, {
            method: 'OPTIONS',
            headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        });
        assert.equal(preflight.status, 204);
        assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
        assert.match(preflight.headers.get('access-control-allow-methods') || '', /POST/);
        const handshake = await fetch(url, { headers: origin });
        assert.equal(handshake.status, 200);
        assert.equal(handshake.headers.get('access-control-allow-origin'), '*');
        await handshake.text();
    });

    test('CONNECT to / is answered with {"sid"} and the auth, {} when none was sent', async () => {
        const s = await open();
        await s.send('0');
        const [reply, auth] = await s.receive(2);
        connected(reply);
        assert.equal(auth, '2["auth",{}]');
    });

    test('CONNECT to / with a payload gets it back as the auth, keys in order', async () => {
        const s = await open();
        await s.send('0{"token":"123","b":1}');
        const [reply, auth] = await s.receive(2);
        connected(reply);
        assert.equal(auth, '2["auth",{"token":"123","b":1}]');
    });

    test('CONNECT to /custom, with and without a payload', async () => {
        const s = await open();
        await s.send('0/custom,');
        const [reply, auth] = await s.receive(2);
        connected(reply, '/custom');
        assert.equal(auth, '2/custom,["auth",{}]');
        const t = await open();
        await t.send('0/custom,{"token":"abc"}');
        const [reply2, auth2] = await t.receive(2);
        connected(reply2, '/custom');
        assert.equal(auth2, '2/custom,["auth",{"token":"abc"}]');
    });

    test('CONNECT to an unknown namespace (no comma after it) is refused as Node does', async () => {
        const s = await open();
        await s.send('0/random');
        assert.deepEqual(await s.receive(1), ['4/random,{"message":"Invalid namespace"}']);
    });

    test('a packet of an unknown type, before or after CONNECT, ends the session', async () => {
        const before = await open();
        await before.send('abc');
        assert.ok(await before.closed(), 'still open after "4abc" before CONNECT');
        const afterConnect = await joined();
        await afterConnect.send('abc');
        assert.ok(await afterConnect.closed(), 'still open after "4abc"');
    });

    test('an event that is not an array, or with a bad ack id, ends the session', async () => {
        const notArray = await joined();
        await notArray.send('2{}');
        assert.ok(await notArray.closed(), 'still open after "42{}"');
        const badId = await joined();
        await badId.send('2abc["message-with-ack",1,"2",{"3":[false]}]');
        assert.ok(await badId.closed(), 'still open after an ack id "abc"');
    });

    test('DISCONNECT from / leaves the session open: pings go on, events to / are not handled', async () => {
        const s = await joined();
        await s.send('1', '2["message","after leaving"]');
        assert.deepEqual(await s.idle(700), []); // two ping intervals, nothing else
        await s.send('0/custom,');
        const [reply, auth] = await s.receive(2);
        connected(reply, '/custom');
        assert.equal(auth, '2/custom,["auth",{}]');
    });

    test('connect then disconnect /custom: / still answers on the same session', async () => {
        const s = await joined();
        await s.send('0/custom');
        await s.receive(2);
        await s.send('1/custom', '2["message","message to main namespace"]');
        assert.deepEqual(await s.receive(1), ['2["message-back","message to main namespace"]']);
    });

    test('message is echoed as message-back with the same arguments', async () => {
        const s = await joined();
        await s.send('2["message",1,"2",{"3":[true]}]');
        assert.deepEqual(await s.receive(1), ['2["message-back",1,"2",{"3":[true]}]']);
    });

    test('message with two attachments is echoed as a binary event with the same bytes', async () => {
        const s = await joined();
        await s.send(`52-["message",${placeholders}]`, Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6]));
        const [event, a, b] = await s.receive(3);
        assert.equal(event, `52-["message-back",${placeholders}]`);
        assert.deepEqual([[...a], [...b]], [[1, 2, 3], [4, 5, 6]]);
    });

    test('message-with-ack is acked with its arguments, as text and as a binary ack', async () => {
        const s = await joined();
        await s.send('2456["message-with-ack",1,"2",{"3":[false]}]');
        assert.deepEqual(await s.receive(1), ['3456[1,"2",{"3":[false]}]']);
        await s.send(`52-789["message-with-ack",${placeholders}]`, Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6]));
        const [ack, a, b] = await s.receive(3);
        assert.equal(ack, `62-789[${placeholders}]`);
        assert.deepEqual([[...a], [...b]], [[1, 2, 3], [4, 5, 6]]);
    });
});
