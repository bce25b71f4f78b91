// The binary's log lines: one per record on standard error, and, when standard error is
// systemd's journal (JOURNAL_STREAM names its device and inode), each with its syslog
// priority first, so `journalctl -p warning` can filter them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { APP, freePort } from './harness.mjs';
import { http } from './clients.mjs';

const skip = APP.kind === 'binary' ? false : (APP.missing || 'the log format is the sessio binary\'s');

/** Runs sessio with standard error in a file until it answers, stops it with SIGTERM, and
 * returns what it wrote there. `journal(stat)` gives JOURNAL_STREAM from the file's stat. */
async function runAndStop(t, journal) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sessio-e2e-log-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const errPath = path.join(dir, 'stderr');
    const fd = openSync(errPath, 'w');
    const env = { ...process.env };
    delete env.JOURNAL_STREAM;
    const stream = journal(statSync(errPath, { bigint: true }));
    if (stream !== undefined) env.JOURNAL_STREAM = stream;
    const port = await freePort();
    const child = spawn(APP.bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'data')],
        { env, stdio: ['ignore', 'ignore', fd] });
    closeSync(fd);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
        try { await http(url, '/api/me'); break; } catch (err) {
            if (i > 200) throw err;
            await new Promise((r) => setTimeout(r, 50));
        }
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    return readFileSync(errPath, 'utf8');
}

describe('logging (sessio binary)', { skip }, () => {
    test('lines carry their syslog priority when standard error is the journal', async (t) => {
        const text = await runAndStop(t, (st) => `${st.dev}:${st.ino}`);
        assert.match(text, /^<6>sessio info: stopping on SIGTERM$/m);
        for (const line of text.trimEnd().split('\n')) assert.match(line, /^<[3-7]>sessio (error|warn|info|debug|trace): /);
    });

    test('and not on a terminal or a file, nor when JOURNAL_STREAM names another stream', async (t) => {
        const plain = await runAndStop(t, () => undefined);
        assert.match(plain, /^sessio info: stopping on SIGTERM$/m);
        assert.doesNotMatch(plain, /^</m);
        const other = await runAndStop(t, (st) => `${st.dev}:${st.ino + 1n}`);
        assert.match(other, /^sessio info: stopping on SIGTERM$/m);
    });
});
