// What a client was told survives kill -9: sockets bump their session's count and
// clients register and log in while the server is killed and restarted, over and over;
// after each restart every acknowledged count, every 201 and every 200 still holds, and
// nothing the clients did not send shows up.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APP, startServer } from './harness.mjs';
import { CookieJar, connect, http, sleep, uniqueName } from './clients.mjs';

const skip = APP.reference ? 'the Node reference keeps sessions in memory' : (APP.missing || false);

const CYCLES = Number(process.env.DURABILITY_CYCLES || 20);
const SESSIONS = 4;
const SOCKETS_PER_SESSION = 2;
const PASSWORD = 'durable-password';

async function register(url, username) {
    return http(url, '/api/register', { method: 'POST', body: { username, password: PASSWORD }, timeoutMs: 5000 });
}

async function login(url, username, jar) {
    return http(url, '/api/login', { method: 'POST', jar, body: { username, password: PASSWORD }, timeoutMs: 5000 });
}

/** One socket's closed loop of acked `updateCount`s until `stop.now`. */
async function bump(socket, session, stop) {
    while (!stop.now && socket.connected) {
        session.sent += 1;
        let answer;
        try {
            answer = await socket.timeout(3000).emitWithAck('updateCount');
        } catch {
            return; // killed before the answer: the client was told nothing
        }
        session.acked.push(answer.count);
    }
}

/** Registers and logs in new users until `stop.now`, keeping what was answered. */
async function accounts(url, told, stop) {
    while (!stop.now) {
        const username = uniqueName('d');
        try {
            const reg = await register(url, username);
            if (reg.status !== 201) continue;
            told.registered.push(username);
            const jar = new CookieJar();
            const res = await login(url, username, jar);
            if (res.status === 200) told.loggedIn.push({ username, jar });
        } catch {
            return; // killed mid-request
        }
    }
}

describe('durability (sessio binary)', { skip }, () => {
    test(`acknowledged writes survive ${CYCLES} kill -9 cycles`, { timeout: 150000 }, async (t) => {
        const server = await startServer(t, APP);
        const sessions = [];
        for (let i = 0; i < SESSIONS; i += 1) {
            const username = uniqueName('c');
            assert.equal((await register(server.url, username)).status, 201);
            const jar = new CookieJar();
            assert.equal((await login(server.url, username, jar)).status, 200);
            sessions.push({ username, jar, sent: 0, acked: [] });
        }
        const told = { registered: [], loggedIn: [] };
        let acks = 0;
        for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
            const sockets = [];
            for (const session of sessions) {
                for (let i = 0; i < SOCKETS_PER_SESSION; i += 1) {
                    sockets.push({ session, socket: await connect(t, server.url, { cookie: session.jar.header() }) });
                }
            }
            const stop = { now: false };
            const work = [
                ...sockets.map(({ session, socket }) => bump(socket, session, stop)),
                accounts(server.url, told, stop),
            ];
            // Kill at a different moment of the load each time.
            await sleep(150 + Math.floor(Math.random() * 350));
            await server.kill9();
            stop.now = true;
            await Promise.all(work);
            for (const { socket } of sockets) socket.disconnect();
            await server.start();

            for (const session of sessions) {
                const me = await http(server.url, '/api/me', { jar: session.jar });
                assert.equal(me.status, 200, `cycle ${cycle}: ${session.username} lost its session`);
                const highest = Math.max(0, ...session.acked);
                assert.ok(me.json.count >= highest,
                    `cycle ${cycle}: ${session.username} has count ${me.json.count}, but ${highest} was acknowledged`);
                assert.ok(me.json.count <= session.sent,
                    `cycle ${cycle}: ${session.username} has count ${me.json.count}, but only ${session.sent} were sent`);
                // Every ack told a different count: no two increments counted as one.
                assert.equal(new Set(session.acked).size, session.acked.length,
                    `cycle ${cycle}: ${session.username} got one count acknowledged twice`);
            }
            for (const username of told.registered) {
                const again = await register(server.url, username);
                assert.equal(again.status, 409, `cycle ${cycle}: ${username} was registered (201) and is gone`);
            }
            for (const { username, jar } of told.loggedIn) {
                const me = await http(server.url, '/api/me', { jar });
                assert.equal(me.status, 200, `cycle ${cycle}: the login of ${username} (200) is gone`);
                assert.equal(me.json.username, username);
            }
            acks = sessions.reduce((n, s) => n + s.acked.length, 0);
        }
        t.diagnostic(`${CYCLES} cycles: ${acks} counts acknowledged, ${told.registered.length} registrations, ` +
            `${told.loggedIn.length} logins, all still there`);
        assert.ok(acks >= CYCLES * SESSIONS, `only ${acks} counts were acknowledged: the test exercised too little`);
        assert.ok(told.registered.length >= CYCLES / 2, `only ${told.registered.length} registrations were answered`);
    });
});
