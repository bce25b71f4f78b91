// A Node member of a sessio cluster: socket.io 4.8 with @socket.io/redis-adapter 8.3's
// classic adapter (createAdapter) on node-redis 4, as the adapter's README sets it up.
// `node redis-peer.mjs PORT REDIS_URL`; prints "ready" once it listens. Its clients
// drive it through events, each answered by an ack:
//   broadcast(msg)             io.emit("message", {from: "node", msg})
//   toRoom(room, msg)          io.to(room).emit("message", {from: "node", msg})
//   relay(...args)             socket.broadcast.emit("relayed", ...args) (binary included)
//   fetchSockets(room?)        [{id, rooms, handshake}] of the cluster's sockets
//   socketsJoin(ids, room)     io.in(ids).socketsJoin(room)
//   socketsLeave(ids, room)    io.in(ids).socketsLeave(room)
//   disconnectSockets(room)    io.in(room).disconnectSockets(true)
//   serverSideEmit(arg)        io.serverSideEmitWithAck("ping", arg): every other server's answer
//   ackBroadcast(ms)           io.timeout(ms).emitWithAck("question"): every socket's answer
// and it answers the other servers' serverSideEmit("ping", ...) with "node".
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

const [port, url] = process.argv.slice(2);
const pub = createClient({ url });
const sub = pub.duplicate();
for (const client of [pub, sub]) client.on('error', (err) => console.error(`redis: ${err.message}`));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }) });
const answer = (ack, promise) => promise.then((v) => ack(v), (err) => ack({ error: err.message }));

io.on('ping', (arg, callback) => callback('node'));
io.on('connection', (socket) => {
    socket.on('broadcast', (msg, ack) => {
        io.emit('message', { from: 'node', msg });
        ack?.(true);
    });
    socket.on('toRoom', (room, msg, ack) => {
        io.to(room).emit('message', { from: 'node', msg });
        ack?.(true);
    });
    socket.on('relay', (...args) => {
        const ack = args.pop();
        socket.broadcast.emit('relayed', ...args);
        ack(true);
    });
    socket.on('fetchSockets', (room, ack) => {
        const target = room ? io.in(room) : io;
        answer(ack, target.fetchSockets().then((sockets) =>
            sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], handshake: s.handshake }))));
    });
    socket.on('socketsJoin', (ids, room, ack) => {
        io.in(ids).socketsJoin(room);
        ack?.(true);
    });
    socket.on('socketsLeave', (ids, room, ack) => {
        io.in(ids).socketsLeave(room);
        ack?.(true);
    });
    socket.on('disconnectSockets', (room, ack) => {
        io.in(room).disconnectSockets(true);
        ack?.(true);
    });
    socket.on('serverSideEmit', (arg, ack) => answer(ack, io.serverSideEmitWithAck('ping', arg)));
    socket.on('ackBroadcast', (ms, ack) => answer(ack, io.timeout(ms).emitWithAck('question')));
});
http.listen(Number(port), '127.0.0.1', () => console.log('ready'));
