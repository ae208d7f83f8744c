// Self-test of the test identity provider: starts idp.mjs on a free port and
// walks every flow the Portcullis tests rely on, the way a non-JavaScript
// client does (HTTP + cookie jar, no redirects followed automatically).
// Run: npm test   (node --test)

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

const REDIRECT = 'http://127.0.0.1:4180/auth/oidc';
const POST_LOGOUT = 'http://127.0.0.1:4180/';
const CLIENTS = [
  {
    client_id: 'portcullis',
    client_secret: 'portcullis-secret',
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: [POST_LOGOUT],
  },
  {
    client_id: 'public-app',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1:4181/auth/oidc'],
  },
  {
    client_id: 'robot',
    client_secret: 'robot-secret',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    groups: ['trusted'],
  },
];
const API = 'http://127.0.0.1:4180';

let idp;
let issuer;

before(async () => {
  idp = spawn(process.execPath, [new URL('./idp.mjs', import.meta.url).pathname], {
    env: { ...process.env, IDP_PORT: '0', IDP_CLIENTS: JSON.stringify(CLIENTS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: idp.stdout });
  issuer = await new Promise((resolve, reject) => {
    idp.once('exit', (code) => reject(new Error(`idp exited early with ${code}`)));
    lines.once('line', (line) => {
      const m = /^IDP_READY (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (m) resolve(m[1]); else reject(new Error(`unexpected first line: ${line}`));
    });
  });
  lines.on('line', (line) => assert.fail(`idp printed a second stdout line: ${line}`));
});

after(async () => {
  if (!idp || idp.exitCode !== null) return;
  const exited = new Promise((resolve) => idp.once('exit', (code, signal) => resolve({ code, signal })));
  idp.kill('SIGTERM');
  const { code } = await exited;
  assert.equal(code, 0, 'idp exits with 0 on SIGTERM');
});

// === A minimal cookie jar (name + path is enough for a single host) ===

class Jar {
  #cookies = new Map();

  store(url, res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expires = attrs.find((a) => a.toLowerCase().startsWith('expires='));
      const key = `${name}\0${path}`;
      if (value === '' || (expires && new Date(expires.slice(8)) < new Date())) {
        this.#cookies.delete(key);
      } else {
        this.#cookies.set(key, { name, value, path });
      }
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

async function request(jar, method, url, { form, headers = {} } = {}) {
  const full = new URL(url, issuer).href;
  const h = { ...headers };
  const cookie = jar?.header(full);
  if (cookie) h.cookie = cookie;
  let body;
  if (form) {
    body = new URLSearchParams(form).toString();
    h['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(full, { method, headers: h, body, redirect: 'manual' });
  jar?.store(full, res);
  const text = await res.text();
  return { status: res.status, location: res.headers.get('location'), text, headers: res.headers };
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authUrl({
  clientId = 'portcullis', redirectUri = REDIRECT, scope = 'openid profile email groups',
  challenge, state = 'st-1', nonce = 'n-1', extra = {},
} = {}) {
  const u = new URL('/auth', issuer);
  u.search = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope, state, nonce,
    ...(challenge ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}),
    ...extra,
  }).toString();
  return u.href;
}

/** GET the authorization URL; returns the login form's action URLs. */
async function startLogin(jar, opts) {
  const r1 = await request(jar, 'GET', authUrl(opts));
  assert.equal(r1.status, 303, r1.text);
  assert.match(r1.location, /^\/interaction\/[\w-]+$/);
  const r2 = await request(jar, 'GET', r1.location);
  assert.equal(r2.status, 200);
  const login = /<form id="login-form" method="post" action="([^"]+)"/.exec(r2.text)?.[1];
  const abort = /<form id="abort-form" method="post" action="([^"]+)"/.exec(r2.text)?.[1];
  assert.equal(login, `${r1.location}/login`);
  assert.equal(abort, `${r1.location}/abort`);
  return { login, abort, page: r2.text };
}

/** Full login; returns the callback URL (redirect_uri?code=...&state=...). */
async function login(jar, user, opts = {}) {
  const { login: action } = await startLogin(jar, opts);
  const r3 = await request(jar, 'POST', action, { form: { login: user, password: `${user}-pw` } });
  assert.equal(r3.status, 303, r3.text);
  assert.match(r3.location, /\/auth\/[\w-]+$/);
  let r4 = await request(jar, 'GET', r3.location);
  if (r4.status === 200) {
    // A different user was signed in with this cookie jar: oidc-provider
    // first ends that session with a self-submitting form (JS), whose
    // <noscript> button a non-JavaScript client presses by POSTing the form.
    const { action, fields } = parseForm(r4.text);
    assert.equal(action, `${issuer}/session/end/confirm`);
    assert.deepEqual(Object.keys(fields).sort(), ['logout', 'xsrf']);
    const r5 = await request(jar, 'POST', action, { form: fields });
    assert.equal(r5.status, 303, r5.text);
    assert.equal(r5.location, r3.location, 'back to the resume URL');
    r4 = await request(jar, 'GET', r5.location);
  }
  assert.equal(r4.status, 303, r4.text);
  return new URL(r4.location);
}

function parseForm(html) {
  const action = /<form[^>]* action="([^"]+)"/.exec(html)?.[1];
  const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)]
    .map((m) => [m[1], m[2]]));
  return { action, fields };
}

async function token(form, { basic = ['portcullis', 'portcullis-secret'] } = {}) {
  const headers = basic
    ? { authorization: `Basic ${Buffer.from(basic.map(encodeURIComponent).join(':')).toString('base64')}` }
    : {};
  const r = await request(null, 'POST', '/token', { form, headers });
  return { status: r.status, json: JSON.parse(r.text) };
}

async function loginAndToken(user) {
  const { verifier, challenge } = pkce();
  const cb = await login(new Jar(), user, { challenge });
  const t = await token({
    grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: REDIRECT, code_verifier: verifier,
  });
  assert.equal(t.status, 200, JSON.stringify(t.json));
  return t.json;
}

async function userinfo(accessToken) {
  const r = await request(null, 'GET', '/me', { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: r.status, json: r.text ? JSON.parse(r.text) : undefined };
}

function jwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

// === Tests ===

describe('test identity provider', () => {
  it('serves a discovery document for the http loopback issuer', async () => {
    const r = await request(null, 'GET', '/.well-known/openid-configuration');
    assert.equal(r.status, 200);
    const d = JSON.parse(r.text);
    assert.equal(d.issuer, issuer);
    assert.equal(d.authorization_endpoint, `${issuer}/auth`);
    assert.equal(d.token_endpoint, `${issuer}/token`);
    assert.equal(d.userinfo_endpoint, `${issuer}/me`);
    assert.equal(d.end_session_endpoint, `${issuer}/session/end`);
    assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    for (const s of ['openid', 'profile', 'email', 'groups']) assert.ok(d.scopes_supported.includes(s), s);
    for (const c of ['preferred_username', 'email', 'name', 'groups', 'roles']) assert.ok(d.claims_supported.includes(c), c);
  });

  it('names its signing key by a key id derived from the key', async () => {
    const d = JSON.parse((await request(null, 'GET', '/.well-known/openid-configuration')).text);
    const jwks = JSON.parse((await request(null, 'GET', new URL(d.jwks_uri).pathname)).text);
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    const derived = createHash('sha256').update(key.n).digest('base64url').slice(0, 16);
    assert.equal(key.kid, derived);
  });

  it('logs alice in with PKCE and client_secret_basic, groups come from userinfo', async () => {
    const { verifier, challenge } = pkce();
    const cb = await login(new Jar(), 'alice', { challenge, state: 'xyz', nonce: 'nonce-a' });
    assert.equal(`${cb.origin}${cb.pathname}`, REDIRECT);
    assert.equal(cb.searchParams.get('state'), 'xyz');
    assert.equal(cb.searchParams.get('iss'), issuer);
    const t = await token({
      grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: REDIRECT, code_verifier: verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(t.json.token_type, 'Bearer');
    assert.equal(t.json.expires_in, 3600);
    assert.ok(t.json.access_token);
    const id = jwtPayload(t.json.id_token);
    assert.equal(id.iss, issuer);
    assert.equal(id.aud, 'portcullis');
    assert.equal(id.sub, 'alice');
    assert.equal(id.nonce, 'nonce-a');
    assert.equal(id.groups, undefined, 'ID token carries openid-scope claims only');
    const u = await userinfo(t.json.access_token);
    assert.equal(u.status, 200);
    assert.deepEqual(u.json, {
      sub: 'alice',
      preferred_username: 'alice',
      name: 'Alice Admin',
      email: 'alice@example.test',
      email_verified: true,
      groups: ['admin', 'staff'],
      roles: ['admin', 'staff'],
    });
  });

  it('checks the PKCE verifier of a confidential client', async () => {
    const { challenge } = pkce();
    const cb = await login(new Jar(), 'alice', { challenge });
    const wrong = await token({
      grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: REDIRECT, code_verifier: pkce().verifier,
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_grant');

    const cb2 = await login(new Jar(), 'alice', { challenge });
    const missing = await token({
      grant_type: 'authorization_code', code: cb2.searchParams.get('code'), redirect_uri: REDIRECT,
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error, 'invalid_grant');
  });

  it('accepts client_secret_post and a confidential client without PKCE', async () => {
    const cb = await login(new Jar(), 'alice');
    const t = await token({
      grant_type: 'authorization_code',
      code: cb.searchParams.get('code'),
      redirect_uri: REDIRECT,
      client_id: 'portcullis',
      client_secret: 'portcullis-secret',
    }, { basic: null });
    assert.equal(t.status, 200, JSON.stringify(t.json));
  });

  it('rejects a wrong client secret', async () => {
    const cb = await login(new Jar(), 'alice');
    const t = await token({
      grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: REDIRECT,
    }, { basic: ['portcullis', 'wrong'] });
    assert.equal(t.status, 401);
    assert.equal(t.json.error, 'invalid_client');
  });

  it('requires PKCE from a public client', async () => {
    const r = await request(new Jar(), 'GET', authUrl({ clientId: 'public-app', redirectUri: 'http://127.0.0.1:4181/auth/oidc' }));
    assert.equal(r.status, 303);
    const cb = new URL(r.location);
    assert.equal(cb.searchParams.get('error'), 'invalid_request');
    assert.match(cb.searchParams.get('error_description'), /PKCE/);
  });

  it('logs a public client in with PKCE and no secret', async () => {
    const { verifier, challenge } = pkce();
    const redirectUri = 'http://127.0.0.1:4181/auth/oidc';
    const cb = await login(new Jar(), 'alice', { clientId: 'public-app', redirectUri, challenge });
    const t = await token({
      grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: redirectUri,
      client_id: 'public-app', code_verifier: verifier,
    }, { basic: null });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(jwtPayload(t.json.id_token).aud, 'public-app');
  });

  it('consents automatically when a signed-in user is asked for more scopes', async () => {
    const jar = new Jar();
    await login(jar, 'trudy', { scope: 'openid' });
    const r1 = await request(jar, 'GET', authUrl({ scope: 'openid profile groups', state: 'more' }));
    assert.equal(r1.status, 303);
    assert.match(r1.location, /^\/interaction\/[\w-]+$/);
    const r2 = await request(jar, 'GET', r1.location);
    assert.equal(r2.status, 303, 'no page: consent is granted at once');
    const r3 = await request(jar, 'GET', r2.location);
    assert.equal(r3.status, 303);
    const cb = new URL(r3.location);
    assert.equal(cb.searchParams.get('state'), 'more');
    const t = await token({ grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: REDIRECT });
    assert.equal(t.json.scope, 'openid profile groups');
    const u = await userinfo(t.json.access_token);
    assert.deepEqual(u.json.roles, ['admin']);
  });

  it('gives trudy different groups and roles', async () => {
    const t = await loginAndToken('trudy');
    const u = await userinfo(t.access_token);
    assert.deepEqual(u.json.groups, ['trusted']);
    assert.deepEqual(u.json.roles, ['admin']);
  });

  it('gives ursula no groups claim at all', async () => {
    const u = await userinfo((await loginAndToken('ursula')).access_token);
    assert.equal(u.json.preferred_username, 'ursula');
    assert.ok(!('groups' in u.json));
    assert.ok(!('roles' in u.json));
  });

  it('gives mixed its groups as one string', async () => {
    const u = await userinfo((await loginAndToken('mixed')).access_token);
    assert.equal(u.json.groups, 'Staff TRUSTED');
    assert.equal(u.json.roles, 'Staff TRUSTED');
  });

  it('gives root the untrusted group', async () => {
    const u = await userinfo((await loginAndToken('root')).access_token);
    assert.equal(u.json.preferred_username, 'root');
    assert.deepEqual(u.json.groups, ['untrusted']);
  });

  it('gives noname no preferred_username', async () => {
    const u = await userinfo((await loginAndToken('noname')).access_token);
    assert.equal(u.json.sub, 'noname');
    assert.ok(!('preferred_username' in u.json));
  });

  it("gives shorty a 3 second access token that really expires", async () => {
    const t = await loginAndToken('shorty');
    assert.equal(t.expires_in, 3);
    assert.equal((await userinfo(t.access_token)).status, 200);
    await new Promise((r) => { setTimeout(r, 4000); });
    const late = await userinfo(t.access_token);
    assert.equal(late.status, 401);
  });

  it('shows the form again on a wrong password, then accepts the right one', async () => {
    const jar = new Jar();
    const { login: action } = await startLogin(jar);
    const bad = await request(jar, 'POST', action, { form: { login: 'alice', password: 'wrong' } });
    assert.equal(bad.status, 401);
    assert.match(bad.text, /id="error">Invalid username or password/);
    assert.match(bad.text, new RegExp(`action="${action}"`));
    const unknown = await request(jar, 'POST', action, { form: { login: 'mallory', password: 'mallory-pw' } });
    assert.equal(unknown.status, 401);
    const good = await request(jar, 'POST', action, { form: { login: 'alice', password: 'alice-pw' } });
    assert.equal(good.status, 303);
    const cb = await request(jar, 'GET', good.location);
    assert.ok(new URL(cb.location).searchParams.get('code'));
  });

  it('returns access_denied when the user cancels', async () => {
    const jar = new Jar();
    const { abort } = await startLogin(jar, { state: 'cancel-state' });
    const r3 = await request(jar, 'POST', abort);
    assert.equal(r3.status, 303);
    const r4 = await request(jar, 'GET', r3.location);
    assert.equal(r4.status, 303);
    const cb = new URL(r4.location);
    assert.equal(`${cb.origin}${cb.pathname}`, REDIRECT);
    assert.equal(cb.searchParams.get('error'), 'access_denied');
    assert.equal(cb.searchParams.get('state'), 'cancel-state');
    assert.equal(cb.searchParams.get('code'), null);
  });

  it('signs a remembered user in again without a form, unless prompt=login', async () => {
    const jar = new Jar();
    await login(jar, 'alice');
    const again = await request(jar, 'GET', authUrl({ state: 'sso' }));
    assert.equal(again.status, 303);
    const cb = new URL(again.location);
    assert.equal(cb.searchParams.get('state'), 'sso');
    assert.ok(cb.searchParams.get('code'));
    const forced = await login(jar, 'trudy', { extra: { prompt: 'login' } });
    const t = await token({ grant_type: 'authorization_code', code: forced.searchParams.get('code'), redirect_uri: REDIRECT });
    assert.equal(jwtPayload(t.json.id_token).sub, 'trudy');
  });

  it('ends the session and returns to the post-logout redirect', async () => {
    const jar = new Jar();
    const cb = await login(jar, 'alice');
    const t = await token({ grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: REDIRECT });
    const end = new URL('/session/end', issuer);
    end.search = new URLSearchParams({
      id_token_hint: t.json.id_token, post_logout_redirect_uri: POST_LOGOUT, state: 'bye',
    }).toString();
    const r1 = await request(jar, 'GET', end.href);
    assert.equal(r1.status, 200);
    const action = /<form id="op.logoutForm" method="post" action="([^"]+)"/.exec(r1.text)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(r1.text)?.[1];
    assert.equal(action, `${issuer}/session/end/confirm`);
    assert.match(r1.text, /<button id="logout-yes" type="submit" name="logout" value="yes">/);
    const r2 = await request(jar, 'POST', action, { form: { xsrf, logout: 'yes' } });
    assert.equal(r2.status, 303);
    assert.equal(r2.location, `${POST_LOGOUT}?state=bye`);
    // The IdP session is gone: the next authorization shows the login form.
    const r3 = await request(jar, 'GET', authUrl());
    assert.match(r3.location, /^\/interaction\//);
  });

  it('ends a session that is already gone through a self-submitting form', async () => {
    const end = new URL('/session/end', issuer);
    end.search = new URLSearchParams({ client_id: 'portcullis', post_logout_redirect_uri: POST_LOGOUT }).toString();
    const jar = new Jar();
    const r1 = await request(jar, 'GET', end.href);
    assert.equal(r1.status, 200);
    const { action, fields } = parseForm(r1.text);
    assert.equal(action, `${issuer}/session/end/confirm`);
    assert.equal(fields.logout, 'yes');
    const r2 = await request(jar, 'POST', action, { form: fields });
    assert.equal(r2.status, 303);
    assert.equal(r2.location, POST_LOGOUT);
  });

  it('issues a client-credentials JWT access token for a resource, as a service account', async () => {
    const t = await token({ grant_type: 'client_credentials', resource: API, scope: 'api' }, { basic: ['robot', 'robot-secret'] });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(t.json.token_type, 'Bearer');
    const [header] = t.json.access_token.split('.');
    assert.equal(JSON.parse(Buffer.from(header, 'base64url').toString()).typ, 'at+jwt');
    const claims = jwtPayload(t.json.access_token);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, API);
    assert.equal(claims.sub, 'robot');
    assert.equal(claims.preferred_username, 'service-account-robot');
    assert.deepEqual(claims.groups, ['trusted']);
    assert.ok(claims.exp > claims.iat);
  });

  it('refuses client credentials to a client without that grant', async () => {
    const t = await token({ grant_type: 'client_credentials', resource: API });
    assert.equal(t.status, 400, JSON.stringify(t.json));
  });

  it('rejects an unregistered post_logout_redirect_uri', async () => {
    const end = new URL('/session/end', issuer);
    end.search = new URLSearchParams({ client_id: 'portcullis', post_logout_redirect_uri: 'http://evil.test/' }).toString();
    const r = await request(new Jar(), 'GET', end.href);
    assert.equal(r.status, 400);
    assert.match(r.text, /post_logout_redirect_uri not registered/);
  });
});
