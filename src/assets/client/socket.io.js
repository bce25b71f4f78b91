/*! sessio compact Socket.IO client: Engine.IO 4 + Socket.IO 5, WebSocket first,
 * HTTP long-polling when the WebSocket cannot open. MIT licence.
 * API: io(url?, opts) -> socket with on/off/once/emit/emitWithAck/timeout/connect/disconnect. */
(function (root) {
  'use strict';

  // A minimal event emitter; `fire` dispatches locally, since `emit` sends to the server.
  class Emitter {
    on(ev, fn) {
      const all = this._ev || (this._ev = {});
      (all[ev] || (all[ev] = [])).push(fn);
      return this;
    }
    once(ev, fn) {
      const wrap = (...a) => { this.off(ev, wrap); fn.apply(this, a); };
      wrap.fn = fn;
      return this.on(ev, wrap);
    }
    off(ev, fn) {
      if (!this._ev) return this;
      if (ev === undefined) this._ev = {};
      else if (!fn) delete this._ev[ev];
      else this._ev[ev] = this.listeners(ev).filter((f) => f !== fn && f.fn !== fn);
      return this;
    }
    listeners(ev) { return (this._ev && this._ev[ev]) || []; }
    fire(ev, ...args) { for (const f of this.listeners(ev).slice()) f.apply(this, args); }
  }

  // ---- binary helpers ---------------------------------------------------------------
  const hasBlobType = typeof Blob !== 'undefined';
  const isBinary = (x) => x instanceof ArrayBuffer || ArrayBuffer.isView(x);
  const isBlob = (x) => hasBlobType && x instanceof Blob;
  const isPlain = (x) => x !== null && typeof x === 'object' && !Array.isArray(x) &&
    !isBinary(x) && !isBlob(x) && typeof x.toJSON !== 'function';
  const bytesOf = (x) => x instanceof ArrayBuffer ? x : x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength);
  const mapObject = (o, f) => { const r = {}; for (const k of Object.keys(o)) r[k] = f(o[k]); return r; };

  // Replace binary leaves by `{_placeholder:true,num}`, collecting them in `bufs` (a copy, never mutating).
  function strip(x, bufs) {
    if (isBinary(x)) { bufs.push(bytesOf(x)); return { _placeholder: true, num: bufs.length - 1 }; }
    if (Array.isArray(x)) return x.map((v) => strip(v, bufs));
    return isPlain(x) ? mapObject(x, (v) => strip(v, bufs)) : x;
  }
  // Put received attachments back where their placeholders are.
  function fill(x, bufs) {
    if (Array.isArray(x)) return x.map((v) => fill(v, bufs));
    if (x === null || typeof x !== 'object') return x;
    if (x._placeholder === true && typeof x.num === 'number') {
      if (!(x.num in bufs)) throw new Error('bad placeholder');
      return bufs[x.num];
    }
    return mapObject(x, (v) => fill(v, bufs));
  }
  // Blobs can only be read asynchronously: swap them for ArrayBuffers before encoding.
  const hasBlob = (x) => isBlob(x) || (Array.isArray(x) ? x.some(hasBlob) : isPlain(x) && Object.values(x).some(hasBlob));
  async function readBlobs(x) {
    if (isBlob(x)) return x.arrayBuffer();
    if (Array.isArray(x)) return Promise.all(x.map(readBlobs));
    if (!isPlain(x)) return x;
    const r = {};
    for (const k of Object.keys(x)) r[k] = await readBlobs(x[k]);
    return r;
  }
  function toBase64(buf) {
    const u = new Uint8Array(buf);
    let s = '';
    for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
    return btoa(s);
  }
  const fromBase64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;

  // ---- Engine.IO transports -----------------------------------------------------------
  // Each transport delivers raw packets (string or ArrayBuffer) to engine.onRaw and reports
  // its end once through engine.onTransportEnd(transport, reason).

  function webSocketTransport(engine) {
    const ws = new WebSocket(engine.url('websocket').replace(/^http/, 'ws'));
    ws.binaryType = 'arraybuffer';
    const t = {
      name: 'websocket',
      send(items) { for (const x of items) ws.send(x); },
      close() { ws.onclose = null; ws.close(); },
    };
    ws.onmessage = (e) => engine.onRaw(e.data);
    ws.onclose = () => engine.onTransportEnd(t, 'transport close');
    return t;
  }

  function pollingTransport(engine) {
    const abort = new AbortController();
    const queue = [];
    let alive = true;
    let posting = false;
    const request = (method, body, signal) => fetch(engine.url('polling'), {
      method, body, signal, cache: 'no-store',
      credentials: engine.opts.withCredentials ? 'include' : 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'text/plain;charset=UTF-8' },
    }).then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); });
    const encode = (items) => items.map((x) => typeof x === 'string' ? x : 'b' + toBase64(x)).join('\x1e');
    const fail = () => { if (alive) { alive = false; abort.abort(); engine.onTransportEnd(t, 'transport error'); } };
    const poll = () => request('GET', undefined, abort.signal).then((text) => {
      for (const p of text.split('\x1e')) if (alive) engine.onRaw(p[0] === 'b' ? fromBase64(p.slice(1)) : p);
      if (alive) poll();
    }, fail);
    const flush = () => {
      if (!alive || posting || !queue.length) return;
      posting = true;
      request('POST', encode(queue.splice(0)), abort.signal).then(() => { posting = false; flush(); }, fail);
    };
    const t = {
      name: 'polling',
      send(items) { queue.push(...items); flush(); },
      close() {
        if (!alive) return;
        alive = false;
        if (engine.sid) request('POST', encode(queue.splice(0).concat('1'))).catch(() => {});
        abort.abort();
      },
    };
    poll();
    return t;
  }

  const TRANSPORTS = { websocket: webSocketTransport, polling: pollingTransport };

  // One Engine.IO session: open packet, heartbeats, message framing. Tries the transports
  // in order until one delivers the open packet; fires open, data and (once) close.
  class Engine extends Emitter {
    constructor(base, opts) {
      super();
      this.base = base;
      this.opts = opts;
      this.pending = opts.transports.filter((n) => TRANSPORTS[n]);
      this.state = 'opening';
      this.error = 'no transport';
      setTimeout(() => this.tryNext(), 0);
    }
    url(name) {
      const q = new URLSearchParams(this.opts.query);
      q.set('EIO', '4');
      q.set('transport', name);
      if (this.sid) q.set('sid', this.sid);
      return this.base + this.opts.path + '?' + q;
    }
    tryNext() {
      if (this.state !== 'opening') return;
      const name = this.pending.shift();
      if (!name) return this.close(this.error);
      try { this.transport = TRANSPORTS[name](this); } catch (e) { this.error = name + ' error'; this.tryNext(); }
    }
    onTransportEnd(t, reason) {
      if (t !== this.transport) return;
      if (this.state !== 'opening') return this.close(reason);
      this.error = t.name === 'websocket' ? 'websocket error' : 'xhr poll error';
      this.tryNext();
    }
    onRaw(d) {
      if (this.state === 'closed') return;
      if (typeof d !== 'string') return this.fire('data', d);
      const body = d.slice(1);
      switch (d[0]) {
        case '0': {
          let h;
          try { h = JSON.parse(body); } catch (e) { return this.close('parse error'); }
          this.sid = h.sid;
          this.pingWindow = h.pingInterval + h.pingTimeout;
          this.state = 'open';
          this.heartbeat();
          return this.fire('open');
        }
        case '1': return this.close('transport close');
        case '2': this.transport.send(['3' + body]); return this.heartbeat();
        case '4': return this.fire('data', body);
        case '6': return undefined;
        default: return this.close('parse error');
      }
    }
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
  const MAX_ATTACHMENTS = 10;

  // <type>[<attachments>-][<namespace>,][<ack id>][JSON]
  function decode(s) {
    const m = /^([0-6])(?:(\d+)-)?(?:(\/[^,]*),)?(\d+)?([\s\S]*)$/.exec(s);
    if (!m) throw new Error('parse error');
    const attachments = m[2] ? +m[2] : 0;
    if (attachments > MAX_ATTACHMENTS) throw new Error('too many attachments');
    return { type: +m[1], attachments, nsp: m[3] || '/', id: m[4] === undefined ? undefined : +m[4], data: m[5] ? JSON.parse(m[5]) : undefined };
  }

  class Socket extends Emitter {
    constructor(uri, opts) {
      super();
      const u = new URL(uri || '/', typeof location !== 'undefined' ? location.href : undefined);
      this.nsp = u.pathname || '/';
      this.base = u.origin;
      this.opts = Object.assign({
        path: '/socket.io/', transports: ['websocket', 'polling'], reconnection: true,
        reconnectionAttempts: Infinity, reconnectionDelay: 1000, reconnectionDelayMax: 5000,
        randomizationFactor: 0.5, timeout: 20000, autoConnect: true, withCredentials: false, auth: {},
      }, opts);
      this.opts.path = this.opts.path.replace(/\/?$/, '/');
      this.opts.query = Object.assign(Object.fromEntries(u.searchParams), this.opts.query);
      this.io = new Emitter(); // manager-level events: reconnect_attempt, reconnect, reconnect_failed
      this.io.opts = this.opts;
      this.connected = false;
      this.disconnected = true;
      this.id = undefined;
      this._acks = new Map();
      this._ackId = 0;
      this._buffer = [];
      this._flags = {};
      this._attempts = 0;
      this._reading = 0;
      if (this.opts.autoConnect) this.connect();
    }

    get active() { return this.connected || !!this.engine || !!this._retryTimer; }
    get volatile() { this._flags.volatile = true; return this; }
    timeout(ms) { this._flags.timeout = ms; return this; }

    connect() {
      this._attempts = 0;
      return this._open();
    }
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
      const flags = this._flags;
      this._flags = {};
      const timeout = flags.timeout !== undefined ? flags.timeout : this.opts.ackTimeout;
      let id;
      if (typeof args[args.length - 1] === 'function') {
        const fn = args.pop();
        id = this._ackId++;
        if (timeout === undefined) this._acks.set(id, fn);
        else {
          const timer = setTimeout(() => { this._acks.delete(id); fn.call(this, new Error('operation has timed out')); }, timeout);
          const ack = (...a) => { clearTimeout(timer); fn.call(this, null, ...a); };
          ack.fail = (err) => { clearTimeout(timer); fn.call(this, err); };
          this._acks.set(id, ack);
        }
      }
      if (!flags.volatile || this.connected) this._send({ type: EVENT, data: [ev, ...args], id });
      return this;
    }

    emitWithAck(ev, ...args) {
      const withErr = (this._flags.timeout !== undefined ? this._flags.timeout : this.opts.ackTimeout) !== undefined;
      return new Promise((resolve, reject) => {
        this.emit(ev, ...args, withErr ? (err, res) => (err ? reject(err) : resolve(res)) : resolve);
      });
    }

    // Packets keep their order even while Blobs in one of them are being read.
    _send(p) {
      if (!this._reading && !hasBlob(p.data)) return this._queue(p);
      this._reading++;
      this._chain = (this._chain || Promise.resolve())
        .then(() => readBlobs(p.data)).then((d) => { p.data = d; this._queue(p); })
        .finally(() => { if (!--this._reading) this._chain = null; });
    }
    _queue(p) {
      if (this.connected) this._write(p);
      else if (p.type === EVENT) this._buffer.push(p);
    }
    _write({ type, data, id }) {
      const bufs = [];
      const json = data === undefined ? '' : JSON.stringify(strip(data, bufs));
      if (bufs.length) type = type === ACK ? BINARY_ACK : BINARY_EVENT;
      const head = type + (bufs.length ? bufs.length + '-' : '') + (this.nsp === '/' ? '' : this.nsp + ',') + (id === undefined ? '' : id);
      this.engine.send([head + json, ...bufs]);
    }
    _sendConnect() {
      const send = (data) => this._write({ type: CONNECT, data: data && Object.keys(data).length ? data : undefined });
      if (typeof this.opts.auth === 'function') this.opts.auth(send);
      else send(this.opts.auth);
    }

    _onData(d) {
      if (typeof d !== 'string') {
        const p = this._partial;
        if (!p) return;
        p.bufs.push(d);
        if (p.bufs.length < p.attachments) return;
        this._partial = null;
        try { p.data = fill(p.data, p.bufs); } catch (e) { return this.engine.close('parse error'); }
        return this._onPacket(p);
      }
      let p;
      try { p = decode(d); } catch (e) { return this.engine.close('parse error'); }
      if (p.nsp !== this.nsp) return;
      if (p.attachments) { p.bufs = []; this._partial = p; } else this._onPacket(p);
    }

    _onPacket(p) {
      switch (p.type) {
        case CONNECT: {
          if (!p.data || typeof p.data.sid !== 'string') return this.engine.close('parse error');
          clearTimeout(this._openTimer);
          const attempts = this._attempts;
          this._attempts = 0;
          this.id = p.data.sid;
          this.connected = true;
          this.disconnected = false;
          for (const q of this._buffer.splice(0)) this._write(q);
          this.fire('connect');
          if (attempts) this.io.fire('reconnect', attempts);
          return;
        }
        case CONNECT_ERROR: {
          const data = p.data || {};
          const err = new Error(typeof data === 'object' ? data.message : String(data));
          err.data = data.data;
          this._noRetry = true; // the server refused us: retrying the same handshake would not help
          this._drop();
          return this.fire('connect_error', err);
        }
        case DISCONNECT:
          this._noRetry = true;
          return this.engine.close('io server disconnect');
        case EVENT: case BINARY_EVENT: {
          if (!Array.isArray(p.data) || typeof p.data[0] !== 'string') return;
          const args = p.data.slice();
          if (p.id !== undefined) args.push(this._ackFn(p.id));
          return this.fire(...args);
        }
        case ACK: case BINARY_ACK: {
          const fn = this._acks.get(p.id);
          if (!fn) return;
          this._acks.delete(p.id);
          return fn.apply(this, Array.isArray(p.data) ? p.data : []);
        }
      }
    }
    _ackFn(id) {
      let sent = false;
      return (...args) => { if (!sent) { sent = true; this._send({ type: ACK, data: args, id }); } };
    }

    // Forget the current engine without reporting a disconnect (used for refused handshakes).
    _drop() {
      const e = this.engine;
      clearTimeout(this._openTimer);
      this.engine = null;
      if (e) { e.off(); e.close('io client disconnect'); }
    }

    _onClose(e, reason, wasOpen) {
      if (e !== this.engine) return;
      clearTimeout(this._openTimer);
      this.engine = null;
      this._partial = null;
      if (this.connected) {
        this.connected = false;
        this.disconnected = true;
        this.id = undefined;
        for (const [id, fn] of this._acks) {
          if (fn.fail) { this._acks.delete(id); fn.fail(new Error('socket has been disconnected')); }
        }
        this.fire('disconnect', reason);
      } else if (reason !== 'io client disconnect') {
        const err = new Error(wasOpen ? reason : reason === 'timeout' ? 'timeout' : e.error);
        this.fire('connect_error', err);
      }
      this._retry();
    }

    // Exponential backoff with jitter: delay * 2^n, spread by +-randomizationFactor, capped.
    _retry() {
      const o = this.opts;
      if (!o.reconnection || this._noRetry || this._retryTimer || this.engine) return;
      if (this._attempts >= o.reconnectionAttempts) {
        this._attempts = 0;
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
