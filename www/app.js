// sessio demo page: HTTP API for the account, Socket.IO for everything live.
// Only same-origin requests; all text is inserted with textContent.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { user: null, socket: null, phase: 'not connected' };

// ---- status ------------------------------------------------------------------------

function render() {
  const who = state.user ? `Logged in as ${state.user.username}` : 'Not logged in';
  $('state').textContent = `${who} · Socket ${state.phase}`;
  const loggedIn = !!state.user;
  const connected = !!(state.socket && state.socket.connected);
  $('logoutBtn').disabled = !loggedIn;
  $('notifyBtn').disabled = !loggedIn;
  $('connectBtn').disabled = !!(state.socket && (connected || state.socket.active));
  $('disconnectBtn').disabled = !(state.socket && state.socket.active);
  for (const id of ['getUserInfoBtn', 'countBtn', 'sendMessageBtn', 'messageInput']) $(id).disabled = !connected;
  document.body.dataset.loggedIn = loggedIn;
  document.body.dataset.connected = connected;
}

// Show one line under the status: an error from the server, or what just happened.
function notice(text, isError = false) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = !text;
  n.className = isError ? 'error' : 'info';
}

function logEvent(text, kind = 'info') {
  const li = document.createElement('li');
  li.className = kind;
  const time = document.createElement('time');
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString();
  li.append(time, ' ', text);
  $('events').prepend(li);
  while ($('events').children.length > 50) $('events').lastChild.remove();
}

// ---- HTTP API ------------------------------------------------------------------------

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'include',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch { /* no JSON body */ }
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

const credentials = () => ({ username: $('username').value.trim(), password: $('password').value });

async function register() {
  try {
    const data = await api('POST', '/api/register', credentials());
    notice(`Registered ${data.username}. You can log in now.`);
  } catch (e) {
    notice(`Registration failed: ${e.message}`, true);
  }
}

async function login() {
  try {
    await api('POST', '/api/login', credentials());
    $('password').value = '';
    await refreshMe();
    notice(`Welcome, ${state.user.username}. Click Connect to go live.`);
  } catch (e) {
    notice(`Login failed: ${e.message}`, true);
  }
  render();
}

async function logout() {
  try {
    await api('POST', '/api/logout');
    notice('Logged out.');
  } catch (e) {
    notice(`Logout failed: ${e.message}`, true);
  }
  state.user = null;
  $('count').textContent = '–';
  if (state.socket) state.socket.disconnect();
  render();
}

async function refreshMe() {
  try {
    state.user = await api('GET', '/api/me');
    $('count').textContent = state.user.count;
  } catch {
    state.user = null;
  }
  render();
}

async function notify() {
  try {
    await api('POST', '/api/notify', { message: `Notification for ${state.user.username} at ${new Date().toLocaleTimeString()}` });
  } catch (e) {
    notice(`Notify failed: ${e.message}`, true);
  }
}

// ---- Socket.IO -----------------------------------------------------------------------

// Socket.IO's disconnect reasons, in words.
const REASONS = {
  'io server disconnect': 'by the server',
  'io client disconnect': 'by you',
  'transport close': 'connection lost',
  'transport error': 'connection lost',
  'ping timeout': 'the server stopped answering',
};

function connect() {
  if (state.socket) state.socket.disconnect();
  const socket = io({ withCredentials: true });
  state.socket = socket;
  state.phase = 'connecting…';
  render();
  const mine = (fn) => (...args) => { if (state.socket === socket) fn(...args); };

  socket.on('connect', mine(() => {
    state.phase = 'connected';
    $('state').title = `socket id ${socket.id}`;
    notice('');
    render();
  }));
  socket.on('connect_error', mine((err) => {
    state.phase = socket.active ? 'not connected, retrying…' : 'not connected';
    notice(`Connection refused: ${err.message}`, true);
    render();
  }));
  socket.on('disconnect', mine((reason) => {
    const why = REASONS[reason] || reason;
    state.phase = socket.active ? `disconnected (${why}), reconnecting…` : `disconnected (${why})`;
    if (reason === 'io server disconnect') refreshMe();
    render();
  }));
  socket.io.on('reconnect_attempt', mine((n) => { state.phase = `reconnecting (attempt ${n})…`; render(); }));

  socket.on('connected', mine((d) => logEvent(d.message, 'welcome')));
  socket.on('userInfo', mine((d) => logEvent(`User info: ${d.username}, id ${d.userId}, logged in ${new Date(d.loginTime).toLocaleString()}`)));
  socket.on('notification', mine((d) => { logEvent(`Notification: ${d.message}`, 'notification'); notice(d.message); }));
  socket.on('countUpdated', mine((d) => { $('count').textContent = d.count; }));
  socket.on('message', mine(showMessage));
}

function disconnect() {
  if (state.socket) state.socket.disconnect();
  state.phase = 'disconnected (by you)';
  render();
}

function showMessage(m) {
  const li = document.createElement('li');
  li.className = state.user && m.userId === state.user.userId ? 'mine' : 'theirs';
  const head = document.createElement('div');
  head.className = 'meta';
  const who = document.createElement('strong');
  who.className = 'sender';
  who.textContent = m.username;
  const time = document.createElement('time');
  const at = new Date(m.timestamp);
  time.dateTime = isNaN(at) ? '' : at.toISOString();
  time.textContent = isNaN(at) ? String(m.timestamp) : at.toLocaleTimeString();
  head.append(who, ' ', time);
  const text = document.createElement('p');
  text.className = 'text';
  text.textContent = m.message;
  li.append(head, text);
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

async function sendMessage() {
  const input = $('messageInput');
  try {
    const ack = await state.socket.timeout(5000).emitWithAck('sendMessage', { message: input.value });
    if (ack && ack.success) input.value = '';
    else notice(`Message rejected: ${(ack && ack.error) || 'unknown error'}`, true);
  } catch (e) {
    notice(`Message not delivered: ${e.message}`, true);
  }
  input.focus();
}

async function getUserInfo() {
  try {
    await state.socket.timeout(5000).emitWithAck('getUserInfo');
  } catch (e) {
    notice(`User info failed: ${e.message}`, true);
  }
}

async function count() {
  try {
    const ack = await state.socket.timeout(5000).emitWithAck('updateCount');
    $('count').textContent = ack.count;
  } catch (e) {
    notice(`Count failed: ${e.message}`, true);
  }
}

// ---- wiring --------------------------------------------------------------------------

$('accountForm').addEventListener('submit', (e) => { e.preventDefault(); login(); });
$('registerBtn').addEventListener('click', register);
$('logoutBtn').addEventListener('click', logout);
$('connectBtn').addEventListener('click', connect);
$('disconnectBtn').addEventListener('click', disconnect);
$('getUserInfoBtn').addEventListener('click', getUserInfo);
$('notifyBtn').addEventListener('click', notify);
$('countBtn').addEventListener('click', count);
$('messageForm').addEventListener('submit', (e) => { e.preventDefault(); sendMessage(); });

if (typeof io !== 'function') notice('The Socket.IO client did not load from /socket.io/socket.io.js.', true);
refreshMe();
