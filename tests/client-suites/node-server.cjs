// Starts the official Node support server of a client suite, unchanged, as a process
// of its own (upstream starts it inside mocha through the suite's hooks):
//
//   node --import tsx tests/client-suites/node-server.cjs socket.io-client|engine.io-client PACKAGE_DIR
//
// PACKAGE_DIR is the published package with the suite's test/ folder in it (see run).
// socket.io-client's test/support/server.ts listens on 3210. engine.io-client's
// test/support/hooks.js listens on 3000; it also bundles the client for browsers with
// rollup and upstream's support/rollup.config.umd.js, neither of which is published nor
// used in Node, so those two requires get a stand-in that never builds anything.
"use strict";
const Module = require("node:module");
const path = require("node:path");

const [name, dir] = process.argv.slice(2);
if (name === "socket.io-client" && dir) {
  require(path.resolve(dir, "test/support/server.ts")).createServer();
} else if (name === "engine.io-client" && dir) {
  const hooks = path.resolve(dir, "test/support/hooks.js");
  const load = Module._load;
  Module._load = function (request, parent, ...rest) {
    if (parent && parent.filename === hooks) {
      if (request === "rollup") return { rollup: () => new Promise(() => {}) };
      if (request.endsWith("/rollup.config.umd.js")) return [null, { output: {} }];
    }
    return load.call(this, request, parent, ...rest);
  };
  require(hooks).mochaHooks.beforeAll();
} else {
  console.error("usage: node --import tsx node-server.cjs socket.io-client|engine.io-client PACKAGE_DIR");
  process.exit(2);
}
