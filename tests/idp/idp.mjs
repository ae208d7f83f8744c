// Portcullis test identity provider: a real, OpenID-certified OpenID Connect
// provider (the `oidc-provider` npm package) configured for tests and the demo.
//
// Run:  node idp.mjs            (after `npm ci` in this folder)
//
// Environment variables:
//   IDP_KEY_ID   the `kid` of the signing key (a fresh key each start), for
//                key-rotation tests; default: derived from the key itself, so
//                a restart (a new key) also announces a new `kid`.
//   IDP_HOST     address to listen on, and the host of the issuer; default
//                127.0.0.1. Set it to an address pods can reach (a node's
//                bridge address) to use the provider from a real cluster.
//   IDP_PORT     TCP port to listen on. 0 (the default) picks a free port.
//   IDP_ISSUER_TRAILING_SLASH  "1" declares the issuer with a trailing slash
//                (`http://<host>:<port>/`), as Authentik does; discovery stays
//                at <host>:<port>/.well-known/openid-configuration.
//   IDP_TLS_CERT, IDP_TLS_KEY  PEM files of a certificate and its key: the
//                provider speaks HTTPS only and its issuer is
//                `https://<host>:<port>` (a provider behind a private CA).
//   IDP_SIGNING_KEY_FILE  a PEM (PKCS#8) RSA private key to sign with instead
//                of a fresh one, so a test can forge tokens with the
//                provider's own key (wrong issuer, expired, ...).
//   IDP_CLIENTS  JSON array of clients. Each item:
//                  { "client_id": "...", "client_secret": "...",
//                    "redirect_uris": ["http://127.0.0.1:4180/auth/oidc"],
//                    "post_logout_redirect_uris": ["http://127.0.0.1:4180/"] }
//                Any other client metadata given in an item (for example
//                "token_endpoint_auth_method": "none" for a public client)
//                is passed to oidc-provider as is. A client with
//                "grant_types": ["client_credentials"] gets JWT access
//                tokens for a `resource` (RFC 8707), as a service account
//                named "service-account-<client_id>" with the item's
//                "groups" (a list; default none). Defaults per client:
//                application_type "web", token_endpoint_auth_method
//                "client_secret_basic" (client_secret_post is accepted too),
//                grant_types ["authorization_code"], response_types ["code"].
//                Default: one client "portcullis" / "portcullis-secret" with
//                redirect_uris ["http://127.0.0.1:4180/auth/oidc"] and
//                post_logout_redirect_uris ["http://127.0.0.1:4180/",
//                "http://127.0.0.1:4180/login"].
//                Back-channel logout is on: a client with a
//                "backchannel_logout_uri" gets a logout token posted there
//                when a session it took part in ends here (sid included
//                with "backchannel_logout_session_required": true).
//
// GET /test/counts answers {"refreshed": n, "refreshRefused": m}: the
// refresh-token grants it answered and refused since it started.
// POST /test/token-outage?status=503 makes the token endpoint answer that
// status (an outage at the provider) until POST /test/token-outage?status=0.
//
// Output: exactly one line on stdout once listening,
//   IDP_READY http://<IDP_HOST>:<port>   (https with IDP_TLS_CERT)
// where the URL is the issuer (discovery at <issuer>/.well-known/openid-configuration).
// Everything else (oidc-provider notices and warnings, request errors) goes
// to stderr. SIGTERM and SIGINT stop the server and exit with status 0.
//
// Accounts (account id = login name = `sub`; password = "<login>-pw"):
//   alice   groups ["admin", "staff"]
//   trudy   groups ["trusted"], roles ["admin"]   (the only one whose roles differ)
//   ursula  no groups and no roles claim at all
//   mixed   groups "Staff TRUSTED" (one whitespace-separated string)
//   root    groups ["untrusted"]
//   shorty  groups ["trusted"]; access tokens live 3 s (everyone else 3600 s)
//   noname  groups ["trusted"], no preferred_username claim at all
//   spacey  preferred_username " root" (a leading space; apps trim it)
//   comma   groups ["admin,staff", "readers"] (a comma inside one group name)
//   bell    preferred_username "bell\u0007user" (a control character)
//   crowded 32 groups of 120 characters each (the most a session keeps: too
//           large for one cookie, it is kept in two)
//   kira    groups ["/staff", "/Platform/Ops"] (group paths, as Keycloak sends them),
//           realm_access {roles: ["offline_access", "Books-Admin"]} (a nested claim)
//   otto    groups ["/contractors"] (in no group an allow-list would name)
//   zed     no groups; roles as Zitadel sends them: an object whose keys are
//           the role names, in "urn:zitadel:iam:org:project:roles"
// For everyone except trudy, `roles` carries the same value as `groups`.
//
// The login and consent pages are this file's own server-rendered HTML forms
// (no JavaScript); consent is granted automatically. See README.md for the
// exact HTTP sequence of a login.

import {
  generateKeyPairSync, createPrivateKey, randomBytes, createHash, timingSafeEqual,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

// oidc-provider prints its notices with console.info (stdout); stdout is
// reserved for the IDP_READY line, so send them to stderr.
console.info = (...args) => console.error(...args);

const { default: Provider } = await import('oidc-provider');

const HOST = process.env.IDP_HOST || '127.0.0.1';
const ACCESS_TOKEN_TTL = 3600;
const SHORT_ACCESS_TOKEN_TTL = 3;
const SHORT_LIVED_ACCOUNTS = new Set(['shorty']);

// === Accounts ===

/** The claim Zitadel puts a project's roles in. */
const ZITADEL_ROLES = 'urn:zitadel:iam:org:project:roles';

/** Claims of each account. A claim that is absent here is absent everywhere. */
const ACCOUNTS = {
  alice: {
    preferred_username: 'alice', name: 'Alice Admin', email: 'alice@example.test', groups: ['admin', 'staff'],
  },
  trudy: {
    preferred_username: 'trudy', name: 'Trudy Trusted', email: 'trudy@example.test', groups: ['trusted'], roles: ['admin'],
  },
  ursula: {
    preferred_username: 'ursula', name: 'Ursula Untrusted', email: 'ursula@example.test',
  },
  mixed: {
    preferred_username: 'mixed', name: 'Mixed Case', email: 'mixed@example.test', groups: 'Staff TRUSTED',
  },
  root: {
    preferred_username: 'root', name: 'Root Impostor', email: 'root@example.test', groups: ['untrusted'],
  },
  shorty: {
    preferred_username: 'shorty', name: 'Shorty Short', email: 'shorty@example.test', groups: ['trusted'],
  },
  noname: {
    name: 'No Name', email: 'noname@example.test', groups: ['trusted'],
  },
  spacey: {
    preferred_username: ' root', name: 'Spacey', email: 'spacey@example.test', groups: ['untrusted'],
  },
  comma: {
    preferred_username: 'comma', name: 'Comma', email: 'comma@example.test', groups: ['admin,staff', 'readers'],
  },
  bell: {
    preferred_username: 'bell\u0007user', name: 'Bell', email: 'bell@example.test', groups: ['trusted'],
  },
  crowded: {
    preferred_username: 'crowded', name: 'Crowded', email: 'crowded@example.test',
    groups: Array.from({ length: 32 }, (_, n) => `group-${String(n).padStart(2, '0')}-${'x'.repeat(111)}`),
  },
  kira: {
    preferred_username: 'kira', name: 'Kira Keycloak-Style', email: 'kira@example.test',
    groups: ['/staff', '/Platform/Ops'], realm_access: { roles: ['offline_access', 'Books-Admin'] },
  },
  otto: {
    preferred_username: 'otto', name: 'Otto Outsider', email: 'otto@example.test', groups: ['/contractors'],
  },
  zed: {
    preferred_username: 'zed', name: 'Zed Zitadel-Style', email: 'zed@example.test',
    [ZITADEL_ROLES]: { 'Books-Admin': { 'org-1': 'books.example.test' }, readers: { 'org-1': 'books.example.test' } },
  },
};
for (const claims of Object.values(ACCOUNTS)) {
  if (claims.groups !== undefined && claims.roles === undefined) claims.roles = claims.groups;
  claims.email_verified = true;
}

function digest(s) {
  return createHash('sha256').update(String(s), 'utf8').digest();
}

/** True when `login` names an account and `password` is "<login>-pw". */
function passwordMatches(login, password) {
  const known = Object.hasOwn(ACCOUNTS, login);
  const ok = timingSafeEqual(digest(password), digest(`${login}-pw`));
  return known && ok;
}

async function findAccount(ctx, id) {
  if (!Object.hasOwn(ACCOUNTS, id)) return undefined;
  return {
    accountId: id,
    // oidc-provider filters these by the granted scopes and by where the
    // claims go (ID token: openid-scope claims only; userinfo: all granted).
    async claims() {
      return { sub: id, ...structuredClone(ACCOUNTS[id]) };
    },
  };
}

// === Clients ===

function loadClients() {
  const raw = process.env.IDP_CLIENTS;
  const list = raw
    ? JSON.parse(raw)
    : [{
      client_id: 'portcullis',
      client_secret: 'portcullis-secret',
      redirect_uris: ['http://127.0.0.1:4180/auth/oidc'],
      post_logout_redirect_uris: ['http://127.0.0.1:4180/', 'http://127.0.0.1:4180/login'],
    }];
  if (!Array.isArray(list)) throw new TypeError('IDP_CLIENTS must be a JSON array');
  return list.map((c) => ({
    application_type: 'web',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    post_logout_redirect_uris: [],
    ...c,
  }));
}

// === HTML ===

function esc(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:26em;margin:2em auto}label,input,button{display:block;margin:.3em 0}p.error{color:#b00}</style>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>`;
}

function loginPage(uid, clientId, { login = '', error } = {}) {
  return page('Sign in', `<p>Sign in to continue to <strong>${esc(clientId)}</strong>.</p>
${error ? `<p class="error" id="error">${esc(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${esc(uid)}/login">
<label for="login">Username</label>
<input id="login" name="login" type="text" autocomplete="username" required value="${esc(login)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="submit" type="submit">Sign in</button>
</form>
<form id="abort-form" method="post" action="/interaction/${esc(uid)}/abort">
<button id="cancel" type="submit">Cancel</button>
</form>`);
}

// === Provider ===

const signingKey = (process.env.IDP_SIGNING_KEY_FILE
  ? createPrivateKey(readFileSync(process.env.IDP_SIGNING_KEY_FILE, 'utf8'))
  : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
).export({ format: 'jwk' });

/** Resource servers (RFC 8707 `resource`) get JWT access tokens (RFC 9068)
 *  signed like ID tokens, with the scope `api`. */
function resourceServerInfo(ctx, resourceIndicator) {
  return {
    scope: 'api',
    audience: resourceIndicator,
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  };
}

/** Claims added to access tokens: the account's name and groups, or for a
 *  client-credentials token a service account named after the client (as
 *  Keycloak does), with the groups listed in the client's metadata. */
async function extraTokenClaims(ctx, token) {
  if (token.kind === 'ClientCredentials') {
    const client = await ctx.oidc.provider.Client.find(token.clientId);
    return { preferred_username: `service-account-${token.clientId}`, groups: client?.groups ?? [] };
  }
  const account = token.accountId && ACCOUNTS[token.accountId];
  if (!account) return undefined;
  return { preferred_username: account.preferred_username, groups: account.groups };
}

/** Scope -> claims. `groups` also releases `roles` (and the nested
 *  `realm_access`), so a test can switch the group claim between them without
 *  changing the requested scopes. */
const CLAIMS = {
  openid: ['sub'],
  profile: ['preferred_username', 'name'],
  email: ['email', 'email_verified'],
  groups: ['groups', 'roles', 'realm_access', ZITADEL_ROLES],
  roles: ['roles'],
};

/** A key id derived from the key (a hash of its modulus): a new key gets a
 *  new id, as with real providers, unless IDP_KEY_ID pins one. */
function keyId(jwk) {
  return createHash('sha256').update(jwk.n).digest('base64url').slice(0, 16);
}

function configuration() {
  return {
    clients: loadClients(),
    findAccount,
    jwks: { keys: [{ ...signingKey, kid: process.env.IDP_KEY_ID || keyId(signingKey), use: 'sig', alg: 'RS256' }] },
    cookies: {
      // Browsers share cookies between ports of one host, and the sidecar
      // also runs on 127.0.0.1: prefix ours so the names cannot collide.
      names: { session: 'idp_session', interaction: 'idp_interaction', resume: 'idp_interaction_resume' },
      keys: [randomBytes(32).toString('hex')],
    },
    claims: CLAIMS,
    extraClientMetadata: { properties: ['groups'] },
    extraTokenClaims,
    // conformIdTokenClaims stays true (the default): the ID token carries
    // only openid-scope claims; everything else comes from userinfo.
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Ending a session here (end_session, confirmed) posts a logout token
      // to each client's backchannel_logout_uri.
      backchannelLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        getResourceServerInfo: async (ctx, resourceIndicator) => resourceServerInfo(ctx, resourceIndicator),
        useGrantedResource: async () => false,
      },
      rpInitiatedLogout: {
        enabled: true,
        // The default page puts the buttons outside the form (form="...");
        // put them inside so the page is a plain form.
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = page('Sign out', form.replace('</form>', `
<button id="logout-yes" type="submit" name="logout" value="yes">Yes, sign me out</button>
<button id="logout-no" type="submit">No, stay signed in</button>
</form>`));
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
        },
      },
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    ttl: {
      AccessToken: (ctx, token) => (
        SHORT_LIVED_ACCOUNTS.has(token.accountId) ? SHORT_ACCESS_TOKEN_TTL : ACCESS_TOKEN_TTL),
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
      RefreshToken: 24 * 3600,
      ClientCredentials: 600,
    },
    // Everything runs on one machine; the default 15 s tolerance would keep
    // shorty's 3 s access token usable at userinfo for 18 s.
    clockTolerance: 0,
    // A client allowed the refresh_token grant gets a refresh token with
    // every sign-in (no offline_access needed), rotated at each use; a
    // second use of a rotated one revokes the whole grant (oidc-provider's
    // reuse detection), as Keycloak's "Revoke Refresh Token" does.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // The provider's own requests (back-channel logout tokens) refuse
    // loopback and private addresses by default, against server-side
    // request forgery; every client of this test provider is on 127.0.0.1
    // or the test cluster's bridge, so let them through.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    clientBasedCORS: () => true,
    async renderError(ctx, out, error) {
      console.error(`idp: error page: ${out.error}: ${out.error_description}`, error?.message ?? '');
      ctx.type = 'html';
      ctx.body = page('Error', Object.entries(out)
        .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span id="${esc(k)}">${esc(v)}</span></p>`).join('\n'));
    },
  };
}

// === Interactions ===

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(html);
}

/** Grants everything the consent prompt says is missing (auto consent). */
async function grantMissing(provider, details, { grantId, accountId, clientId }) {
  const grant = (grantId && await provider.Grant.find(grantId))
    || new provider.Grant({ accountId, clientId });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scope] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scope.join(' '));
  }
  for (const detail of details.rar ?? []) grant.addRar(detail);
  return grant.save();
}

/** Grant for a fresh login: every OIDC scope and claim the request asks for. */
async function grantRequested(provider, params, accountId) {
  const grant = new provider.Grant({ accountId, clientId: params.client_id });
  const supported = new Set(['openid', 'offline_access', ...Object.keys(CLAIMS)]);
  const scopes = String(params.scope ?? '').split(' ').filter((s) => supported.has(s));
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  if (params.claims) {
    try {
      const requested = JSON.parse(params.claims);
      const names = [...Object.keys(requested.userinfo ?? {}), ...Object.keys(requested.id_token ?? {})];
      if (names.length) grant.addOIDCClaims(names);
    } catch { /* the authorization endpoint already validated it */ }
  }
  return grant.save();
}

async function handleInteraction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendHtml(res, 400, page('Error', '<p>This sign-in page is out of date. Start again from the application.</p>'));
    return;
  }
  const { prompt, params, session, grantId } = details;

  if (action === 'abort') {
    // GET is accepted too, like oidc-provider's own dev interactions.
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (prompt.name === 'login') {
    if (action === '' && req.method === 'GET') {
      sendHtml(res, 200, loginPage(uid, params.client_id, { login: params.login_hint ?? '' }));
      return;
    }
    if (action === 'login' && req.method === 'POST') {
      const form = await readForm(req);
      const login = form.get('login') ?? '';
      if (!passwordMatches(login, form.get('password') ?? '')) {
        console.error(`idp: failed login for ${JSON.stringify(login.slice(0, 64))}`);
        sendHtml(res, 401, loginPage(uid, params.client_id, { login, error: 'Invalid username or password.' }));
        return;
      }
      // Log in and consent in one step: the resume then goes straight back
      // to the client's redirect_uri with the code.
      const consentGrantId = await grantRequested(provider, params, login);
      await provider.interactionFinished(req, res, {
        login: { accountId: login },
        consent: { grantId: consentGrantId },
      }, { mergeWithLastSubmission: false });
      return;
    }
  }

  if (prompt.name === 'consent' && (action === '' || action === 'consent')) {
    // Automatic consent: an already signed-in user, or something the login
    // step's grant did not cover. No page is shown.
    const newGrantId = await grantMissing(provider, prompt.details, {
      grantId, accountId: session.accountId, clientId: params.client_id,
    });
    await provider.interactionFinished(req, res, { consent: { grantId: newGrantId } }, {
      mergeWithLastSubmission: true,
    });
    return;
  }

  sendHtml(res, 400, page('Error', `<p>Unexpected ${esc(req.method)} for prompt ${esc(prompt.name)}.</p>`));
}

// === Server ===

const TLS = process.env.IDP_TLS_CERT
  ? { cert: readFileSync(process.env.IDP_TLS_CERT), key: readFileSync(process.env.IDP_TLS_KEY) }
  : null;
const server = TLS ? createHttpsServer(TLS) : createHttpServer();
server.listen(Number(process.env.IDP_PORT ?? 0), HOST, () => {
  const { port } = server.address();
  const issuer = `${TLS ? 'https' : 'http'}://${HOST}:${port}`;
  const declared = process.env.IDP_ISSUER_TRAILING_SLASH === '1' ? `${issuer}/` : issuer;
  const provider = new Provider(declared, configuration());
  provider.on('server_error', (ctx, err) => console.error('idp: server_error', err));
  provider.on('backchannel.error', (ctx, err, client) => console.error('idp: backchannel.error', client?.clientId, err?.message, err?.cause?.message ?? '', err?.cause?.code ?? ''));
  provider.on('backchannel.success', (ctx, client) => console.error('idp: backchannel.success', client?.clientId));
  const oidc = provider.callback();
  // Refresh-token grants, answered and refused, for tests to count.
  const counts = { refreshed: 0, refreshRefused: 0 };
  // The status the token endpoint answers instead of working; 0: none.
  let tokenOutage = 0;
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') counts.refreshed += 1;
  });
  provider.on('grant.error', (ctx, err) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') {
      counts.refreshRefused += 1;
      console.error('idp: refresh refused:', err.error_description ?? err.message);
    }
  });

  server.on('request', (req, res) => {
    const path = new URL(req.url, issuer).pathname;
    if (path === '/test/counts') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(counts));
      return;
    }
    if (path === '/test/token-outage' && req.method === 'POST') {
      tokenOutage = Number(new URL(req.url, issuer).searchParams.get('status') ?? 0);
      res.writeHead(204);
      res.end();
      return;
    }
    if (tokenOutage && path === '/token') {
      res.writeHead(tokenOutage, { 'content-type': 'text/html' });
      res.end('<html><body>upstream unavailable</body></html>');
      return;
    }
    const m = /^\/interaction\/([^/]+)(?:\/(login|abort|consent))?\/?$/.exec(path);
    if (!m) {
      oidc(req, res);
      return;
    }
    handleInteraction(provider, req, res, m[1], m[2] ?? '').catch((err) => {
      console.error('idp: interaction error:', err.message);
      if (res.headersSent) { res.end(); return; }
      const status = err.statusCode ?? err.status ?? 500;
      sendHtml(res, status, page('Error', `<p id="error">${esc(err.error ?? 'server_error')}: ${esc(err.error_description ?? err.message)}</p>`));
    });
  });

  process.stdout.write(`IDP_READY ${issuer}\n`);
});
server.on('error', (err) => {
  console.error('idp: cannot listen:', err.message);
  process.exit(1);
});

function stop(signal) {
  console.error(`idp: ${signal}, stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
