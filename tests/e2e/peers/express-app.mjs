// An existing Express app that shares its logins with sessio: express 5 with
// express-session + connect-redis 7 on node-redis 4, set up as their READMEs say, and the
// seed's /api/register, /api/login, /api/logout and /api/me routes (its users in memory).
// `node express-app.mjs PORT REDIS_URL SECRET [MAX_AGE_MS]`; prints "ready" once it
// listens. The cookie options are the seed's (httpOnly, sameSite lax, maxAge one day
// unless MAX_AGE_MS says otherwise).
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const express = require('express');
const session = require('express-session');
const { createClient } = require('redis');
const RedisStore = require('connect-redis').default;

const [port, url, secret, maxAge] = process.argv.slice(2);
const client = createClient({ url });
client.on('error', (err) => console.error(`redis: ${err.message}`));
await client.connect();

const app = express();
app.use(session({
    store: new RedisStore({ client }),
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: Number(maxAge || 24 * 60 * 60 * 1000) },
}));
app.use(express.json({ limit: '64kb' }));

const users = new Map(); // username -> { id, salt, hash }
let nextId = 1;
const hash = (pw, salt) => crypto.scryptSync(pw, salt, 32).toString('hex');

app.post('/api/register', (req, res) => {
    const { username, password } = req.body || {};
    if (typeof username !== 'string' || typeof password !== 'string') {
        return res.status(400).json({ success: false, error: 'username and password are required' });
    }
    if (users.has(username)) return res.status(409).json({ success: false, error: 'username taken' });
    const salt = crypto.randomBytes(16).toString('hex');
    users.set(username, { id: nextId++, salt, hash: hash(password, salt) });
    res.status(201).json({ success: true, username });
});

app.post('/api/login', (req, res) => {
    const { username, password } = req.body || {};
    const u = typeof password === 'string' ? users.get(username) : undefined;
    if (!u || hash(password, u.salt) !== u.hash) {
        return res.status(401).json({ success: false, error: 'invalid credentials' });
    }
    req.session.regenerate((err) => {
        if (err) return res.status(500).json({ success: false, error: 'session error' });
        req.session.userId = u.id;
        req.session.username = username;
        req.session.isLoggedIn = true;
        req.session.loginTime = new Date().toISOString();
        req.session.save(() => res.json({ success: true, message: 'Logged in', username }));
    });
});

app.post('/api/logout', (req, res) => {
    req.session.destroy((err) => {
        if (err) return res.status(500).json({ success: false, error: 'Logout failed' });
        res.clearCookie('connect.sid');
        res.json({ success: true, message: 'Logged out' });
    });
});

app.get('/api/me', (req, res) => {
    const s = req.session;
    if (!s.isLoggedIn) return res.status(401).json({ success: false, error: 'Authentication required' });
    res.json({ username: s.username, userId: s.userId, loginTime: s.loginTime, count: s.count || 0 });
});

app.listen(Number(port), '127.0.0.1', () => console.log('ready'));
