// The app contract (CONTRACT.md, issue 3) end to end against the app server: accounts
// and sessions over plain HTTP with a cookie jar, and the same session carried into
// Socket.IO by socket.io-client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APP, startServer, startSharedServer } from './harness.mjs';
import {
    CookieJar, MODE_NAMES, ask, askAll, connect, connectRefused, http, next, once, pending, raw, sleep, uniqueName,
} from './clients.mjs';

const skip = APP.available ? false : APP.missing;
const REF = 'the Node seed reference (APP_CMD)';
const EVIL = 'http://evil.example';

async function register(url, prefix = 'u') {
    const user = { username: uniqueName(prefix), password: `pw-${Math.random().toString(36).slice(2)}` };
    const res = await http(url, '/api/register', { method: 'POST', body: user });
    assert.equal(res.status, 201, `register: ${res.status} ${res.text}`);
    return user;
}

async function login(url, user, jar = new CookieJar()) {
    const res = await http(url, '/api/login', { method: 'POST', body: user, jar });
    assert.equal(res.status, 200, `login: ${res.status} ${res.text}`);
    assert.ok(jar.header(), 'login set no cookie');
    return jar;
}

/** A new user, logged in: { user, jar, me } where me is the /api/me answer. */
async function loggedIn(url, prefix) {
    const user = await register(url, prefix);
    const jar = await login(url, user);
    const me = await http(url, '/api/me', { jar });
    assert.equal(me.status, 200);
    return { user, jar, me: me.json };
}

/**
 * An event's arguments without the offset that connection state recovery appends (a
 * string of digits, last; see recovery.test.mjs), so the contract reads the same with
 * recovery on or off.
 */
const withoutOffset = (args) => (/^\d+$/.test(args.at(-1)) && typeof args.at(-1) === 'string' ? args.slice(0, -1) : args);

const isError = (json) => json && json.success === false && typeof json.error === 'string' && json.error.length > 0;

/** The one cookie a jar holds after login: [name, value]. */
function sessionCookie(jar) {
    assert.equal(jar.cookies.size, 1, `expected one session cookie, got ${jar.header()}`);
    return [...jar.cookies][0];
}

/** The same cookie with one alphanumeric character near `fraction` of its value changed. */
function altered(jar, fraction) {
    const [name, value] = sessionCookie(jar);
    let i = Math.floor(value.length * fraction);
    while (i < value.length && !/[A-Za-z0-9]/.test(value[i])) i++;
    assert.ok(i < value.length, 'no character to alter');
    const c = value[i];
    const swapped = c === 'a' ? 'b' : c === 'A' ? 'B' : c === '0' ? '1' : /[0-9]/.test(c) ? '0' : /[a-z]/.test(c) ? 'a' : 'A';
    const forged = new CookieJar();
    forged.cookies.set(name, value.slice(0, i) + swapped + value.slice(i + 1));
    return forged;
}

describe('app contract', { skip }, () => {
    let server;
    let url;
    before(async () => {
        server = await startSharedServer(APP);
        url = server.url;
    });
    after(() => server?.dispose());

    describe('accounts over HTTP', () => {
        test('register answers 201 {success,username}; the same name again is 409', async () => {
            const user = { username: uniqueName('reg'), password: 'correct horse' };
            const res = await http(url, '/api/register', { method: 'POST', body: user });
            assert.equal(res.status, 201);
            assert.deepEqual(res.json, { success: true, username: user.username });
            assert.match(res.headers.get('content-type') || '', /^application\/json/);
            const again = await http(url, '/api/register', { method: 'POST', body: { ...user, password: 'another one' } });
            assert.equal(again.status, 409);
            assert.ok(isError(again.json), again.text);
        });

        test('register rejects bad usernames and passwords with 400 JSON errors', async () => {
            const ok = 'good password';
            const cases = [
                { username: '', password: ok },
                { username: 'has space', password: ok },
                { username: 'x'.repeat(33), password: ok },
                { username: 'ünïcode', password: ok },
                { username: 'semi;colon', password: ok },
                { username: uniqueName('p'), password: 'short7!' },
                { username: uniqueName('p'), password: 'x'.repeat(257) },
                { username: uniqueName('p'), password: 12345678 },
                { username: 42, password: ok },
                { password: ok },
                { username: uniqueName('p') },
                {},
            ];
            for (const body of cases) {
                const res = await http(url, '/api/register', { method: 'POST', body });
                assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)} -> ${res.status} ${res.text}`);
                assert.ok(isError(res.json), res.text);
            }
        });

        test('register accepts the limits: 32-character username, 8- and 256-character passwords', async () => {
            const base = uniqueName('lim');
            for (const [username, password] of [
                [`${base}_.-`.padEnd(32, 'z'), '8 chars!'],
                [`${base}b`, 'p'.repeat(256)],
            ]) {
                const res = await http(url, '/api/register', { method: 'POST', body: { username, password } });
                assert.equal(res.status, 201, `${username} -> ${res.status} ${res.text}`);
                await login(url, { username, password });
            }
        });

        test('login answers 200 {success,message,username} with an HttpOnly, SameSite=Lax, Path=/ cookie', async () => {
            const user = await register(url, 'login');
            const jar = new CookieJar();
            const res = await http(url, '/api/login', { method: 'POST', body: user, jar });
            assert.equal(res.status, 200);
            assert.deepEqual(res.json, { success: true, message: 'Logged in', username: user.username });
            assert.equal(jar.lastSetCookies.length, 1, `expected one Set-Cookie: ${jar.lastSetCookies}`);
            const attrs = jar.lastSetCookies[0].split(';').slice(1).map((a) => a.trim().toLowerCase());
            assert.ok(attrs.includes('httponly'), `no HttpOnly: ${jar.lastSetCookies[0]}`);
            assert.ok(attrs.includes('samesite=lax'), `no SameSite=Lax: ${jar.lastSetCookies[0]}`);
            assert.ok(attrs.includes('path=/'), `no Path=/: ${jar.lastSetCookies[0]}`);
            assert.ok(!attrs.includes('secure'), 'Secure on a plain-HTTP server');
        });

        test('the login cookie carries a positive Max-Age', async (t) => {
            if (APP.reference) return t.skip(`${REF} (express-session) sends Expires, not Max-Age`);
            const user = await register(url, 'maxage');
            const jar = new CookieJar();
            await http(url, '/api/login', { method: 'POST', body: user, jar });
            const maxAge = /;\s*max-age=(\d+)/i.exec(jar.lastSetCookies[0] || '');
            assert.ok(maxAge, `no Max-Age: ${jar.lastSetCookies[0]}`);
            assert.ok(Number(maxAge[1]) > 0);
        });

        test('a wrong password and an unknown user both get 401 {"success":false,"error":"invalid credentials"}', async () => {
            const user = await register(url, 'wrong');
            for (const body of [
                { username: user.username, password: `${user.password}x` },
                { username: uniqueName('ghost'), password: user.password },
            ]) {
                const jar = new CookieJar();
                const res = await http(url, '/api/login', { method: 'POST', body, jar });
                assert.equal(res.status, 401, res.text);
                assert.deepEqual(res.json, { success: false, error: 'invalid credentials' });
                assert.equal(jar.header(), undefined, 'a failed login set a cookie');
            }
        });

        test('/api/me is 401 when anonymous and gives username, userId, loginTime, count after login', async () => {
            const anon = await http(url, '/api/me', { jar: new CookieJar() });
            assert.equal(anon.status, 401);
            assert.deepEqual(anon.json, { success: false, error: 'Authentication required' });
            assert.deepEqual(anon.headers.getSetCookie(), [], 'an anonymous request got a cookie');

            const before = Date.now();
            const { user, me } = await loggedIn(url, 'me');
            assert.deepEqual(Object.keys(me).sort(), ['count', 'loginTime', 'userId', 'username']);
            assert.equal(me.username, user.username);
            assert.equal(typeof me.userId, 'number');
            assert.equal(me.count, 0);
            const loginTime = Date.parse(me.loginTime);
            assert.ok(Number.isFinite(loginTime), `loginTime ${me.loginTime} is not a date`);
            assert.ok(Math.abs(loginTime - before) < 60000, `loginTime ${me.loginTime} is not now`);
        });

        test('two users get different userIds', async () => {
            const a = await loggedIn(url, 'ida');
            const b = await loggedIn(url, 'idb');
            assert.notEqual(a.me.userId, b.me.userId);
        });

        test('a body that is invalid JSON or over 64 KiB gets 400 with a JSON error', async (t) => {
            const bad = await http(url, '/api/register', { method: 'POST', raw: '{"username": "x", ' });
            const big = await http(url, '/api/register', {
                method: 'POST',
                body: { username: uniqueName('big'), password: 'p'.repeat(70 * 1024) },
            });
            const bigLogin = await http(url, '/api/login', { method: 'POST', raw: `{"username":"${'a'.repeat(66 * 1024)}"}` });
            for (const res of [bad, big, bigLogin]) assert.ok(res.status >= 400 && res.status < 500, `${res.status}`);
            if (APP.reference) {
                return t.skip(`${REF} answers ${bad.status} and ${big.status} with HTML error pages (Express defaults)`);
            }
            for (const [what, res] of [['invalid JSON', bad], ['over 64 KiB', big], ['over 64 KiB', bigLogin]]) {
                assert.equal(res.status, 400, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
                assert.ok(isError(res.json), `${what}: ${res.text.slice(0, 200)}`);
            }
        });

        test('a body over the server\'s body limit gets 413 with a JSON error under /api/, text elsewhere', async (t) => {
            if (APP.reference) return t.skip(`${REF} has no limit of its own before Express reads the body`);
            // Refused from its head alone: the body is never sent.
            const head = (path) => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
                'Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n';
            const split = (reply) => {
                const end = reply.indexOf('\r\n\r\n');
                return { head: reply.slice(0, end), body: reply.slice(end + 4) };
            };
            const api = split(await raw(Number(new URL(url).port), head('/api/login')));
            assert.match(api.head, /^HTTP\/1\.1 413 /, api.head);
            assert.match(api.head, /\r\ncontent-type: application\/json\r\n/i, api.head);
            assert.ok(isError(JSON.parse(api.body)), api.body);
            const other = split(await raw(Number(new URL(url).port), head('/socket.io/?EIO=4&transport=polling')));
            assert.match(other.head, /^HTTP\/1\.1 413 /, other.head);
            assert.match(other.head, /\r\ncontent-type: text\/plain\r\n/i, other.head);
        });

        test('a body just under 64 KiB is read (400 for the long password, not a size error)', async () => {
            const body = { username: uniqueName('under'), password: 'p'.repeat(60 * 1024) };
            const res = await http(url, '/api/register', { method: 'POST', body });
            assert.equal(res.status, 400, res.text.slice(0, 200));
            assert.ok(isError(res.json), res.text.slice(0, 200));
        });

        test('logout answers 200, destroys the session and clears the cookie; also without a session', async () => {
            const { jar } = await loggedIn(url, 'logout');
            const kept = jar.clone();
            const [name] = sessionCookie(jar);
            const res = await http(url, '/api/logout', { method: 'POST', jar });
            assert.equal(res.status, 200);
            assert.deepEqual(res.json, { success: true, message: 'Logged out' });
            const clearing = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
            assert.ok(clearing, `logout did not clear the cookie ${name}`);
            assert.equal(jar.header(), undefined, `the cookie was not cleared: ${clearing}`);
            // the old cookie, kept by the client, is dead on the server too
            assert.equal((await http(url, '/api/me', { jar: kept })).status, 401);

            const anon = await http(url, '/api/logout', { method: 'POST', jar: new CookieJar() });
            assert.equal(anon.status, 200);
            assert.deepEqual(anon.json, { success: true, message: 'Logged out' });
        });

        test('login gives a fresh session id, also when the request carries an existing session', async () => {
            const first = await loggedIn(url, 'fresh1');
            const second = await register(url, 'fresh2');
            const oldJar = first.jar.clone();
            const [name, oldValue] = sessionCookie(first.jar);
            await login(url, second, first.jar); // log in as someone else with the first session's cookie
            const [newName, newValue] = sessionCookie(first.jar);
            assert.equal(newName, name);
            assert.notEqual(newValue, oldValue, 'the session id was kept across login');
            const me = await http(url, '/api/me', { jar: first.jar });
            assert.equal(me.json.username, second.username);
            assert.equal((await http(url, '/api/me', { jar: oldJar })).status, 401, 'the pre-login session lives on');

            // logging in again as the same user also changes the id
            const again = await login(url, second, first.jar.clone());
            assert.notEqual(sessionCookie(again)[1], newValue);
        });

        test('a forged or altered cookie is an anonymous request', async (t) => {
            const { jar } = await loggedIn(url, 'forge');
            const [name, value] = sessionCookie(jar);
            const forgeries = [altered(jar, 0.2), altered(jar, 0.5), altered(jar, 0.9)];
            for (const garbage of [`${value}x`, value.slice(0, -1), 'garbage', '%%%', '', `${value}.${value}`]) {
                const j = new CookieJar();
                j.cookies.set(name, garbage);
                forgeries.push(j);
            }
            for (const forged of forgeries) {
                const me = await http(url, '/api/me', { jar: forged });
                assert.equal(me.status, 401, `${forged.header()} -> ${me.status}`);
                assert.deepEqual(me.json, { success: false, error: 'Authentication required' });
            }
            for (const mode of ['polling', 'websocket']) {
                const err = await connectRefused(t, url, { mode, cookie: forgeries[1].header() });
                assert.equal(err.message, 'Authentication required', `${mode}: ${err.message}`);
            }
            assert.equal((await http(url, '/api/me', { jar })).status, 200, 'the genuine cookie stopped working');
        });

        test('notify is 401 when anonymous', async () => {
            const res = await http(url, '/api/notify', { method: 'POST', body: { message: 'x' }, jar: new CookieJar() });
            assert.equal(res.status, 401);
            assert.ok(isError(res.json));
        });
    });

    describe('the session in Socket.IO', () => {
        for (const mode of ['polling', 'websocket']) {
            test(`an anonymous handshake is refused with "Authentication required" (${mode})`, async (t) => {
                const err = await connectRefused(t, url, { mode });
                assert.equal(err.message, 'Authentication required');
            });
        }

        for (const mode of MODE_NAMES) {
            test(`a logged-in client connects and gets "connected" (${mode})`, async (t) => {
                const { user, jar, me } = await loggedIn(url, 'conn');
                const socket = await connect(t, url, { mode, cookie: jar.header() });
                if (mode !== 'polling') assert.equal(socket.io.engine.transport.name, 'websocket');
                const [hello] = await next(socket, 'connected');
                assert.deepEqual(hello, { message: `Welcome ${user.username}!`, userId: me.userId, loginTime: me.loginTime });
            });
        }

        test('requestData emits "response" and acks the same object', async (t) => {
            const { user, jar, me } = await loggedIn(url, 'req');
            const socket = await connect(t, url, { cookie: jar.header() });
            const data = { any: ['thing', 1, null], nested: { ok: true } };
            const expected = { success: true, message: `Hello ${user.username}!`, userId: me.userId, data };
            assert.deepEqual(await ask(socket, 'requestData', data), expected);
            assert.deepEqual(withoutOffset(await next(socket, 'response')), [expected]);
            socket.emit('requestData', 'no ack wanted');
            assert.deepEqual(withoutOffset(await next(socket, 'response')), [{ ...expected, data: 'no ack wanted' }]);
        });

        test('getUserInfo emits "userInfo" and acks the same object', async (t) => {
            const { user, jar, me } = await loggedIn(url, 'info');
            const socket = await connect(t, url, { mode: 'polling', cookie: jar.header() });
            const expected = { username: user.username, userId: me.userId, loginTime: me.loginTime };
            assert.deepEqual(await ask(socket, 'getUserInfo'), expected);
            assert.deepEqual(withoutOffset(await next(socket, 'userInfo')), [expected]);
            socket.emit('getUserInfo');
            assert.deepEqual(withoutOffset(await next(socket, 'userInfo')), [expected]);
        });

        test('sendMessage broadcasts to every socket and acks {success:true}; bad messages are refused', async (t) => {
            const a = await loggedIn(url, 'msga');
            const b = await loggedIn(url, 'msgb');
            const sa = await connect(t, url, { cookie: a.jar.header() });
            const sb = await connect(t, url, { mode: 'polling', cookie: b.jar.header() });
            const text = `hello ${Math.random()}`;
            assert.deepEqual(await ask(sa, 'sendMessage', { message: text }), { success: true });
            for (const s of [sa, sb]) {
                for (;;) {
                    const [m] = await next(s, 'message');
                    if (m.message !== text) continue; // another test's broadcast
                    assert.deepEqual(Object.keys(m).sort(), ['message', 'timestamp', 'userId', 'username']);
                    assert.equal(m.username, a.user.username);
                    assert.equal(m.userId, a.me.userId);
                    assert.ok(Number.isFinite(Date.parse(m.timestamp)), `timestamp ${m.timestamp}`);
                    break;
                }
            }
            const longest = 'z'.repeat(2000);
            assert.deepEqual(await ask(sb, 'sendMessage', { message: longest }), { success: true });

            const invalid = [{ message: '' }, { message: 'z'.repeat(2001) }, { message: 42 }, { message: null }, {}, 'bare'];
            for (const data of invalid) {
                const ack = await ask(sa, 'sendMessage', data);
                assert.ok(isError(ack), `${JSON.stringify(data).slice(0, 40)} -> ${JSON.stringify(ack)}`);
            }
            const marker = `marker ${Math.random()}`;
            await ask(sa, 'sendMessage', { message: marker });
            const seen = [];
            for (;;) {
                const [m] = await next(sb, 'message');
                if (m.message === marker) break;
                seen.push(m.message);
            }
            assert.ok(seen.includes(longest), 'the 2000-character message was not broadcast');
            for (const bad of ['', 'z'.repeat(2001), 42, null, undefined]) {
                assert.ok(!seen.includes(bad), `an invalid message was broadcast: ${String(bad).slice(0, 20)}`);
            }
        });

        test('updateCount reloads, increments and saves the session; /api/me shows the count', async (t) => {
            const { jar } = await loggedIn(url, 'count');
            const s1 = await connect(t, url, { cookie: jar.header() });
            const s2 = await connect(t, url, { mode: 'polling', cookie: jar.header() });
            assert.deepEqual(await ask(s1, 'updateCount'), { count: 1 });
            assert.deepEqual(withoutOffset(await next(s1, 'countUpdated')), [{ count: 1 }]);
            assert.deepEqual(await ask(s1, 'updateCount'), { count: 2 });
            assert.deepEqual(await ask(s2, 'updateCount'), { count: 3 }, 'the other socket did not reload the session');
            s2.emit('updateCount'); // no ack wanted
            assert.deepEqual(withoutOffset(await next(s2, 'countUpdated')), [{ count: 3 }]);
            assert.deepEqual(withoutOffset(await next(s2, 'countUpdated')), [{ count: 4 }]);
            const me = await http(url, '/api/me', { jar });
            assert.equal(me.json.count, 4);
        });

        test('echo acks the payload unchanged, binary attachments included', async (t) => {
            const { jar } = await loggedIn(url, 'echo');
            for (const mode of ['polling', 'websocket']) {
                const socket = await connect(t, url, { mode, cookie: jar.header() });
                const payload = { text: 'ü ✓', bin: Buffer.from([1, 2, 3, 255]), list: [Buffer.from('abc'), 7] };
                const back = await ask(socket, 'echo', payload);
                assert.equal(back.text, payload.text);
                assert.ok(Buffer.from(back.bin).equals(payload.bin), mode);
                assert.ok(Buffer.from(back.list[0]).equals(payload.list[0]), mode);
                assert.equal(back.list[1], 7);
            }
        });

        test('notify reaches only the sockets of the caller\'s session', async (t) => {
            const a = await loggedIn(url, 'nota');
            const aOther = await login(url, a.user); // a second session of the same user
            const b = await loggedIn(url, 'notb');
            const a1 = await connect(t, url, { cookie: a.jar.header() });
            const a2 = await connect(t, url, { mode: 'polling', cookie: a.jar.header() });
            const a3 = await connect(t, url, { cookie: aOther.header() });
            const b1 = await connect(t, url, { cookie: b.jar.header() });
            const b2 = await connect(t, url, { mode: 'polling', cookie: b.jar.header() });

            const m1 = `for session a ${Math.random()}`;
            const res = await http(url, '/api/notify', { method: 'POST', body: { message: m1 }, jar: a.jar });
            assert.equal(res.status, 200);
            assert.deepEqual(res.json, { success: true });
            assert.deepEqual(withoutOffset(await next(a1, 'notification')), [{ message: m1 }]);
            assert.deepEqual(withoutOffset(await next(a2, 'notification')), [{ message: m1 }]);

            // a notify for the other sessions must be the first thing they get
            const m2 = `for session b ${Math.random()}`;
            await http(url, '/api/notify', { method: 'POST', body: { message: m2 }, jar: b.jar });
            assert.deepEqual(withoutOffset(await next(b1, 'notification')), [{ message: m2 }]);
            assert.deepEqual(withoutOffset(await next(b2, 'notification')), [{ message: m2 }]);
            const m3 = `for a's second session ${Math.random()}`;
            await http(url, '/api/notify', { method: 'POST', body: { message: m3 }, jar: aOther });
            assert.deepEqual(withoutOffset(await next(a3, 'notification')), [{ message: m3 }]);
            await sleep(100);
            assert.deepEqual(pending(a1, 'notification'), []);
            assert.deepEqual(pending(a2, 'notification'), []);

            // no message: still a notification with some text
            await http(url, '/api/notify', { method: 'POST', jar: b.jar });
            const [plain] = await next(b1, 'notification');
            assert.equal(typeof plain.message, 'string');
        });

        test('logout disconnects the session\'s live sockets at once with "io server disconnect"', async (t) => {
            const { user, jar } = await loggedIn(url, 'bye');
            const other = await login(url, user); // another session of the same user stays
            const s1 = await connect(t, url, { cookie: jar.header() });
            const s2 = await connect(t, url, { mode: 'polling', cookie: jar.header() });
            const s3 = await connect(t, url, { cookie: other.header() });
            const gone1 = once(s1, 'disconnect', 1000);
            const gone2 = once(s2, 'disconnect', 1000);
            const res = await http(url, '/api/logout', { method: 'POST', jar });
            assert.equal(res.status, 200);
            assert.equal((await gone1)[0], 'io server disconnect');
            assert.equal((await gone2)[0], 'io server disconnect');
            assert.equal(s3.connected, true);
            assert.deepEqual(await askAll(s3, 'echo', 'still in'), ['still in']);
        });

        for (const mode of ['websocket', 'polling']) {
            test(`a handshake with a valid cookie and a foreign Origin is refused (${mode})`, async (t) => {
                if (APP.reference) return t.skip(`${REF} does not check Origin`);
                const { jar } = await loggedIn(url, 'origin');
                await connectRefused(t, url, { mode, cookie: jar.header(), headers: { origin: EVIL } });
                const plain = await connect(t, url, { mode, cookie: jar.header() });
                assert.equal(plain.connected, true, 'the same handshake without Origin failed');
                const own = await connect(t, url, { mode, cookie: jar.header(), headers: { origin: url } });
                assert.equal(own.connected, true, 'the same handshake with the server\'s own Origin failed');
            });
        }

        test('a state-changing request with a foreign Origin is refused (logout keeps the session)', async (t) => {
            if (APP.reference) return t.skip(`${REF} does not check Origin`);
            const { jar } = await loggedIn(url, 'csrf');
            const res = await http(url, '/api/logout', { method: 'POST', jar: jar.clone(), headers: { origin: EVIL } });
            assert.ok(res.status >= 400 && res.status < 500, `logout with a foreign Origin: ${res.status}`);
            assert.equal((await http(url, '/api/me', { jar })).status, 200, 'the foreign page logged the user out');
        });
    });
});

describe('app contract: server configuration and lifetime', { skip }, () => {
    test('--allowed-origin admits that origin and still refuses others', async (t) => {
        if (APP.reference) return t.skip(`${REF} does not check Origin`);
        const server = await startServer(t, APP, { flags: { allowedOrigin: ['http://app.example', 'http://other.example'] } });
        if (!server) return;
        const { jar } = await loggedIn(server.url, 'allowed');
        for (const origin of ['http://app.example', 'http://other.example']) {
            const socket = await connect(t, server.url, { cookie: jar.header(), headers: { origin } });
            assert.equal(socket.connected, true, origin);
        }
        await connectRefused(t, server.url, { cookie: jar.header(), headers: { origin: EVIL } });
    });

    test('an expired session disconnects its socket within the check interval', { timeout: 30000 }, async (t) => {
        const server = await startServer(t, APP, { flags: { sessionMaxAge: 2, sessionCheckInterval: 200 } });
        if (!server) return;
        const user = await register(server.url, 'exp');
        const jar = new CookieJar();
        const loginAt = Date.now();
        await login(server.url, user, jar);
        const socket = await connect(t, server.url, { cookie: jar.header() });
        const [reason] = await once(socket, 'disconnect', 10000);
        const after = Date.now() - loginAt;
        assert.ok(typeof reason === 'string');
        assert.ok(after >= 900, `disconnected after ${after} ms, before the 2 s session expired`);
        assert.ok(after <= 2000 + 200 + 1500, `disconnected only after ${after} ms`);
        assert.equal((await http(server.url, '/api/me', { jar })).status, 401);
        await connectRefused(t, server.url, { cookie: jar.header() });
    });

    test('a login survives kill -9 and a restart of the server', { timeout: 60000 }, async (t) => {
        if (APP.reference) return t.skip(`${REF} keeps sessions in memory`);
        const server = await startServer(t, APP);
        const { user, jar, me } = await loggedIn(server.url, 'crash');
        await server.restart({ kill9: true });
        const after = await http(server.url, '/api/me', { jar });
        assert.equal(after.status, 200, `after kill -9: ${after.status} ${after.text}`);
        assert.equal(after.json.username, user.username);
        assert.equal(after.json.userId, me.userId);
        const socket = await connect(t, server.url, { cookie: jar.header() });
        assert.equal((await next(socket, 'connected'))[0].userId, me.userId);
        // and the account itself survived: a new login works
        await login(server.url, user);
    });

    test('repeated failed logins for one username are answered 429', { timeout: 150000 }, async (t) => {
        if (APP.reference) return t.skip(`${REF} does not limit login attempts`);
        const server = await startServer(t, APP);
        const user = await register(server.url, 'brute');
        const started = Date.now();
        const statuses = [];
        while (statuses.length < 30 && Date.now() - started < 120000) {
            const res = await http(server.url, '/api/login', {
                method: 'POST',
                body: { username: user.username, password: `guess-${statuses.length}` },
                timeoutMs: 30000,
            });
            statuses.push(res.status);
            if (res.status === 429) break;
            assert.equal(res.status, 401, `failed login ${statuses.length}: ${res.status} ${res.text}`);
        }
        assert.equal(statuses.at(-1), 429, `no 429 after ${statuses.length} failed logins: ${statuses.join(',')}`);
        assert.ok(statuses.length > 1, 'the very first failed login was already refused');
    });
});
