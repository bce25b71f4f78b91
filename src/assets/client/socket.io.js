/*! sessio's compact Socket.IO client (Engine.IO 4, Socket.IO 5): WebSocket, else HTTP
 * long-polling. MIT. Usage: const socket = io(url?, opts) */
(function (root) {
'use strict';

// `fire` runs local listeners (a Socket's `emit` sends to the server).
class Emitter {
  _ev = {};
  on(ev, fn) { this._ev[ev] = this.listeners(ev).concat(fn); return this; }
  once(ev, fn) { const w = (...a) => { this.off(ev, w); fn.apply(this, a); }; w.fn = fn; return this.on(ev, w); }
  off(ev, fn) {
    if (ev === undefined) this._ev = {};
    else this._ev[ev] = fn ? this.listeners(ev).filter((f) => f !== fn && f.fn !== fn) : [];
    return this;
  }
  listeners(ev) { return this._ev[ev] || []; }
  fire(ev, ...args) { for (const f of this.listeners(ev)) f.apply(this, args); }
}

// ---- binary
// Binary values (ArrayBuffer, typed arrays, Blob) go as attachments after their packet,
// and as {_placeholder: true, num} in its JSON.
const isBin = (x) => x instanceof ArrayBuffer || ArrayBuffer.isView(x) || x instanceof Blob;
const toJSON = (data, bufs) => JSON.stringify(data, (k, v) => isBin(v) ? { _placeholder: true, num: bufs.push(v) - 1 } : v);
const fromJSON = (json, bufs) => JSON.parse(json, bufs.length ? (k, v) => {
  if (v?._placeholder !== true) return v;
  if (!(bufs[v.num] instanceof ArrayBuffer)) throw new Error('bad placeholder');
  return bufs[v.num];
} : undefined);
const toB64 = (buf) => btoa(Array.from(new Uint8Array(buf), (b) => String.fromCharCode(b)).join(''));
const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;

// ---- Engine.IO
// A transport sends lists of packets (string or binary), passes those it receives (string
// or ArrayBuffer) to engine.onRaw, and its end, once, to engine.onEnd(transport, reason).
const TRANSPORTS = {
  websocket(engine) {
    const ws = new WebSocket(engine.url('websocket').replace(/^http/, 'ws'));
    const t = {
      name: 'websocket',
      send: (items) => items.forEach((x) => ws.send(x)),
      close: () => { ws.onclose = null; ws.close(); },
    };
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (e) => engine.onRaw(e.data);
    ws.onclose = () => engine.onEnd(t, 'transport close');
    return t;
  },

  polling(engine) {
    const abort = new AbortController(), queue = [];
    let alive = true, posting = false;
    const request = (method, body) => fetch(engine.url('polling'), {
      method, body, cache: 'no-store', signal: method == 'GET' ? abort.signal : null,
      credentials: engine.opts.withCredentials ? 'include' : 'same-origin',
    }).then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); });
    const fail = () => { if (alive) { alive = false; abort.abort(); engine.onEnd(t, 'transport error'); } };
    const poll = () => request('GET').then((text) => {
      for (const p of text.split('\x1e')) if (alive) engine.onRaw(p[0] == 'b' ? fromB64(p.slice(1)) : p);
      if (alive) poll();
    }, fail);
    // One POST at a time: packets joined by a record separator, binary as "b" + base64.
    const encode = async (x) => typeof x == 'string' ? x : 'b' + toB64(await x.arrayBuffer());
    const flush = () => {
      if (posting || !queue.length) return;
      posting = true;
      Promise.all(queue.splice(0).map(encode)).then((p) => request('POST', p.join('\x1e')))
        .then(() => { posting = false; flush(); }, fail);
    };
    const t = {
      name: 'polling',
      send: (items) => { queue.push(...items.map((x) => typeof x == 'string' ? x : new Blob([x]))); flush(); },
      close: () => {
        if (!alive) return;
        alive = false;
        abort.abort(); // the long poll; what is queued still goes, then a close packet
        if (engine.sid) t.send(['1']);
      },
    };
    poll();
    return t;
  },
};

// One Engine.IO session for `socket`: tries the transports in turn until one delivers the
// open packet, answers pings, and reports to socket._onOpen, _onData and (once) _onClose.
class Engine {
  constructor(socket) {
    Object.assign(this, { socket, opts: socket.opts, state: 'opening', error: 'no transport' });
    this.pending = this.opts.transports.slice();
    this.watch(this.opts.timeout, 'timeout');
    setTimeout(() => this.next());
  }
  url(transport) {
    const q = new URLSearchParams({ ...this.opts.query, EIO: 4, transport });
    if (this.sid) q.set('sid', this.sid);
    return this.socket.base + this.opts.path + '?' + q;
  }
  next() {
    if (this.state != 'opening') return;
    const name = this.pending.shift();
    if (!name) return this.close(this.error);
    this.error = name + ' error'; // if it fails too
    try { this.transport = TRANSPORTS[name](this); } catch (e) { this.next(); }
  }
  onEnd(t, reason) {
    if (t === this.transport) this.state == 'open' ? this.close(reason) : this.next();
  }
  // Closes the session with `reason` unless watch() is called again within `ms`.
  watch(ms, reason) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.close(reason), ms);
  }
  onRaw(d) {
    if (this.state == 'closed') return;
    if (typeof d != 'string') return this.socket._onData(d);
    switch (d[0]) {
      case '0': { // open: {sid, pingInterval, pingTimeout, ...}
        try {
          const h = JSON.parse(d.slice(1));
          Object.assign(this, { sid: h.sid, pingWindow: h.pingInterval + h.pingTimeout, state: 'open' });
        } catch (e) { return this.close('parse error'); }
        this.watch(this.pingWindow, 'ping timeout');
        return this.socket._onOpen();
      }
      case '1': return this.close('transport close');
      // The server pings every pingInterval; silence for pingInterval + pingTimeout is fatal.
      case '2': this.transport.send(['3']); return this.watch(this.pingWindow, 'ping timeout');
      case '4': return this.socket._onData(d.slice(1));
      case '6': return; // noop
      default: return this.close('parse error');
    }
  }
  send(items) { // a packet and its binary attachments
    if (this.state == 'open') this.transport.send(items.map((x) => typeof x == 'string' ? '4' + x : x));
  }
  close(reason) {
    if (this.state == 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    if (this.transport) this.transport.close();
    this.socket._onClose(this, reason);
  }
}

// ---- Socket.IO
// Packet types; BINARY_EVENT and BINARY_ACK are EVENT and ACK + 3.
const CONNECT = 0, DISCONNECT = 1, EVENT = 2, ACK = 3, CONNECT_ERROR = 4;
const RESERVED = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'];

// <type>[<attachments>-][<namespace>,][<ack id>][JSON]
const PACKET = /^([0-6])(?:(\d+)-)?(?:(\/[^,]*),)?(\d+)?([\s\S]*)$/;

class Socket extends Emitter {
  constructor(uri, opts) {
    super();
    const u = new URL(uri || '/', root.location?.href);
    const o = this.opts = {
      path: '/socket.io', transports: ['websocket', 'polling'], reconnection: true,
      reconnectionAttempts: Infinity, reconnectionDelay: 1000, reconnectionDelayMax: 5000,
      randomizationFactor: 0.5, timeout: 20000, autoConnect: true, ...opts,
    };
    o.path = o.path.replace(/\/?$/, '/');
    o.query = { ...Object.fromEntries(u.searchParams), ...o.query };
    // `io` stands for the official Manager: its engine and reconnect_* events
    Object.assign(this, { nsp: u.pathname, base: u.origin, io: new Emitter(), connected: false, _acks: new Map(), _ackId: 0, _buffer: [], _flags: {}, _attempts: 0 });
    if (o.autoConnect) this.connect();
  }

  get disconnected() { return !this.connected; }
  get active() { return this.connected || !!this.engine || !!this._retryTimer; }
  timeout(ms) { this._flags.timeout = ms; return this; }

  connect() { this._attempts = 0; return this._open(); }
  _open() {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (!this.connected && !this.engine) this.engine = this.io.engine = new Engine(this);
    return this;
  }
  disconnect() {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (this.connected) this._write({ type: DISCONNECT });
    if (this.engine) this.engine.close('io client disconnect');
    return this;
  }
  send(...args) { return this.emit('message', ...args); }

  // An ack callback comes last; with a timeout (or from emitWithAck) it gets an error
  // first: null, a timeout or the disconnection.
  emit(ev, ...args) {
    if (RESERVED.includes(ev)) throw new Error('"' + ev + '" is a reserved event name');
    const { timeout = this.opts.ackTimeout, withError = timeout != null } = this._flags;
    this._flags = {};
    const cb = typeof args[args.length - 1] == 'function' && args.pop();
    let id;
    if (cb) {
      id = this._ackId++;
      let ack = cb;
      if (withError) {
        const timer = timeout != null && setTimeout(() => ack(new Error('operation has timed out')), timeout);
        ack = (...a) => { clearTimeout(timer); this._acks.delete(id); cb.apply(this, a); };
        ack.withError = true;
      }
      this._acks.set(id, ack);
    }
    this._send({ type: EVENT, data: [ev, ...args], id });
    return this;
  }
  emitWithAck(ev, ...args) {
    this._flags.withError = true;
    return new Promise((resolve, reject) => this.emit(ev, ...args, (err, res) => err ? reject(err) : resolve(res)));
  }

  _send(p) { // events wait while disconnected; acks for a past connection are dropped
    if (this.connected) this._write(p);
    else if (p.type == EVENT) this._buffer.push(p);
  }
  _write({ type, data, id }) {
    const bufs = [], json = toJSON(data, bufs) ?? '';
    const n = bufs.length, head = n ? `${type + 3}${n}-` : type; // binary: its attachments follow
    this.engine.send([head + (this.nsp == '/' ? '' : this.nsp + ',') + (id ?? '') + json, ...bufs]);
  }

  _onOpen() { // CONNECT, with the auth payload if any
    const { auth } = this.opts, send = (data) => this._write({ type: CONNECT, data });
    typeof auth == 'function' ? auth(send) : send(auth);
  }
  _onData(d) {
    let p = this._partial;
    if (typeof d == 'string') {
      const m = PACKET.exec(d);
      if (!m || m[2] > 10) return this.engine.close('parse error');
      p = { type: m[1] > 4 ? m[1] - 3 : +m[1], nsp: m[3] || '/', id: m[4] && +m[4], json: m[5], n: +(m[2] || 0), bufs: [] };
      if (p.nsp != this.nsp) return;
    } else if (p) p.bufs.push(d); // an attachment of the pending binary packet
    else return;
    this._partial = p.bufs.length < p.n ? p : null;
    if (this._partial) return;
    try { p.data = p.json ? fromJSON(p.json, p.bufs) : undefined; } catch (e) { return this.engine.close('parse error'); }
    this._onPacket(p);
  }
  _onPacket({ type, data, id }) {
    switch (type) {
      case CONNECT: {
        if (typeof data?.sid != 'string') return this.engine.close('parse error');
        const attempts = this._attempts;
        Object.assign(this, { id: data.sid, connected: true, _attempts: 0 });
        for (const p of this._buffer.splice(0)) this._write(p);
        this.fire('connect');
        if (attempts) this.io.fire('reconnect', attempts);
        return;
      }
      case CONNECT_ERROR: // refused: the error itself is the close reason (no retry)
        return this.engine.close(Object.assign(new Error(data?.message ?? data), { data: data?.data }));
      case DISCONNECT: return this.engine.close('io server disconnect');
      case EVENT: {
        if (!Array.isArray(data) || typeof data[0] != 'string') return;
        let sent = false; // the server's ack id gets one answer
        if (id != null) data.push((...a) => { if (!sent) this._send({ type: ACK, data: a, id }); sent = true; });
        return this.fire(...data);
      }
      case ACK: {
        const fn = this._acks.get(id);
        if (!fn) return;
        this._acks.delete(id);
        data = Array.isArray(data) ? data : [];
        return fn.apply(this, fn.withError ? [null, ...data] : data);
      }
    }
  }
  _onClose(e, reason) {
    if (e !== this.engine) return;
    this.engine = this._partial = null;
    if (this.connected) {
      Object.assign(this, { connected: false, id: undefined });
      for (const fn of this._acks.values()) if (fn.withError) fn(new Error('socket has been disconnected'));
      this.fire('disconnect', reason);
    } else if (reason != 'io client disconnect') {
      this.fire('connect_error', reason instanceof Error ? reason : new Error(reason));
    }
    // no retry after an end on purpose: by either side, or a refusal
    if (!(reason instanceof Error || reason.startsWith('io '))) this._retry();
  }

  // Exponential backoff with jitter: delay * 2^n, spread by ±randomizationFactor, capped.
  _retry() {
    const o = this.opts;
    if (!o.reconnection) return;
    if (this._attempts >= o.reconnectionAttempts) return this.io.fire('reconnect_failed');
    const base = Math.min(o.reconnectionDelay * 2 ** this._attempts++, o.reconnectionDelayMax);
    const jitter = 1 + o.randomizationFactor * (2 * Math.random() - 1);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this.io.fire('reconnect_attempt', this._attempts);
      this._open();
    }, Math.min(base * jitter, o.reconnectionDelayMax));
  }
}

function io(uri, opts) {
  if (typeof uri == 'object') [uri, opts] = [undefined, uri];
  return new Socket(uri, opts);
}
io.io = io.connect = io;
io.Socket = Socket;
io.protocol = 5;
root.io = io;
if (typeof module == 'object') module.exports = io;
})(globalThis);
