// Async handlers (`Namespace::on_async`, issue 18): a socket's events reach its
// handlers in the order they came, also while an async handler of the socket waits;
// another socket is not held up; what may wait is capped, and dropped when the socket
// leaves. The testbed's `askInOrder` is an async handler that waits for the client's
// answer to a `question`, so the client decides how long it runs (no timer in the
// server); the app's `updateCount` waits for the store.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APP, TESTBED, startServer } from './harness.mjs';
import { CookieJar, ask, connect, http, once, sleep, uniqueName, waitFor } from './clients.mjs';

const skipTestbed = TESTBED.missing || false;
const skipApp = APP.reference ? 'the Node reference answers a socket\'s events as they finish' : (APP.missing || false);

/** Waits until the server's output has a line matching `re`. */
async function logged(server, re) {
    await waitFor(() => re.test(server.output), 3000, `a log line matching ${re}`);
}

/** A second socket on the same connection (socket.io-client multiplexes a Manager). */
async function sibling(t, socket, namespace) {
    const other = socket.io.socket(namespace);
    t.after(() => other.disconnect());
    if (!other.connected) await once(other, 'connect');
    return other;
}

/** The next `question` the server asks, with the function that answers it. */
function question(socket) {
    return new Promise((resolve) => socket.once('question', (data, answer) => resolve({ data, answer })));
}

describe('async handlers on the testbed', { skip: skipTestbed }, () => {
    for (const mode of ['websocket', 'polling']) {
        test(`a socket's later events wait behind its async handler, another socket's do not (${mode})`, async (t) => {
            const server = await startServer(t, TESTBED);
            const root = await connect(t, server.url, { mode });
            const other = await sibling(t, root, '/fragile');
            const arrived = [];
            const asked = question(root);
            const first = ask(root, 'askInOrder', { data: 'q', timeoutMs: 10000 }).then((a) => {
                arrived.push('askInOrder');
                return a;
            });
            const second = ask(root, 'echo', 'e').then((a) => {
                arrived.push('echo');
                return a;
            });
            const { data, answer } = await asked;
            assert.equal(data, 'q');
            // Sent after root's echo on the same connection: once this is answered the
            // server has read that echo, and this socket was not held up by root's wait.
            assert.equal(await ask(other, 'echo', 'o'), 'o');
            arrived.push('other socket');
            answer('a');
            assert.deepEqual(await first, { answer: 'a' });
            assert.equal(await second, 'e');
            assert.deepEqual(arrived, ['other socket', 'askInOrder', 'echo']);
        });
    }

    test('at most max-pending-acks events wait; one more disconnects the client', async (t) => {
        const server = await startServer(t, TESTBED, { flags: { maxPendingAcks: 4 } });
        const root = await connect(t, server.url);
        const other = await sibling(t, root, '/fragile');
        const asked = question(root); // never answered
        root.emit('askInOrder', { data: 'q', timeoutMs: 60000 });
        await asked;
        // No acks asked: only the wait counts against the cap.
        for (let i = 0; i < 4; i++) root.emit('echo', i);
        assert.equal(await ask(other, 'echo', 'still here'), 'still here');
        const gone = once(root, 'disconnect');
        root.emit('echo', 5);
        await gone;
        await logged(server, /over max-pending-acks \(4\)/);
    });

    test('what waits is dropped when the socket leaves; its running handler ends', async (t) => {
        const server = await startServer(t, TESTBED);
        const root = await connect(t, server.url);
        const watcher = await connect(t, server.url);
        const asked = question(root); // never answered
        root.emit('askInOrder', { data: 'q', timeoutMs: 60000 });
        await asked;
        root.emit('broadcast', { event: 'late', data: 'dropped' });
        root.disconnect();
        // The server saw the socket leave; the waiting broadcast never goes out.
        await waitFor(async () => (await ask(watcher, 'count')).sockets === 1, 3000, 'the socket gone');
        await sleep(300);
        assert.deepEqual(watcher.inbox.filter((e) => e.event === 'late'), []);
        // The connection serves new sockets as before.
        assert.equal(await ask(watcher, 'echo', 'fine'), 'fine');
    });
});

describe('async handlers in the app', { skip: skipApp }, () => {
    test('updateCount and echo sent at once are answered in the order sent', async (t) => {
        const server = await startServer(t, APP);
        const user = { username: uniqueName('o'), password: 'order-password' };
        assert.equal((await http(server.url, '/api/register', { method: 'POST', body: user })).status, 201);
        const jar = new CookieJar();
        assert.equal((await http(server.url, '/api/login', { method: 'POST', body: user, jar })).status, 200);
        const socket = await connect(t, server.url, { cookie: jar.header() });
        const arrived = [];
        const asks = [];
        for (let i = 0; i < 3; i++) {
            asks.push(ask(socket, 'updateCount').then((a) => arrived.push(`count ${a.count}`)));
            asks.push(ask(socket, 'echo', i).then((a) => arrived.push(`echo ${a}`)));
        }
        await Promise.all(asks);
        assert.deepEqual(arrived, ['count 1', 'echo 0', 'count 2', 'echo 1', 'count 3', 'echo 2']);
    });
});
