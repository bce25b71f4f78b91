// Three (or N) sessio nodes built with `--features redis` (SESSIO_REDIS_BIN) on one
// redis-server of their own, behind Debian's nginx as a plain round-robin balancer (no
// ip_hash, no affinity): what tests/e2e/redis-forward.test.mjs and
// tests/browser/cluster.test.mjs share. nginx runs as the user running the test, on a
// free loopback port, with its configuration, pid, logs and temporary files in a
// temporary directory; its access log names the node each request went to.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startSharedServer } from './harness.mjs';
import { REDIS_APP, skip as redisSkip, startRedis } from './redis.mjs';
import { waitFor } from './clients.mjs';

const nginxBin = process.env.NGINX || ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync) || 'nginx';
const haveNginx = spawnSync(nginxBin, ['-v']).status === 0;

/** Why the cluster cannot run here, or false. */
export const skip = redisSkip || (!haveNginx && 'no nginx (tests/install-deps redis)');

/** The secret every node shares (the forwarding header is signed with a key from it). */
export const SECRET = 'the cluster shares this secret, 32+';

/** The nginx.conf of a round-robin balancer on `port` in front of `upstreams`. */
function nginxConf(dir, port, upstreams) {
    return `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
    log_format upstream '$request_method $request_uri $status $upstream_addr';
    access_log ${dir}/access.log upstream;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    upstream sessio {
${upstreams.map((p) => `        server 127.0.0.1:${p};`).join('\n')}
    }
    map $http_upgrade $connection_upgrade {
        default upgrade;
        '' close;
    }
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://sessio;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;
            proxy_read_timeout 120s;
        }
    }
}
`;
}

/** The tag a node took (from its start-up line). */
export function tagOf(node) {
    const found = node.output.match(/forwarding: node (\S+), reached/);
    assert.ok(found, `node on ${node.port} says its tag:\n${node.output}`);
    return found[1];
}

/**
 * Starts redis-server, `count` nodes (with `env` beside the cluster's own settings) and
 * nginx in front of them. Returns { url, nodes, accessLog(), portsOf(sid), nodeOfSid(sid),
 * stop() }.
 */
export async function startCluster({ count = 3, env = {} } = {}) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sessio-cluster-'));
    // nginx's worker may run as another user when the test runs as root.
    chmodSync(dir, 0o755);
    const cluster = { dir, nodes: [] };
    cluster.stop = async () => {
        const nginx = cluster.nginx;
        if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
            const gone = new Promise((resolve) => nginx.once('exit', resolve));
            nginx.kill('SIGTERM');
            await gone;
        }
        for (const node of cluster.nodes) await node.dispose();
        cluster.redis?.child.kill('SIGKILL');
        await cluster.redis?.exited;
        rmSync(dir, { recursive: true, force: true });
    };
    try {
        const redisPort = await freePort();
        cluster.redis = await startRedis(redisPort, dir);
        const nodeEnv = {
            SESSIO_REDIS: `redis://127.0.0.1:${redisPort}/0`,
            SESSIO_SESSION_STORE: 'redis',
            SESSIO_ACCOUNT_STORE: 'redis',
            SESSIO_SECRET: SECRET,
            ...env,
        };
        for (let i = 0; i < count; i++) cluster.nodes.push(await startSharedServer(REDIS_APP, { env: nodeEnv }));
        const port = await freePort();
        writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, port, cluster.nodes.map((n) => n.port)));
        const nginx = spawn(nginxBin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')],
            { stdio: ['ignore', 'ignore', 'pipe'] });
        cluster.nginx = nginx;
        let output = '';
        nginx.stderr.on('data', (d) => { output += d; });
        process.on('exit', () => nginx.kill('SIGKILL'));
        cluster.url = `http://127.0.0.1:${port}`;
        await waitFor(async () => {
            if (nginx.exitCode !== null) throw new Error(`nginx exited: ${output}`);
            return (await fetch(`${cluster.url}/api/me`).catch(() => null))?.status === 401;
        }, 10000, 'nginx in front of the nodes');
    } catch (err) {
        await cluster.stop();
        throw err;
    }
    /** nginx's access log: { method, uri, status, port } per request. */
    cluster.accessLog = () => readFileSync(path.join(dir, 'access.log'), 'utf8').trim().split('\n')
        .filter(Boolean).map((line) => {
            const [method, uri, status, upstream] = line.split(' ');
            return { method, uri, status: Number(status), port: Number(upstream.split(',').pop().trim().split(':').pop()) };
        });
    /** The node each logged request of `sid` went to. */
    cluster.portsOf = (sid) => cluster.accessLog()
        .filter((r) => r.uri.includes(`sid=${encodeURIComponent(sid)}`)).map((r) => r.port);
    /** The node whose tag begins `sid`. */
    cluster.nodeOfSid = (sid) => cluster.nodes.find((n) => sid.startsWith(tagOf(n)));
    return cluster;
}
