// The server under test, for the browser tests.
//
// One of, in this order:
//   SESSIO_BIN=path/to/sessio   start `$SESSIO_BIN serve --listen 127.0.0.1:PORT --data-dir TMP`
//                               on a free port (restartable, sessions persist across restarts)
//   SESSIO_NODE_DIR=dir         start the Node reference server (`node server.js` in dir, after
//                               `npm ci` there) with PORT and WWW=<repo>/www (restartable,
//                               sessions are in memory and do not survive a restart)
//   SESSIO_URL=http://...       use a server that is already running; restartable only when
//                               SESSIO_RESTART_CMD is set (a shell command that restarts it)
import { spawn, execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

// Wait until GET / answers (any status), for at most `ms`.
export async function waitUp(url, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url + '/', { signal: AbortSignal.timeout(1000) });
      return;
    } catch (e) {
      if (Date.now() > end) throw new Error(`server at ${url} did not come up in ${ms} ms: ${e.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

class ChildServer {
  constructor(cmd, args, env, cleanup) {
    Object.assign(this, { cmd, args, env, cleanup, canRestart: true, log: '' });
  }
  async start() {
    this.proc = spawn(this.cmd, this.args, { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d) => { this.log = (this.log + d).slice(-8000); };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    const exited = new Promise((_, fail) => this.proc.once('exit', (code) => fail(new Error(`server exited with ${code}: ${this.log}`))));
    exited.catch(() => {});
    await Promise.race([waitUp(this.url), exited]);
  }
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
  async restart() { await this.stop(); await this.start(); }
  async close() { await this.stop(); if (this.cleanup) this.cleanup(); }
}

class RunningServer {
  constructor(url) {
    this.url = url;
    this.canRestart = !!process.env.SESSIO_RESTART_CMD;
    this.persistsSessions = true;
  }
  async restart() {
    execSync(process.env.SESSIO_RESTART_CMD, { stdio: 'inherit', shell: '/bin/sh' });
    await waitUp(this.url);
  }
  async close() {}
}

/**
 * Start (or attach to) the server under test. Call `close()` when done. `args` are
 * more flags for a SESSIO_BIN server (`s.dataDir` is its data directory).
 */
export async function startServer({ args = [] } = {}) {
  const { SESSIO_BIN, SESSIO_NODE_DIR, SESSIO_URL } = process.env;
  if (SESSIO_BIN) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'sessio-browser-'));
    const s = new ChildServer(SESSIO_BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...args], {},
      () => rmSync(dataDir, { recursive: true, force: true }));
    s.url = `http://127.0.0.1:${port}`;
    s.dataDir = dataDir;
    s.persistsSessions = true;
    await s.start();
    return s;
  }
  if (SESSIO_NODE_DIR) {
    const port = await freePort();
    const s = new ChildServer(process.execPath, [join(SESSIO_NODE_DIR, 'server.js')],
      { PORT: String(port), WWW: join(repoRoot, 'www') });
    s.url = `http://127.0.0.1:${port}`;
    s.persistsSessions = false;
    await s.start();
    return s;
  }
  if (SESSIO_URL) {
    const s = new RunningServer(SESSIO_URL.replace(/\/+$/, ''));
    await waitUp(s.url, 5000);
    return s;
  }
  throw new Error('set SESSIO_BIN, SESSIO_NODE_DIR or SESSIO_URL to say which server to test');
}
