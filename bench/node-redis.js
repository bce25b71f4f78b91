// The Node reference (server.js in the working directory, unchanged) as one
// node of a cluster on Redis, with @socket.io/redis-adapter's classic adapter
// (createAdapter), for the benchmark's two-node scenario (bench/README.md).
//
// server.js builds its own `new Server(...)` and exports nothing, so this
// connects the two Redis clients the adapter needs, replaces the `Server` that
// socket.io exports with a subclass adding `adapter: createAdapter(pub, sub)`
// to its options, and only then loads server.js, which picks up the subclass.
// So the app, its login and its handlers are the reference's own, on the
// reference's own socket.io; only the adapter differs.
//
// Run: REDIS_URL=redis://127.0.0.1:PORT ADAPTER_MODULES=/path/to/node_modules PORT=3000 node node-redis.js
// ADAPTER_MODULES holds @socket.io/redis-adapter and redis (tests/node_modules
// pins 8.3.0 and 4.7.1).
'use strict';
const path = require('path');
const { createRequire } = require('module');

const url = process.env.REDIS_URL;
const modules = process.env.ADAPTER_MODULES;
if (!url || !modules) {
    console.error('node-redis.js: set REDIS_URL and ADAPTER_MODULES');
    process.exit(2);
}
const app = path.resolve('server.js');
const socketio = createRequire(app)('socket.io');
const { createAdapter } = require(path.resolve(modules, '@socket.io/redis-adapter'));
const { createClient } = require(path.resolve(modules, 'redis'));

async function main() {
    const pub = createClient({ url });
    const sub = pub.duplicate();
    for (const client of [pub, sub]) client.on('error', (e) => console.error(`redis: ${e.message}`));
    await Promise.all([pub.connect(), sub.connect()]);
    const Base = socketio.Server;
    socketio.Server = class extends Base {
        constructor(srv, opts) {
            super(srv, { ...opts, adapter: createAdapter(pub, sub) });
        }
    };
    require(app);
}

main().catch((e) => {
    console.error(`node-redis.js: ${e.stack || e}`);
    process.exit(1);
});
