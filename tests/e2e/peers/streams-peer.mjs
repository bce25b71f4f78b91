// A Node member of a sessio cluster on @socket.io/redis-streams-adapter 0.3 (installed in
// peers/streams/, pinned there), socket.io 4.8 with connection state recovery on, node-redis
// 4, as the adapter's README sets it up. `node streams-peer.mjs PORT REDIS_URL`; prints
// "ready" once it listens. Its clients drive it through events, each answered by an ack:
//   join(room)                 socket.join(room); its rooms
//   broadcast(msg)             io.emit("message", {from: "node", msg})
//   toRoom(room, msg)          io.to(room).emit("message", {from: "node", msg})
//   relay(...args)             socket.broadcast.emit("relayed", ...args) (binary included)
//   fetchSockets(room?)        [{id, rooms}] of the cluster's sockets
//   socketsJoin(ids, room)     io.in(ids).socketsJoin(room)
//   serverSideEmit(arg)        io.serverSideEmitWithAck("ping", arg): every other server's answer
//   ackBroadcast(ms)           io.timeout(ms).emitWithAck("question"): every socket's answer
// and it answers the other servers' serverSideEmit("ping", ...) with "node".
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'package.json'));
const { Server } = require('socket.io');
const { createClient } = require('redis');
const { createAdapter } = createRequire(path.join(here, 'streams', 'package.json'))('@socket.io/redis-streams-adapter');

const [port, url] = process.argv.slice(2);
const redis = createClient({ url });
redis.on('error', (err) => console.error(`redis: ${err.message}`));
await redis.connect();

const http = createServer();
const io = new Server(http, {
    adapter: createAdapter(redis),
    connectionStateRecovery: { maxDisconnectionDuration: 60000 },
});
const answer = (ack, promise) => promise.then((v) => ack(v), (err) => ack({ error: err.message }));

io.on('ping', (arg, callback) => callback('node'));
io.on('connection', (socket) => {
    socket.on('join', (room, ack) => {
        socket.join(room);
        ack?.([...socket.rooms]);
    });
    socket.on('rooms', (ack) => ack([...socket.rooms]));
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
        answer(ack, target.fetchSockets().then((sockets) => sockets.map((s) => ({ id: s.id, rooms: [...s.rooms] }))));
    });
    socket.on('socketsJoin', (ids, room, ack) => {
        io.in(ids).socketsJoin(room);
        ack?.(true);
    });
    socket.on('serverSideEmit', (arg, ack) => answer(ack, io.serverSideEmitWithAck('ping', arg)));
    socket.on('ackBroadcast', (ms, ack) => answer(ack, io.timeout(ms).emitWithAck('question')));
});
http.listen(Number(port), '127.0.0.1', () => console.log('ready'));
