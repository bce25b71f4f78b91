// Test harness for the end-to-end suites: starts a server process on a free loopback
// port, waits until it accepts connections, and stops it (also on test failure).
//
// Which server runs comes from the environment:
//   app server      SESSIO_BIN=path/to/sessio       or APP_CMD='shell template'
//   testbed server  TESTBED_BIN=path/to/testbed     or TESTBED_CMD='shell template'
//   Socket.IO suite's server  SOCKETIO_SUITE_BIN=path/to/socketio-suite  or SOCKETIO_SUITE_CMD=...
// Without them the harness looks for target/{release,debug}/sessio and
// target/{release,debug}/examples/testbed in the repository.
//
// A template is run with /bin/sh -c after replacing {port}, {dataDir} and {args}
// (the shell-quoted flags a test needs). A template without {args} cannot take flags:
// a test that needs one is skipped, except for the Node seed's env equivalents
// (MAX_AGE_MS, SESSION_RELOAD_MS), which every template run gets. An APP_CMD server
// is treated as the Node seed reference: behaviour the seed lacks (Origin checks,
// persistent sessions, login throttling, JSON body errors, Max-Age) is skipped there,
// unless APP_CMD_IS_REFERENCE=0 says the command runs a full implementation.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const startTimeoutMs = Number(process.env.E2E_START_TIMEOUT_MS || 20000);

// The flags a test may ask for, with their command-line names.
const FLAG_NAMES = {
    pingInterval: '--ping-interval',
    pingTimeout: '--ping-timeout',
    maxPayload: '--max-payload',
    sessionMaxAge: '--session-max-age',
    sessionCheckInterval: '--session-check-interval',
    allowedOrigin: '--allowed-origin',
    registration: '--registration',
    connectTimeout: '--connect-timeout',
    maxConnections: '--max-connections',
    maxConnectionsPerAddress: '--max-connections-per-address',
    requestTimeout: '--request-timeout',
    maxQueuedBytes: '--max-queued-bytes',
    maxPendingSessions: '--max-pending-sessions',
    maxPendingAcks: '--max-pending-acks',
    maxAttachments: '--max-attachments',
    maxRooms: '--max-rooms',
    maxJsonDepth: '--max-json-depth',
    recoveryWindow: '--recovery-window',
    recoveryBuffer: '--recovery-buffer',
    recoveryMaxDisconnected: '--recovery-max-disconnected',
    allowEio3: '--allow-eio3',
    adminUser: '--admin-user',
    tlsSelfSigned: '--tls-self-signed',
    tlsCert: '--tls-cert',
    tlsKey: '--tls-key',
};

// The Node seed's environment equivalents of some flags.
const SEED_ENV = {
    sessionMaxAge: (s) => ['MAX_AGE_MS', String(Number(s) * 1000)],
    sessionCheckInterval: (ms) => ['SESSION_RELOAD_MS', String(ms)],
};

function firstExisting(paths) {
    return paths.find((p) => existsSync(p));
}

function describeTarget(name, binVar, cmdVar, defaults) {
    const cmd = process.env[cmdVar];
    const reference = process.env[`${cmdVar}_IS_REFERENCE`] !== '0';
    if (cmd) return { name, kind: 'template', template: cmd, reference, available: true };
    const bin = process.env[binVar] || firstExisting(defaults.map((p) => path.join(repoRoot, p)));
    if (bin) return { name, kind: 'binary', bin: path.resolve(bin), reference: false, available: true };
    return {
        name,
        kind: 'none',
        reference: false,
        available: false,
        missing: `no ${name} server: set ${binVar} (the binary) or ${cmdVar} (a command template)`,
    };
}

/** The app server (CONTRACT.md): `sessio serve --listen ... --data-dir ...`. */
export const APP = describeTarget('app', 'SESSIO_BIN', 'APP_CMD', ['target/release/sessio', 'target/debug/sessio']);

/** The transport testbed: the `testbed` example, `--listen ...`. */
export const TESTBED = describeTarget('testbed', 'TESTBED_BIN', 'TESTBED_CMD', [
    'target/release/examples/testbed',
    'target/debug/examples/testbed',
]);

/** The server the official Socket.IO suite expects: the `socketio-suite` example, `--listen ...`. */
export const SOCKETIO_SUITE = describeTarget('socketio-suite', 'SOCKETIO_SUITE_BIN', 'SOCKETIO_SUITE_CMD', [
    'target/release/examples/socketio-suite',
    'target/debug/examples/socketio-suite',
]);

function flagArgs(flags) {
    const args = [];
    for (const [key, value] of Object.entries(flags)) {
        if (!(key in FLAG_NAMES)) throw new Error(`unknown server flag ${key}`);
        for (const v of Array.isArray(value) ? value : [value]) args.push(FLAG_NAMES[key], String(v));
    }
    return args;
}

const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** Why `target` cannot be started with `flags`, or null when it can. */
export function unsupported(target, flags = {}) {
    if (!target.available) return target.missing;
    if (target.kind !== 'template' || target.template.includes('{args}')) return null;
    const missing = Object.keys(flags).filter((k) => !(target.name === 'app' && k in SEED_ENV));
    if (missing.length === 0) return null;
    return `the reference command (${target.name === 'app' ? 'APP_CMD' : 'TESTBED_CMD'}) takes no flags, ` +
        `and this test needs ${missing.map((k) => FLAG_NAMES[k]).join(', ')}`;
}

export async function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

const live = new Set();
process.on('exit', () => {
    for (const s of live) s.signal('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
        for (const s of live) s.signal('SIGKILL');
        process.exit(130);
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function canConnect(port) {
    return new Promise((resolve) => {
        const sock = net.connect({ port, host: '127.0.0.1' });
        const done = (ok) => {
            sock.destroy();
            resolve(ok);
        };
        sock.once('connect', () => done(true));
        sock.once('error', () => done(false));
        sock.setTimeout(1000, () => done(false));
    });
}

/** One server process; `start` it, `stop` it, `kill9` it, `restart` it (same port and data). */
export class ServerProcess {
    constructor(target, { flags = {}, env = {}, port } = {}) {
        this.target = target;
        this.flags = flags;
        this.env = env;
        this.port = port;
        this.dataDir = mkdtempSync(path.join(os.tmpdir(), `sessio-e2e-${target.name}-`));
        this.child = null;
        this.output = '';
    }

    get url() {
        return `http://127.0.0.1:${this.port}`;
    }

    commandLine() {
        const listen = `127.0.0.1:${this.port}`;
        const flagList = flagArgs(this.flags);
        if (this.target.kind === 'binary') {
            const args = this.target.name === 'app'
                ? ['serve', '--listen', listen, '--data-dir', this.dataDir, ...flagList]
                : ['--listen', listen, ...flagList];
            return { file: this.target.bin, args, env: {} };
        }
        const env = { PORT: String(this.port), DATA_DIR: this.dataDir };
        if (this.target.name === 'app') {
            for (const [k, v] of Object.entries(this.flags)) {
                if (k in SEED_ENV) {
                    const [name, value] = SEED_ENV[k](v);
                    env[name] = value;
                }
            }
        }
        const cmd = this.target.template
            .replaceAll('{port}', String(this.port))
            .replaceAll('{dataDir}', shellQuote(this.dataDir))
            .replaceAll('{args}', flagList.map(shellQuote).join(' '));
        return { file: '/bin/sh', args: ['-c', cmd], env };
    }

    describe() {
        const { file, args } = this.commandLine();
        return [file, ...args].join(' ');
    }

    async start() {
        if (this.child) throw new Error('server already running');
        if (!this.port) this.port = await freePort();
        const { file, args, env } = this.commandLine();
        this.output = '';
        const child = spawn(file, args, {
            env: { ...process.env, ...env, ...this.env },
            stdio: ['ignore', 'pipe', 'pipe'],
            detached: true, // own process group: a shell template's children die with it
        });
        this.child = child;
        live.add(this);
        const keep = (chunk) => {
            this.output = (this.output + chunk.toString()).slice(-16000);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.exited = new Promise((resolve) => {
            child.once('exit', (code, signal) => {
                live.delete(this);
                resolve({ code, signal });
            });
            child.once('error', (err) => {
                keep(`spawn error: ${err.message}\n`);
                live.delete(this);
                resolve({ code: null, signal: null, error: err });
            });
        });
        let exited = null;
        child.exited.then((e) => {
            exited = e;
        });
        const deadline = Date.now() + startTimeoutMs;
        while (Date.now() < deadline) {
            if (exited) {
                this.child = null;
                throw new Error(`${this.target.name} server exited (code ${exited.code}, signal ${exited.signal}) ` +
                    `before accepting connections\ncommand: ${this.describe()}\noutput:\n${this.output}`);
            }
            if (await canConnect(this.port)) return this;
            await sleep(50);
        }
        const cmdline = this.describe();
        await this.stop();
        throw new Error(`${this.target.name} server did not accept connections on port ${this.port} ` +
            `within ${startTimeoutMs} ms\ncommand: ${cmdline}\noutput:\n${this.output}`);
    }

    signal(sig) {
        if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
        try {
            process.kill(-this.child.pid, sig);
        } catch {
            try {
                this.child.kill(sig);
            } catch {
                // already gone
            }
        }
    }

    /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
    async stop({ graceMs = 3000 } = {}) {
        const child = this.child;
        if (!child) return;
        this.signal('SIGTERM');
        const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
        await child.exited;
        clearTimeout(timer);
        this.signal('SIGKILL'); // leftovers of the process group
        this.child = null;
    }

    /** kill -9 and wait until it is gone. */
    async kill9() {
        const child = this.child;
        if (!child) return;
        this.signal('SIGKILL');
        await child.exited;
        this.child = null;
    }

    /** Stop (or kill -9) and start again on the same port with the same data directory. */
    async restart({ kill9 = false } = {}) {
        if (kill9) await this.kill9();
        else await this.stop();
        return this.start();
    }

    async dispose() {
        await this.kill9();
        rmSync(this.dataDir, { recursive: true, force: true });
    }
}

/**
 * Starts a server for one test (stopped when the test ends, pass or fail).
 * Returns null after marking the test skipped when the target cannot take `flags`.
 */
export async function startServer(t, target, options = {}) {
    const reason = unsupported(target, options.flags);
    if (reason) {
        t.skip(reason);
        return null;
    }
    const server = new ServerProcess(target, options);
    t.after(() => server.dispose());
    await server.start();
    return server;
}

/** Starts a server shared by a suite; call `dispose()` in its `after` hook. */
export async function startSharedServer(target, options = {}) {
    const reason = unsupported(target, options.flags);
    if (reason) throw new Error(reason);
    const server = new ServerProcess(target, options);
    try {
        await server.start();
    } catch (err) {
        await server.dispose();
        throw err;
    }
    return server;
}
