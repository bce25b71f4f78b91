/*! sessio compact Socket.IO client (Engine.IO 4, Socket.IO 5). WebSocket first, HTTP
 * long-polling when the WebSocket cannot open. MIT. io(url?, opts) -> Socket. */
(function (root) {
'use strict';

// Event emitter; `fire` dispatches locally, as `emit` sends to the server.
class Emitter {
  on(ev, fn) { this._ev = this._ev || {}; (this._ev[ev] = this.listeners(ev)).push(fn); return this; }
  once(ev, fn) { const w = (...a) => { this.off(ev, w); fn.apply(this, a); }; w.fn = fn; return this.on(ev, w); }
  off(ev, fn) {
    if (ev === undefined) this._ev = {};
    else if (!fn) delete this._ev[ev];
    else this._ev[ev] = this.listeners(ev).filter((f) => f !== fn && f.fn !== fn);
    return this;
  }
  listeners(ev) { return (this._ev && this._ev[ev]) || []; }
  fire(ev, ...args) { for (const f of this.listeners(ev).slice()) f.apply(this, args); }
}

// ---- binary -------------------------------------------------------------------------
const isBin = (x) => x instanceof ArrayBuffer || ArrayBuffer.isView(x);
const isBlob = (x) => typeof Blob !== 'undefined' && x instanceof Blob;
const isPlain = (x) => x !== null && typeof x === 'object' && !Array.isArray(x) && !isBin(x) && !isBlob(x) && typeof x.toJSON !== 'function';
const mapObj = (o, f) => { const r = {}; for (const k of Object.keys(o)) r[k] = f(o[k]); return r; };
// Deep-map `x` with `f`, copying (the caller's data is never touched): `f` sees each value
// first, and where it returns the value unchanged, arrays and plain objects are walked into.
const walk = (x, f) => {
  const y = f(x);
  if (y !== x) return y;
  return Array.isArray(x) ? x.map((v) => walk(v, f)) : isPlain(x) ? mapObj(x, (v) => walk(v, f)) : x;
};
// Binary leaves become {_placeholder:true,num} and are collected in `bufs`; and back.
const strip = (data, bufs) => walk(data, (x) => {
  if (!isBin(x)) return x;
  bufs.push(x instanceof ArrayBuffer ? x : x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  return { _placeholder: true, num: bufs.length - 1 };
});
const unstrip = (data, bufs) => walk(data, (x) => {
  if (!x || x._placeholder !== true) return x;
  if (!Number.isInteger(x.num) || !(x.num in bufs)) throw new Error('bad placeholder');
  return bufs[x.num];
});
// Blobs are read (asynchronously) into ArrayBuffers before a packet is encoded.
const blobsIn = (data, found = []) => (walk(data, (x) => (isBlob(x) && found.push(x), x)), found);
const readBlobs = async (data, found) => {
  const bufs = await Promise.all(found.map((b) => b.arrayBuffer()));
  return walk(data, (x) => isBlob(x) ? bufs[found.indexOf(x)] : x);
};
const toB64 = (buf) => {
  const u = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
  return btoa(s);
};
const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;

// ---- Engine.IO ----------------------------------------------------------------------
// A transport hands raw packets (string or ArrayBuffer) to engine.onRaw and reports its
// end once through engine.onEnd(transport, reason).
const TRANSPORTS = {
  websocket(engine) {
    const ws = new WebSocket(engine.url('websocket').replace(/^http/, 'ws'));
    ws.binaryType = 'arraybuffer';
    const t = {
      name: 'websocket',
      send: (items) => items.forEach((x) => ws.send(x)),
      close: () => { ws.onclose = null; ws.close(); },
    };
    ws.onmessage = (e) => engine.onRaw(e.data);
    ws.onclose = () => engine.onEnd(t, 'transport close');
    return t;
  },

  polling(engine) {
    const abort = new AbortController();
    const queue = [];
    let alive = true, posting = false;
    const request = (method, body, signal) => fetch(engine.url('polling'), {
      method, body, signal, cache: 'no-store',
      credentials: engine.opts.withCredentials ? 'include' : 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'text/plain;charset=UTF-8' },
    }).then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); });
    // packets joined by the record separator, binary as "b" + base64
    const encode = (items) => items.map((x) => typeof x === 'string' ? x : 'b' + toB64(x)).join('\x1e');
    const fail = () => { if (alive) { alive = false; abort.abort(); engine.onEnd(t, 'transport error'); } };
    const poll = () => request('GET', undefined, abort.signal).then((text) => {
      for (const p of text.split('\x1e')) if (alive) engine.onRaw(p[0] === 'b' ? fromB64(p.slice(1)) : p);
      if (alive) poll();
    }, fail);
    const flush = () => {
      if (!alive || posting || !queue.length) return;
      posting = true;
      request('POST', encode(queue.splice(0)), abort.signal).then(() => { posting = false; flush(); }, fail);
    };
    const t = {
      name: 'polling',
      send: (items) => { queue.push(...items); flush(); },
      close: () => {
        if (!alive) return;
        alive = false;
        if (engine.sid) request('POST', encode(queue.concat('1'))).catch(() => {}); // close packet
        abort.abort();
      },
    };
    poll();
    return t;
  },
};

// One Engine.IO session: tries the transports in order until one delivers the open
// packet, then answers pings, frames messages, and fires open, data and (once) close.
class Engine extends Emitter {
  constructor(base, opts) {
    super();
    Object.assign(this, { base, opts, state: 'opening', error: 'no transport' });
    this.pending = opts.transports.filter((n) => TRANSPORTS[n]);
    setTimeout(() => this.next());
  }
  url(transport) {
    const sid = this.sid ? { sid: this.sid } : {};
    return this.base + this.opts.path + '?' + new URLSearchParams({ ...this.opts.query, EIO: '4', transport, ...sid });
  }
  next() {
    const name = this.pending.shift();
    if (this.state !== 'opening') return;
    if (!name) return this.close(this.error);
    try { this.transport = TRANSPORTS[name](this); } catch (e) { this.error = name + ' error'; this.next(); }
  }
  onEnd(t, reason) {
    if (t !== this.transport) return;
    if (this.state !== 'opening') return this.close(reason);
    this.error = t.name === 'websocket' ? 'websocket error' : 'xhr poll error';
    this.next();
  }
  onRaw(d) {
    if (this.state === 'closed') return;
    if (typeof d !== 'string') return this.fire('data', d);
    const body = d.slice(1);
    switch (d[0]) {
      case '0': { // open
        let h;
        try { h = JSON.parse(body); } catch (e) { return this.close('parse error'); }
        Object.assign(this, { sid: h.sid, pingWindow: h.pingInterval + h.pingTimeout, state: 'open' });
        this.heartbeat();
        return this.fire('open');
      }
      case '1': return this.close('transport close');
      case '2': this.transport.send(['3' + body]); return this.heartbeat(); // ping -> pong
      case '4': return this.fire('data', body);
      case '6': return; // noop
      default: return this.close('parse error');
    }
  }
  // The server pings every pingInterval; silence for longer than that plus pingTimeout is fatal.
  heartbeat() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => this.close('ping timeout'), this.pingWindow);
  }
  send(items) {
    if (this.state === 'open') this.transport.send(items.map((x) => typeof x === 'string' ? '4' + x : x));
  }
  close(reason) {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    clearTimeout(this.pingTimer);
    if (this.transport) this.transport.close();
    this.fire('close', reason, wasOpen);
  }
}

// ---- Socket.IO ----------------------------------------------------------------------
const CONNECT = 0, DISCONNECT = 1, EVENT = 2, ACK = 3, CONNECT_ERROR = 4, BINARY_EVENT = 5, BINARY_ACK = 6;
const RESERVED = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'];

// <type>[<attachments>-][<namespace>,][<ack id>][JSON]
function decode(s) {
  const m = /^([0-6])(?:(\d+)-)?(?:(\/[^,]*),)?(\d+)?([\s\S]*)$/.exec(s);
  if (!m || +m[2] > 10) throw new Error('parse error');
  return { type: +m[1], attachments: +(m[2] || 0), nsp: m[3] || '/', id: m[4] && +m[4], data: m[5] ? JSON.parse(m[5]) : undefined };
}

class Socket extends Emitter {
  constructor(uri, opts) {
    super();
    const u = new URL(uri || '/', typeof location !== 'undefined' ? location.href : undefined);
    this.nsp = u.pathname;
    this.base = u.origin;
    const o = this.opts = Object.assign({
      path: '/socket.io/', transports: ['websocket', 'polling'], reconnection: true,
      reconnectionAttempts: Infinity, reconnectionDelay: 1000, reconnectionDelayMax: 5000,
      randomizationFactor: 0.5, timeout: 20000, autoConnect: true, withCredentials: false, auth: {},
    }, opts);
    o.path = o.path.replace(/\/?$/, '/');
    o.query = Object.assign(Object.fromEntries(u.searchParams), o.query);
    this.io = new Emitter(); // manager events: reconnect_attempt, reconnect, reconnect_failed
    this.io.opts = o;
    Object.assign(this, { connected: false, disconnected: true, _acks: new Map(), _ackId: 0, _buffer: [], _flags: {}, _attempts: 0, _reading: 0 });
    if (o.autoConnect) this.connect();
  }

  get active() { return this.connected || !!this.engine || !!this._retryTimer; }
  timeout(ms) { this._flags.timeout = ms; return this; }

  connect() { this._attempts = 0; return this._open(); }
  open() { return this.connect(); }
  _open() {
    if (this.connected || this.engine) return this;
    this._noRetry = false;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const e = this.engine = this.io.engine = new Engine(this.base, this.opts);
    if (this.opts.timeout !== false) this._openTimer = setTimeout(() => e.close('timeout'), this.opts.timeout);
    e.on('open', () => this._sendConnect());
    e.on('data', (d) => this._onData(d));
    e.on('close', (reason, wasOpen) => this._onClose(e, reason, wasOpen));
    return this;
  }

  disconnect() {
    this._noRetry = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (this.connected) this._write({ type: DISCONNECT });
    if (this.engine) this.engine.close('io client disconnect');
    return this;
  }
  close() { return this.disconnect(); }
  send(...args) { return this.emit('message', ...args); }

  emit(ev, ...args) {
    if (RESERVED.includes(ev)) throw new Error('"' + ev + '" is a reserved event name');
    const t = this._flags.timeout ?? this.opts.ackTimeout;
    this._flags = {};
    let id;
    if (typeof args[args.length - 1] === 'function') {
      const fn = args.pop();
      id = this._ackId++;
      if (t == null) this._acks.set(id, fn);
      else { // with a timeout the callback takes an error first
        const timer = setTimeout(() => { this._acks.delete(id); fn.call(this, new Error('operation has timed out')); }, t);
        const ack = (...a) => { clearTimeout(timer); fn.call(this, null, ...a); };
        ack.fail = (err) => { clearTimeout(timer); fn.call(this, err); };
        this._acks.set(id, ack);
      }
    }
    this._send({ type: EVENT, data: [ev, ...args], id });
    return this;
  }

  emitWithAck(ev, ...args) {
    const withErr = (this._flags.timeout ?? this.opts.ackTimeout) !== undefined;
    return new Promise((resolve, reject) =>
      this.emit(ev, ...args, withErr ? (err, res) => (err ? reject(err) : resolve(res)) : resolve));
  }

  // Packets keep their order, also while Blobs in one of them are being read.
  _send(p) {
    const found = blobsIn(p.data);
    if (!this._reading && !found.length) return this._queue(p);
    this._reading++;
    this._chain = (this._chain || Promise.resolve())
      .then(() => readBlobs(p.data, found)).then((d) => { p.data = d; this._queue(p); })
      .finally(() => { if (!--this._reading) this._chain = null; });
  }
  _queue(p) { // events wait in a buffer while disconnected; stale acks are dropped
    if (this.connected) this._write(p);
    else if (p.type === EVENT) this._buffer.push(p);
  }
  _write({ type, data, id }) {
    const bufs = [];
    const json = data === undefined ? '' : JSON.stringify(strip(data, bufs));
    if (bufs.length) type = type === ACK ? BINARY_ACK : BINARY_EVENT;
    const head = type + (bufs.length ? bufs.length + '-' : '') + (this.nsp === '/' ? '' : this.nsp + ',') + (id === undefined ? '' : id);
    this.engine.send([head + json, ...bufs]); // attachments follow as binary messages
  }
  _sendConnect() {
    const send = (auth) => this._write({ type: CONNECT, data: auth && Object.keys(auth).length ? auth : undefined });
    if (typeof this.opts.auth === 'function') this.opts.auth(send); else send(this.opts.auth);
  }

  _onData(d) {
    let p = this._partial;
    try {
      if (typeof d !== 'string') { // an attachment of the pending binary packet
        if (!p) return;
        p.bufs.push(d);
        if (p.bufs.length < p.attachments) return;
        this._partial = null;
        p.data = unstrip(p.data, p.bufs);
      } else {
        p = decode(d);
        if (p.nsp !== this.nsp) return;
        if (p.attachments) { p.bufs = []; this._partial = p; return; }
      }
    } catch (e) { return this.engine.close('parse error'); }
    this._onPacket(p);
  }

  _onPacket(p) {
    switch (p.type) {
      case CONNECT: {
        if (!p.data || typeof p.data.sid !== 'string') return this.engine.close('parse error');
        clearTimeout(this._openTimer);
        const attempts = this._attempts;
        Object.assign(this, { id: p.data.sid, connected: true, disconnected: false, _attempts: 0 });
        for (const q of this._buffer.splice(0)) this._write(q);
        this.fire('connect');
        if (attempts) this.io.fire('reconnect', attempts);
        return;
      }
      case CONNECT_ERROR: { // refused by the server: retrying the same handshake would not help
        const data = p.data || {};
        this._refused = new Error(typeof data === 'object' ? data.message : String(data));
        this._refused.data = data.data;
        this._noRetry = true;
        return this.engine.close('refused');
      }
      case DISCONNECT:
        this._noRetry = true;
        return this.engine.close('io server disconnect');
      case EVENT: case BINARY_EVENT: {
        if (!Array.isArray(p.data) || typeof p.data[0] !== 'string') return;
        let sent = false;
        const ack = (...args) => { if (!sent) { sent = true; this._send({ type: ACK, data: args, id: p.id }); } };
        return this.fire(...(p.id === undefined ? p.data : p.data.concat(ack)));
      }
      case ACK: case BINARY_ACK: {
        const fn = this._acks.get(p.id);
        if (fn) { this._acks.delete(p.id); fn.apply(this, Array.isArray(p.data) ? p.data : []); }
      }
    }
  }

  _onClose(e, reason, wasOpen) {
    if (e !== this.engine) return;
    clearTimeout(this._openTimer);
    this.engine = this._partial = null;
    if (this.connected) {
      Object.assign(this, { connected: false, disconnected: true, id: undefined });
      for (const [id, fn] of this._acks) if (fn.fail) { this._acks.delete(id); fn.fail(new Error('socket has been disconnected')); }
      this.fire('disconnect', reason);
    } else if (reason !== 'io client disconnect') {
      const err = this._refused || new Error(wasOpen || reason === 'timeout' ? reason : e.error);
      this._refused = null;
      this.fire('connect_error', err);
    }
    this._retry();
  }

  // Exponential backoff with jitter: delay * 2^n, spread by +-randomizationFactor, capped.
  _retry() {
    const o = this.opts;
    if (!o.reconnection || this._noRetry || this._retryTimer || this.engine) return;
    if (this._attempts >= o.reconnectionAttempts) {
      this._noRetry = true;
      return this.io.fire('reconnect_failed');
    }
    const base = Math.min(o.reconnectionDelay * Math.pow(2, this._attempts++), o.reconnectionDelayMax);
    const ms = Math.min(o.reconnectionDelayMax, base * (1 + o.randomizationFactor * (2 * Math.random() - 1)));
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this.io.fire('reconnect_attempt', this._attempts);
      this._open();
    }, ms);
  }
}

function io(uri, opts) {
  if (typeof uri === 'object' && uri !== null) { opts = uri; uri = undefined; }
  return new Socket(uri, opts || {});
}
io.io = io.connect = io;
io.Socket = Socket;
io.protocol = 5;
root.io = io;
if (typeof module === 'object' && module.exports) module.exports = io;
})(typeof globalThis !== 'undefined' ? globalThis : this);
