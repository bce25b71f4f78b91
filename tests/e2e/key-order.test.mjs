// JSON objects keep the order of their keys end to end, as JavaScript clients expect
// (issue 11): what a client sends comes back in the order it was sent (acks, events,
// broadcasts, binary packets, auth), and what the server builds comes in the order the
// Node reference writes it (the Engine.IO handshake, the app's replies and /api/me).
// `assert.deepEqual` ignores key order, so these compare JSON text and key lists.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APP, TESTBED, startSharedServer } from './harness.mjs';
import { CookieJar, MODE_NAMES, ask, askAll, connect, http, next, uniqueName } from './clients.mjs';

/** Keys in no sorted order, at every depth (no integer-like keys: JavaScript orders those itself). */
const ordered = () => ({
    run: 1,
    c: 2,
    zebra: { y: [{ q: 1, b: 2 }, 'x'], a: null },
    apple: 'last',
});

const sameText = (got, sent, what) => assert.equal(JSON.stringify(got), JSON.stringify(sent), what);

describe('key order through the testbed', { skip: TESTBED.available ? false : TESTBED.missing }, () => {
    let server;
    before(async () => {
        server = await startSharedServer(TESTBED);
    });
    after(() => server?.dispose());

    test('the handshake lists sid, upgrades, pingInterval, pingTimeout, maxPayload in that order', async () => {
        const res = await http(server.url, '/socket.io/?EIO=4&transport=polling');
        assert.equal(res.status, 200);
        const keys = Object.keys(JSON.parse(res.text.slice(1)));
        assert.deepEqual(keys, ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload']);
    });

    for (const mode of MODE_NAMES) {
        describe(`${mode} mode`, () => {
            test('an acked echo returns {"run":1,"c":2} and nested objects as sent', async (t) => {
                const socket = await connect(t, server.url, { mode });
                sameText(await ask(socket, 'echo', { run: 1, c: 2 }), { run: 1, c: 2 });
                const args = [ordered(), [ordered()], 'text'];
                sameText(await askAll(socket, 'echo', ...args), args);
            });

            test('a broadcast event carries the object as sent', async (t) => {
                const socket = await connect(t, server.url, { mode });
                await ask(socket, 'broadcast', { event: 'ordered', data: ordered() });
                const [got] = await next(socket, 'ordered');
                sameText(got, ordered());
            });

            test('a binary echo keeps the keys around the placeholder in order', async (t) => {
                const socket = await connect(t, server.url, { mode });
                const [got] = await askAll(socket, 'echo', { zeta: 1, file: Buffer.from([1, 2, 3]), alpha: 2 });
                assert.deepEqual(Object.keys(got), ['zeta', 'file', 'alpha']);
                assert.deepEqual([...got.file], [1, 2, 3]);
            });

            test('the client\'s answer to a server emit with ack comes back as sent', async (t) => {
                const socket = await connect(t, server.url, { mode });
                socket.on('question', (_data, answer) => answer(ordered()));
                sameText(await ask(socket, 'ask', { data: 'q' }), { answer: ordered() });
            });

            test('a namespace sees the CONNECT auth in its order', async (t) => {
                const auth = { token: 'letmein', zz: 1, aa: { y: 1, b: 2 } };
                const socket = await connect(t, server.url, { mode, namespace: '/private', auth });
                const [hello] = await next(socket, 'hello');
                sameText(hello, { ns: '/private', auth });
            });
        });
    }
});

describe('key order through the app', { skip: APP.available ? false : APP.missing }, () => {
    let server;
    before(async () => {
        server = await startSharedServer(APP);
    });
    after(() => server?.dispose());

    test('replies, events and /api/me come in the Node app\'s order; requestData keeps the client\'s', async (t) => {
        const user = { username: uniqueName('order'), password: 'an ordered password' };
        assert.equal((await http(server.url, '/api/register', { method: 'POST', body: user })).status, 201);
        const jar = new CookieJar();
        const login = await http(server.url, '/api/login', { method: 'POST', body: user, jar });
        assert.deepEqual(Object.keys(login.json), ['success', 'message', 'username']);

        const socket = await connect(t, server.url, { cookie: jar.header() });
        const [welcome] = await next(socket, 'connected');
        assert.deepEqual(Object.keys(welcome), ['message', 'userId', 'loginTime']);
        const reply = await ask(socket, 'requestData', ordered());
        assert.deepEqual(Object.keys(reply), ['success', 'message', 'userId', 'data']);
        sameText(reply.data, ordered());
        assert.deepEqual(Object.keys(await ask(socket, 'getUserInfo')), ['username', 'userId', 'loginTime']);
        await ask(socket, 'updateCount');

        const me = await http(server.url, '/api/me', { jar });
        assert.equal(me.status, 200);
        assert.deepEqual(Object.keys(me.json), ['username', 'userId', 'loginTime', 'count']);
        assert.equal(me.json.count, 1);
    });
});
