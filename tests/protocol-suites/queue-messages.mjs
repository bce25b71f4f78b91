// Rewrites a suite's test-suite.js so that its `waitFor(socket, "message")` keeps
// messages that arrive before a test waits for them, instead of losing them.
//
// Why: the suites register the listener for a message only after the previous
// wait resolved, so when two messages arrive in one read (a CONNECT reply and the
// first emit, written microseconds apart), the second is dropped and the test
// fails on whatever comes next (socketio/socket.io-protocol#32, open upstream;
// the Node reference loses this race too). No assertion changes: each message
// is still delivered once, in order, to the next wait.
//
//   node queue-messages.mjs PATH/TO/test-suite.js
import { readFileSync, writeFileSync } from 'node:fs';

const path = process.argv[2];
const source = readFileSync(path, 'utf8');
const start = source.indexOf('function waitFor(socket, eventType) {');
const end = start < 0 ? -1 : source.indexOf('\n}\n', start);
if (start < 0 || end < 0) {
    console.error(`${path}: no waitFor(socket, eventType) to rewrite`);
    process.exit(2);
}
const queueing = `function waitFor(socket, eventType) {
  if (eventType !== "message") {
    return new Promise((resolve) => socket.addEventListener(eventType, resolve, { once: true }));
  }
  if (!socket.__inbox) {
    const inbox = (socket.__inbox = { arrived: [], waiting: [] });
    socket.addEventListener("message", (event) => {
      const next = inbox.waiting.shift();
      if (next) next(event);
      else inbox.arrived.push(event);
    });
  }
  const inbox = socket.__inbox;
  if (inbox.arrived.length > 0) return Promise.resolve(inbox.arrived.shift());
  return new Promise((resolve) => inbox.waiting.push(resolve));
}`;
writeFileSync(path, source.slice(0, start) + queueing + source.slice(end + 2));
