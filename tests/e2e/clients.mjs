// Client-side helpers for the end-to-end suites: socket.io-client connections in the
// three transport modes, bounded waits, and plain HTTP with a tiny cookie jar.
import net from 'node:net';
import { io } from 'socket.io-client';

/** The three ways socket.io-client reaches a server. */
export const MODES = {
    polling: { transports: ['polling'] },
    websocket: { transports: ['websocket'] },
    upgrade: { transports: ['polling', 'websocket'] },
};
export const MODE_NAMES = Object.keys(MODES);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the args of the next `event` on `emitter`, or rejects after `ms`. */
export function once(emitter, event, ms = 5000) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            emitter.off(event, handler);
            reject(new Error(`no "${event}" within ${ms} ms`));
        }, ms);
        const handler = (...args) => {
            clearTimeout(timer);
            resolve(args);
        };
        emitter.once(event, handler);
    });
}

/** Resolves once `predicate()` holds (polled every 10 ms), rejects after `ms`. */
export async function waitFor(predicate, ms, what) {
    const deadline = Date.now() + ms;
    while (!(await predicate())) {
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await sleep(10);
    }
}

/** emit with an ack, bounded in time; resolves with the ack's first argument. */
export function ask(socket, event, ...args) {
    return socket.timeout(5000).emitWithAck(event, ...args);
}

/** emit with an ack, bounded in time; resolves with all of the ack's arguments. */
export function askAll(socket, event, ...args) {
    return new Promise((resolve, reject) => {
        socket.timeout(5000).emit(event, ...args, (err, ...answer) => (err ? reject(err) : resolve(answer)));
    });
}

/**
 * Records every event a socket gets from the moment it is made, so that events sent
 * right at connection time are not missed. `next(socket, name)` takes them in order.
 */
function attachInbox(socket) {
    socket.inbox = [];
    socket.waiters = [];
    socket.onAny((event, ...args) => {
        const i = socket.waiters.findIndex((w) => w.event === event);
        if (i >= 0) {
            const [w] = socket.waiters.splice(i, 1);
            w.resolve(args);
        } else {
            socket.inbox.push({ event, args });
        }
    });
}

/** The args of the next not yet taken `event` of the socket; rejects after `ms`. */
export function next(socket, event, ms = 5000) {
    const i = socket.inbox.findIndex((e) => e.event === event);
    if (i >= 0) return Promise.resolve(socket.inbox.splice(i, 1)[0].args);
    return new Promise((resolve, reject) => {
        const w = { event, resolve: null };
        const timer = setTimeout(() => {
            socket.waiters.splice(socket.waiters.indexOf(w), 1);
            reject(new Error(`no "${event}" within ${ms} ms`));
        }, ms);
        w.resolve = (args) => {
            clearTimeout(timer);
            resolve(args);
        };
        socket.waiters.push(w);
    });
}

/** The events named `event` that arrived and were not taken (first args). */
export function pending(socket, event) {
    return socket.inbox.filter((e) => e.event === event).map((e) => e.args[0]);
}

/** A socket.io-client socket that is not connected yet (each one its own Manager). */
export function makeSocket(url, { mode = 'websocket', namespace = '/', cookie, headers = {}, ...opts } = {}) {
    const extraHeaders = { ...headers };
    if (cookie) extraHeaders.cookie = cookie;
    const socket = io(url + namespace, {
        ...MODES[mode],
        forceNew: true,
        reconnection: false,
        timeout: 5000,
        extraHeaders,
        ...opts,
    });
    attachInbox(socket);
    return socket;
}

/**
 * Connects and resolves with the socket once it is connected (and, in `upgrade` mode,
 * upgraded to WebSocket); rejects with the `connect_error` error. With a test context
 * the socket is closed when the test ends.
 */
export async function connect(t, url, options = {}) {
    const mode = options.mode || 'websocket';
    const socket = makeSocket(url, options);
    if (t) t.after(() => socket.disconnect());
    const upgraded = mode === 'upgrade' ? once(socket.io.engine, 'upgrade', 10000) : null;
    upgraded?.catch(() => {});
    await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`socket did not connect within 10 s (${mode})`)), 10000);
        socket.once('connect', () => {
            clearTimeout(timer);
            resolve();
        });
        socket.once('connect_error', (err) => {
            clearTimeout(timer);
            reject(err);
        });
    });
    if (mode === 'upgrade' && socket.io.engine.transport.name !== 'websocket') await upgraded;
    return socket;
}

/** Connects expecting a refusal; resolves with the connect_error error. */
export async function connectRefused(t, url, options = {}) {
    const socket = makeSocket(url, options);
    if (t) t.after(() => socket.disconnect());
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('neither connect nor connect_error within 10 s')), 10000);
        socket.once('connect', () => {
            clearTimeout(timer);
            reject(new Error('connected, but the connection should have been refused'));
        });
        socket.once('connect_error', (err) => {
            clearTimeout(timer);
            resolve(err);
        });
    });
}

/** A minimal cookie jar: keeps name=value pairs from Set-Cookie, whatever the names. */
export class CookieJar {
    constructor() {
        this.cookies = new Map();
        this.lastSetCookies = [];
    }

    /** Stores what a response's Set-Cookie headers say; returns those raw headers. */
    update(response) {
        const raw = response.headers.getSetCookie();
        this.lastSetCookies = raw;
        for (const line of raw) {
            const [pair, ...attrs] = line.split(';');
            const eq = pair.indexOf('=');
            if (eq < 1) continue;
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            const attr = (n) => attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith(`${n}=`));
            const maxAge = attr('max-age');
            const expires = attr('expires');
            const gone = value === '' ||
                (maxAge && Number(maxAge.split('=')[1]) <= 0) ||
                (expires && Date.parse(expires.slice(expires.indexOf('=') + 1)) <= Date.now());
            if (gone) this.cookies.delete(name);
            else this.cookies.set(name, value);
        }
        return raw;
    }

    /** The Cookie header value, or undefined when the jar is empty. */
    header() {
        if (this.cookies.size === 0) return undefined;
        return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    }

    clone() {
        const jar = new CookieJar();
        jar.cookies = new Map(this.cookies);
        return jar;
    }
}

/**
 * One HTTP request: `body` (an object) is sent as JSON, `raw` as is. Resolves with
 * { status, headers, text, json } (json is undefined when the body is not JSON).
 */
export async function http(url, path, { method = 'GET', body, raw, jar, headers = {}, timeoutMs = 10000 } = {}) {
    const h = { ...headers };
    if (body !== undefined || raw !== undefined) h['content-type'] ??= 'application/json';
    const cookie = jar?.header();
    if (cookie && !h.cookie) h.cookie = cookie;
    const res = await fetch(url + path, {
        method,
        headers: h,
        body: raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual',
    });
    jar?.update(res);
    const text = await res.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
}

/**
 * Sends raw bytes (a string is sent as latin1, so '\xff' is one byte; an array is sent
 * piece by piece, `pauseMs` apart) and collects the reply as latin1 text until the
 * server closes or stays quiet for `quietMs`.
 */
export function raw(port, bytes, quietMs = 1000, { pauseMs = 50 } = {}) {
    const toBuffer = (b) => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        const chunks = [];
        let timer;
        const done = () => { socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); };
        const arm = () => { clearTimeout(timer); timer = setTimeout(done, quietMs); };
        socket.on('connect', async () => {
            socket.setNoDelay(true);
            for (const [i, piece] of (Array.isArray(bytes) ? bytes : [bytes]).entries()) {
                if (i > 0 && pauseMs > 0) await sleep(pauseMs);
                socket.write(toBuffer(piece));
            }
            arm();
        });
        socket.on('data', (d) => { chunks.push(d); arm(); });
        socket.on('end', () => { clearTimeout(timer); done(); });
        socket.on('error', reject);
    });
}

let unique = 0;
/** A username no other test uses: [A-Za-z0-9_.-], at most 32 characters. */
export function uniqueName(prefix = 'u') {
    unique += 1;
    return `${prefix}_${process.pid}_${unique}_${Math.random().toString(36).slice(2, 6)}`.slice(0, 32);
}
