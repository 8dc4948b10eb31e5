// Relying parties nobody here wrote, against the real origin's OAuth 2.1 / OpenID Connect
// provider: npm `openid-client` (OpenID-certified) drives discovery, code + PKCE with a
// confidential and a public client, userinfo, refresh, introspection, revocation and client
// credentials; npm `oauth4webapi` does code + PKCE on its own. The person's browser is played by
// a cookie jar over fetch (sign-in through the JSON API, the consent page's form posted as a
// browser would). Run by origin/tests/it/oauth.rs, which sets:
//
//   ISSUER        the default tenant's issuer (http://localhost:PORT)
//   CONF_ID       a confidential client (client_secret_basic), CONF_SECRET its secret
//   PUB_ID        a public client (none)
//   FIRST_ID      a first-party client (skip_consent, client_secret_post), FIRST_SECRET
//   TV_ID         a public client of the device authorization grant
//   REDIRECT      the redirect URI all three registered
//   PKJ_ID        a private_key_jwt client; PKJ_JWK, PKJ_EC_JWK its Ed25519 and P-256 keys
//   USER, PASSWORD  a person of the tenant (the tenant requires DPoP server nonces)
//
// Every check throws on failure (exit 1 with the reason); on success one JSON line reports
// what was checked, with tokens the Rust side verifies again.
import assert from "node:assert/strict";
import http from "node:http";
import * as client from "openid-client";
import * as oauth from "oauth4webapi";
import * as jose from "jose";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const ISSUER = env("ISSUER");
const REDIRECT = env("REDIRECT");
const USER = env("USER");
const PASSWORD = env("PASSWORD");
const report = { steps: [] };
const step = (s) => report.steps.push(s);
const insecure = { execute: [client.allowInsecureRequests] };

/** The text of an HTML attribute value. */
const unescape = (v) =>
  v
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replaceAll("&quot;", '"')
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

/** A browser: a cookie jar; redirects are not followed (each hop is read). */
class Browser {
  constructor() {
    this.cookies = new Map();
  }
  keep(res) {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(";")[0];
      const i = pair.indexOf("=");
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (/max-age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  async go(url, init = {}) {
    const headers = { ...(init.headers || {}) };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    this.keep(res);
    return res;
  }
  async signIn() {
    const res = await this.go(`${ISSUER}/api/sso/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: ISSUER },
      body: JSON.stringify({ identifier: USER, secret: PASSWORD }),
    });
    assert.equal(res.status, 200, `sign-in: ${await res.text()}`);
    assert.ok(this.cookies.has("usso-access-token"), "the sign-in set the access cookie");
  }
  /** Follows an authorization URL to the client's redirect; approves consent when asked. */
  async authorize(url, { approve = true, expectConsent } = {}) {
    let res = await this.go(url);
    let consented = false;
    if (res.status === 200) {
      const html = await res.text();
      assert.match(html, /form[^>]+action="\/api\/sso\/v1\/oauth\/authorize\/consent"/, "a consent page");
      const csp = res.headers.get("content-security-policy");
      assert.ok(csp.includes("form-action 'self' " + new URL(REDIRECT).origin), `form-action allows the client: ${csp}`);
      const forms = [...html.matchAll(/<form[^>]*>([\s\S]*?)<\/form>/g)].map((m) => m[1]);
      const form = forms.find((f) => f.includes(`value="${approve ? "allow" : "deny"}"`));
      assert.ok(form, "the allow/deny form");
      const fields = new URLSearchParams();
      for (const m of form.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
        const name = /name="([^"]*)"/.exec(m[0])[1];
        const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? "";
        fields.append(name, unescape(value));
      }
      res = await this.go(`${ISSUER}/api/sso/v1/oauth/authorize/consent`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: ISSUER, "sec-fetch-site": "same-origin" },
        body: fields.toString(),
      });
      consented = true;
    }
    if (expectConsent !== undefined) assert.equal(consented, expectConsent, "consent page shown or not as expected");
    assert.equal(res.status, 302, `authorize ends in a redirect: ${res.status} ${await res.text()}`);
    return new URL(res.headers.get("location"));
  }
}

// ---- openid-client, confidential client -------------------------------------------------------
const conf = await client.discovery(
  new URL(ISSUER),
  env("CONF_ID"),
  {},
  client.ClientSecretBasic(env("CONF_SECRET")),
  insecure,
);
const meta = conf.serverMetadata();
assert.equal(meta.issuer, ISSUER);
assert.deepEqual(meta.code_challenge_methods_supported, ["S256"]);
assert.ok(!meta.grant_types_supported.includes("password"), "no password grant");
assert.ok(!meta.response_types_supported.includes("token"), "no implicit flow");
assert.equal(meta.authorization_response_iss_parameter_supported, true);
step("discovery");

const browser = new Browser();
await browser.signIn();

async function codeFlow(config, scope, opts = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    ...(opts.extra || {}),
  });
  const back = await browser.authorize(url.href, opts);
  assert.equal(back.searchParams.get("iss"), ISSUER, "RFC 9207 iss");
  const tokens = await client.authorizationCodeGrant(config, back, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: scope.includes("openid"),
  });
  return { tokens, back, verifier, state, nonce };
}

const first = await codeFlow(conf, "openid profile email offline_access read:usso/users", { expectConsent: true });
const claims = first.tokens.claims();
assert.equal(claims.iss, ISSUER);
assert.equal(claims.aud, env("CONF_ID"));
assert.ok(claims.sub.startsWith("user:"), claims.sub);
assert.equal(claims.email, USER);
assert.equal(typeof claims.auth_time, "number");
assert.deepEqual(claims.amr, ["password"]);
assert.ok(first.tokens.refresh_token, "offline_access gives a refresh token");
assert.equal(first.tokens.token_type.toLowerCase(), "bearer");
assert.equal(first.tokens.scope, "openid profile email offline_access read:usso/users");
// A resource server validating the access token as RFC 9068 says (jose, the tenant's JWKS).
{
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(first.tokens.access_token, jwks, {
    issuer: ISSUER,
    audience: "usso",
    typ: "at+jwt",
    algorithms: ["EdDSA"],
  });
  assert.equal(protectedHeader.typ, "at+jwt");
  assert.equal(payload.client_id, env("CONF_ID"));
  assert.equal(payload.sub, claims.sub);
  assert.equal(payload.scope, "openid profile email offline_access read:usso/users");
  assert.deepEqual(payload.scopes, ["read:usso/users"]);
}
step("code + PKCE, confidential (consent page); RFC 9068 validation with jose");

// The consent is remembered: the second time, straight back with a code.
const again = await codeFlow(conf, "openid email", { expectConsent: false });
assert.ok(!again.tokens.refresh_token, "no offline_access, no refresh token");
step("consent remembered");

// A replayed code is refused (invalid_grant), and what it issued is revoked.
await assert.rejects(
  client.authorizationCodeGrant(conf, again.back, {
    pkceCodeVerifier: again.verifier,
    expectedState: again.state,
    expectedNonce: again.nonce,
    idTokenExpected: true,
  }),
  (e) => e.error === "invalid_grant",
);
const afterReplay = await client.tokenIntrospection(conf, again.tokens.access_token);
assert.equal(afterReplay.active, false, "the replayed code's tokens are revoked");
step("code replay");

const info = await client.fetchUserInfo(conf, first.tokens.access_token, claims.sub);
assert.equal(info.sub, claims.sub);
assert.equal(info.email, USER);
assert.equal(info.email_verified, true);
step("userinfo");

const refreshed = await client.refreshTokenGrant(conf, first.tokens.refresh_token);
assert.ok(refreshed.access_token && refreshed.refresh_token);
assert.notEqual(refreshed.refresh_token, first.tokens.refresh_token, "rotated");
step("refresh");

const active = await client.tokenIntrospection(conf, refreshed.access_token);
assert.equal(active.active, true);
assert.equal(active.client_id, env("CONF_ID"));
assert.equal(active.sub, claims.sub);
step("introspection");

await client.tokenRevocation(conf, refreshed.refresh_token);
await assert.rejects(client.refreshTokenGrant(conf, refreshed.refresh_token), (e) => e.error === "invalid_grant");
assert.equal((await client.tokenIntrospection(conf, refreshed.access_token)).active, false);
step("revocation");

const cc = await client.clientCredentialsGrant(conf, { scope: "read:usso/users" });
assert.equal(cc.scope, "read:usso/users");
assert.ok(!cc.refresh_token);
const users = await fetch(`${ISSUER}/api/sso/v1/users?limit=5`, { headers: { authorization: `Bearer ${cc.access_token}` } });
assert.equal(users.status, 200, `a client-credentials token reads users: ${await users.text()}`);
await assert.rejects(client.clientCredentialsGrant(conf, { scope: "delete:usso/users" }), (e) => e.error === "invalid_scope");
step("client credentials");

// ---- DPoP (RFC 9449): tokens bound to the client's key ------------------------------------
// The tenant requires server nonces: a proof without one is refused with a fresh nonce, which
// openid-client picks up and retries with on its own.
{
  const pair = await jose.generateKeyPair("ES256");
  const jwk = await jose.exportJWK(pair.publicKey);
  const proof = (claims) =>
    new jose.SignJWT({ jti: crypto.randomUUID(), htm: "POST", htu: meta.token_endpoint, ...claims })
      .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk })
      .setIssuedAt()
      .sign(pair.privateKey);
  const ask = async (p) =>
    fetch(meta.token_endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${env("CONF_ID")}:${env("CONF_SECRET")}`).toString("base64")}`,
        dpop: p,
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: "read:usso/users" }),
    });
  const first = await ask(await proof({}));
  assert.equal(first.status, 400, "a proof without the server's nonce");
  assert.equal((await first.json()).error, "use_dpop_nonce");
  const nonce = first.headers.get("dpop-nonce");
  assert.ok(nonce, "the refusal carries DPoP-Nonce");
  const stale = await ask(await proof({ nonce: "123.AAAAAAAAAAAAAAAAAAAAAA" }));
  assert.equal((await stale.json()).error, "use_dpop_nonce", "a nonce this server did not make");
  const second = await ask(await proof({ nonce }));
  assert.equal(second.status, 200, `the same request with the nonce: ${await second.clone().text()}`);
  assert.equal((await second.json()).token_type, "DPoP");
  assert.ok(second.headers.get("dpop-nonce"), "a success hands out the next nonce too");
  step("DPoP nonces: refused without, with a forged one; accepted with the server's");
}
{
  const key = await client.randomDPoPKeyPair("Ed25519");
  const dpop = client.getDPoPHandle(conf, key);
  const bound = await client.clientCredentialsGrant(conf, { scope: "read:usso/users" }, { DPoP: dpop });
  assert.equal(bound.token_type.toLowerCase(), "dpop");
  const at = JSON.parse(Buffer.from(bound.access_token.split(".")[1], "base64url"));
  assert.ok(at.cnf?.jkt, "the access token carries cnf.jkt");
  const url = new URL(`${ISSUER}/api/sso/v1/users?limit=1`);
  const ok = await client.fetchProtectedResource(conf, bound.access_token, url, "GET", undefined, undefined, { DPoP: dpop });
  assert.equal(ok.status, 200, "a bound token with its proof");
  // The same token as a plain bearer, or with a proof of another key: refused.
  const asBearer = await fetch(url, { headers: { authorization: `Bearer ${bound.access_token}` } });
  assert.equal(asBearer.status, 401, "a bound token is no bearer token");
  const other = client.getDPoPHandle(conf, await client.randomDPoPKeyPair("Ed25519"));
  const wrongKey = await client
    .fetchProtectedResource(conf, bound.access_token, url, "GET", undefined, undefined, { DPoP: other })
    .catch((e) => e);
  assert.ok(wrongKey.status === 400 || wrongKey.status === 401 || wrongKey.cause?.status >= 400, `another key's proof is refused: ${wrongKey.status}`);
  // A resource request whose proof lacks the nonce: 401 with the RFC 9449 challenge.
  const bare = await fetch(url, {
    headers: {
      authorization: `DPoP ${bound.access_token}`,
      dpop: await new jose.SignJWT({
        jti: crypto.randomUUID(),
        htm: "GET",
        htu: url.href.split("?")[0],
        ath: Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(bound.access_token))).toString("base64url"),
      })
        .setProtectedHeader({ typ: "dpop+jwt", alg: "EdDSA", jwk: await jose.exportJWK(key.publicKey) })
        .setIssuedAt()
        .sign(key.privateKey),
    },
  });
  assert.equal(bare.status, 401, "a resource proof without the nonce");
  assert.match(bare.headers.get("www-authenticate") ?? "", /^DPoP error="use_dpop_nonce"/);
  assert.ok(bare.headers.get("dpop-nonce"), "with the nonce to use");
  step("DPoP (Ed25519): client credentials; bearer use, another key and a missing nonce refused");

  // Code flow with DPoP and openid-client's default key (ES256): bound access and refresh
  // tokens; userinfo, the edge core's /me and a PATCH route with proofs; a refresh without a
  // proof is refused.
  const es = client.getDPoPHandle(conf, await client.randomDPoPKeyPair());
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authUrl = client.buildAuthorizationUrl(conf, {
    redirect_uri: REDIRECT,
    scope: "openid email offline_access",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
  });
  const back = await browser.authorize(authUrl.href, { expectConsent: false });
  const tokens = await client.authorizationCodeGrant(conf, back, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: es });
  assert.equal(tokens.token_type.toLowerCase(), "dpop");
  const jkt = JSON.parse(Buffer.from(tokens.access_token.split(".")[1], "base64url")).cnf?.jkt;
  assert.ok(jkt, "bound to the ES256 key");
  const who = await client.fetchUserInfo(conf, tokens.access_token, tokens.claims().sub, { DPoP: es });
  assert.equal(who.email, USER);
  const me = await client.fetchProtectedResource(conf, tokens.access_token, new URL(`${ISSUER}/api/sso/v1/me`), "GET", undefined, undefined, { DPoP: es });
  assert.equal(me.status, 200, `the edge core's /me with an ES256 proof: ${await me.clone().text()}`);
  const patched = await client.fetchProtectedResource(
    conf,
    tokens.access_token,
    new URL(`${ISSUER}/api/sso/v1/profiles/mine`),
    "PATCH",
    JSON.stringify({ name: "Dee Pop" }),
    new Headers({ "content-type": "application/json" }),
    { DPoP: es },
  );
  assert.equal(patched.status, 200, `PATCH with a bound token and its proof: ${await patched.clone().text()}`);
  assert.equal((await patched.json()).name, "Dee Pop");
  const again = await client.refreshTokenGrant(conf, tokens.refresh_token, undefined, { DPoP: es });
  assert.equal(again.token_type.toLowerCase(), "dpop");
  await assert.rejects(client.refreshTokenGrant(conf, again.refresh_token), (e) => e.error === "invalid_dpop_proof");
  step("DPoP (ES256): code, userinfo, /me, PATCH, refresh; refresh without a proof refused");
}

// ---- private_key_jwt (RFC 7523): a service signs its own assertion ---------------------------
{
  const jwk = JSON.parse(env("PKJ_JWK"));
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
  const svc = await client.discovery(new URL(ISSUER), env("PKJ_ID"), {}, client.PrivateKeyJwt(key, { kid: jwk.kid }), insecure);
  const t = await client.clientCredentialsGrant(svc, { scope: "read:usso/users" });
  assert.equal(JSON.parse(Buffer.from(t.access_token.split(".")[1], "base64url")).client_id, env("PKJ_ID"));
  // One assertion, used twice: the second is refused; one for another audience is refused.
  const assertion = (aud, jti) =>
    new jose.SignJWT({ jti })
      .setProtectedHeader({ alg: "EdDSA", kid: jwk.kid })
      .setIssuer(env("PKJ_ID"))
      .setSubject(env("PKJ_ID"))
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(key);
  const post = async (a) => {
    const r = await fetch(meta.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: a,
      }),
    });
    return [r.status, await r.json()];
  };
  const once = await assertion(meta.token_endpoint, "a-1");
  assert.equal((await post(once))[0], 200);
  const replay = await post(once);
  assert.equal(replay[1].error, "invalid_client", "a replayed assertion");
  const elsewhere = await post(await assertion("https://other.example/token", "a-2"));
  assert.equal(elsewhere[1].error, "invalid_client", "an assertion for another server");
  // The service's P-256 key: openid-client signs its assertion with ES256.
  const ecJwk = JSON.parse(env("PKJ_EC_JWK"));
  const ecKey = await crypto.subtle.importKey("jwk", ecJwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const ecSvc = await client.discovery(new URL(ISSUER), env("PKJ_ID"), {}, client.PrivateKeyJwt(ecKey, { kid: ecJwk.kid }), insecure);
  const te = await client.clientCredentialsGrant(ecSvc, { scope: "read:usso/users" });
  assert.ok(te.access_token, "an ES256 assertion");
  // An ES256 assertion naming the Ed25519 key's kid: refused (the algorithm is the key's).
  const confused = await new jose.SignJWT({ jti: "a-3" })
    .setProtectedHeader({ alg: "ES256", kid: jwk.kid })
    .setIssuer(env("PKJ_ID"))
    .setSubject(env("PKJ_ID"))
    .setAudience(meta.token_endpoint)
    .setIssuedAt()
    .setExpirationTime("60s")
    .sign(ecKey);
  assert.equal((await post(confused))[1].error, "invalid_client", "ES256 with an Ed25519 key's kid");
  step("private_key_jwt (Ed25519 and ES256)");
}

// Wrong secret: invalid_client.
const wrong = await client.discovery(new URL(ISSUER), env("CONF_ID"), {}, client.ClientSecretBasic("usso_cs_wrong"), insecure);
// RFC 6749 §5.2: with HTTP Basic, a 401 carries a WWW-Authenticate challenge, which the library
// surfaces as such.
await assert.rejects(
  client.clientCredentialsGrant(wrong, {}),
  (e) => e.status === 401 && e.cause?.[0]?.scheme === "basic",
);
step("wrong secret");

// ---- openid-client, public client (PKCE, no secret) -------------------------------------------
const pub = await client.discovery(new URL(ISSUER), env("PUB_ID"), {}, client.None(), insecure);
const pubFlow = await codeFlow(pub, "openid offline_access", { expectConsent: true });
assert.equal(pubFlow.tokens.claims().aud, env("PUB_ID"));
const pubRefreshed = await client.refreshTokenGrant(pub, pubFlow.tokens.refresh_token);
assert.ok(pubRefreshed.access_token);
// Another client cannot redeem the public client's refresh token.
await assert.rejects(client.refreshTokenGrant(conf, pubRefreshed.refresh_token), (e) => e.error === "invalid_grant");
step("code + PKCE, public client");

// ---- first party: no consent page -------------------------------------------------------------
const firstParty = await client.discovery(
  new URL(ISSUER),
  env("FIRST_ID"),
  {},
  client.ClientSecretPost(env("FIRST_SECRET")),
  insecure,
);
await codeFlow(firstParty, "openid", { expectConsent: false });
step("first party skips consent");

// ---- prompt=none without a session: login_required to the client -----------------------------
{
  const anon = new Browser();
  const url = client.buildAuthorizationUrl(conf, {
    redirect_uri: REDIRECT,
    scope: "openid",
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: "S256",
    state: "s1",
    prompt: "none",
  });
  const res = await anon.go(url.href);
  assert.equal(res.status, 302);
  const loc = new URL(res.headers.get("location"));
  assert.equal(loc.searchParams.get("error"), "login_required");
  assert.equal(loc.searchParams.get("state"), "s1");
  assert.equal(loc.searchParams.get("iss"), ISSUER);
  // Without prompt=none: the sign-in page, coming back to this request.
  const url2 = new URL(url);
  url2.searchParams.delete("prompt");
  const res2 = await anon.go(url2.href);
  assert.equal(res2.status, 303);
  assert.match(res2.headers.get("location"), /^\/login\?redirect=%2Fapi%2Fsso%2Fv1%2Foauth%2Fauthorize%3F/);
  step("prompt=none and the sign-in redirect");
}

// ---- oauth4webapi: code + PKCE on its own ----------------------------------------------------
{
  const issuer = new URL(ISSUER);
  const as = await oauth
    .discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true })
    .then((r) => oauth.processDiscoveryResponse(issuer, r));
  const c = { client_id: env("CONF_ID") };
  const auth = oauth.ClientSecretBasic(env("CONF_SECRET"));
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set("client_id", c.client_id);
  url.searchParams.set("redirect_uri", REDIRECT);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", "openid email");
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("state", state);
  url.searchParams.set("nonce", nonce);
  const back = await browser.authorize(url.href, { expectConsent: false });
  const params = oauth.validateAuthResponse(as, c, back, state);
  const response = await oauth.authorizationCodeGrantRequest(as, c, auth, params, REDIRECT, verifier, {
    [oauth.allowInsecureRequests]: true,
  });
  const result = await oauth.processAuthorizationCodeResponse(as, c, response, { expectedNonce: nonce, requireIdToken: true });
  const idc = oauth.getValidatedIdTokenClaims(result);
  assert.equal(idc.aud, c.client_id);
  // A wrong verifier: invalid_grant.
  const v2 = oauth.generateRandomCodeVerifier();
  const url3 = new URL(url);
  url3.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(v2));
  url3.searchParams.set("state", "s3");
  const back3 = await browser.authorize(url3.href, { expectConsent: false });
  const p3 = oauth.validateAuthResponse(as, c, back3, "s3");
  const r3 = await oauth.authorizationCodeGrantRequest(as, c, auth, p3, REDIRECT, verifier, {
    [oauth.allowInsecureRequests]: true,
  });
  await assert.rejects(
    oauth.processAuthorizationCodeResponse(as, c, r3, { expectedNonce: nonce }),
    (e) => e.error === "invalid_grant",
  );
  report.oauth4webapi_access_token = result.access_token;
  step("oauth4webapi code + PKCE, wrong verifier refused");
}

// ---- the device authorization grant (RFC 8628) ------------------------------------------------
{
  const tv = await client.discovery(new URL(ISSUER), env("TV_ID"), {}, client.None(), insecure);
  const start = await client.initiateDeviceAuthorization(tv, { scope: "openid offline_access" });
  assert.match(start.user_code, /^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
  assert.equal(start.verification_uri, `${ISSUER}/device`);
  // The person opens the page (signed in), sees the client and approves.
  let res = await browser.go(start.verification_uri_complete);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.ok(html.includes("Living Room TV"), "the page names the client");
  const form = [...html.matchAll(/<form[^>]*>([\s\S]*?)<\/form>/g)].map((m) => m[1]).find((f) => f.includes('value="allow"'));
  const fields = new URLSearchParams();
  for (const m of form.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    fields.append(/name="([^"]*)"/.exec(m[0])[1], unescape(/value="([^"]*)"/.exec(m[0])?.[1] ?? ""));
  }
  res = await browser.go(`${ISSUER}/device`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: ISSUER, "sec-fetch-site": "same-origin" },
    body: fields.toString(),
  });
  assert.equal(res.status, 200, await res.text());
  const tokens = await client.pollDeviceAuthorizationGrant(tv, start);
  assert.equal(tokens.claims().aud, env("TV_ID"));
  assert.ok(tokens.refresh_token);
  // Polled again, the device code is spent.
  await assert.rejects(client.pollDeviceAuthorizationGrant(tv, start), (e) => e.error === "expired_token" || e.error === "invalid_grant");
  step("device authorization grant");
}

// ---- dynamic client registration (RFC 7591) and a resource indicator (RFC 8707) --------------
{
  const RESOURCE = env("RESOURCE");
  const reg = await client.dynamicClientRegistration(
    new URL(ISSUER),
    { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", client_name: "Registered App", scope: "openid email" },
    client.None(),
    insecure,
  );
  assert.match(reg.clientMetadata().client_id, /^oc_/);
  assert.equal(reg.clientMetadata().client_secret, undefined, "a public client has no secret");
  // It may not give itself permission scopes.
  const refused = await fetch(`${ISSUER}/api/sso/v1/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [REDIRECT], scope: "openid admin:usso/*" }),
  });
  assert.equal(refused.status, 400);
  assert.equal((await refused.json()).error, "invalid_client_metadata");
  const badUri = await fetch(`${ISSUER}/api/sso/v1/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: ["http://evil.example/cb"] }),
  });
  assert.equal((await badUri.json()).error, "invalid_redirect_uri");
  step("dynamic client registration");

  const flow = await codeFlow(reg, "openid email", { expectConsent: true, extra: { resource: RESOURCE } });
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload } = await jose.jwtVerify(flow.tokens.access_token, jwks, { issuer: ISSUER, audience: RESOURCE, typ: "at+jwt" });
  assert.equal(payload.aud, RESOURCE, "the token is for the resource server");
  // Not for the tenant's own APIs.
  const own = await fetch(`${ISSUER}/api/sso/v1/users?limit=1`, { headers: { authorization: `Bearer ${flow.tokens.access_token}` } });
  assert.equal(own.status, 401);
  // A resource the tenant does not have: invalid_target, sent to the client.
  const url = client.buildAuthorizationUrl(reg, {
    redirect_uri: REDIRECT,
    scope: "openid",
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: "S256",
    resource: "https://elsewhere.example/api",
  });
  const res = await browser.go(url.href);
  assert.equal(new URL(res.headers.get("location")).searchParams.get("error"), "invalid_target");
  const cc = await client.clientCredentialsGrant(conf, { scope: "read:usso/users", resource: RESOURCE });
  assert.equal(JSON.parse(Buffer.from(cc.access_token.split(".")[1], "base64url")).aud, RESOURCE);
  assert.equal((await client.tokenIntrospection(conf, cc.access_token)).aud, RESOURCE, "introspection knows resource tokens");
  step("resource indicators");
}

// ---- RS256 ID tokens for a client that asks for them ------------------------------------------
{
  const rs = await client.discovery(
    new URL(ISSUER),
    env("RS_ID"),
    { id_token_signed_response_alg: "RS256" },
    client.ClientSecretBasic(env("RS_SECRET")),
    insecure,
  );
  assert.ok(rs.serverMetadata().id_token_signing_alg_values_supported.includes("RS256"));
  const flow = await codeFlow(rs, "openid email", { expectConsent: true });
  const header = jose.decodeProtectedHeader(flow.tokens.id_token);
  assert.equal(header.alg, "RS256");
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload } = await jose.jwtVerify(flow.tokens.id_token, jwks, { issuer: ISSUER, audience: env("RS_ID"), algorithms: ["RS256"] });
  assert.equal(payload.email, USER);
  // The access token stays EdDSA.
  assert.equal(jose.decodeProtectedHeader(flow.tokens.access_token).alg, "EdDSA");
  const set = await (await fetch(meta.jwks_uri)).json();
  assert.ok(set.keys.some((k) => k.kty === "RSA" && k.alg === "RS256" && k.kid === header.kid));
  assert.ok(set.keys.some((k) => k.kty === "OKP"), "the Ed25519 keys stay");
  step("RS256 ID tokens");
}

// ---- client ID metadata documents: a URL as client_id (the MCP authorization profile) --------
{
  const META = `http://127.0.0.1:${env("META_PORT")}/oauth/client.json`;
  let fetched = 0;
  const srv = http.createServer((req, res) => {
    if (req.url === "/oauth/client.json") {
      fetched += 1;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({
        client_id: META,
        client_name: "Agent via Metadata",
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "none",
      }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise((r) => srv.listen(Number(env("META_PORT")), "127.0.0.1", r));
  try {
    assert.equal(meta.client_id_metadata_document_supported, true);
    const mc = await client.discovery(new URL(ISSUER), META, {}, client.None(), insecure);
    const flow = await codeFlow(mc, "openid offline_access", { expectConsent: true });
    assert.equal(flow.tokens.claims().aud, META);
    const again = await client.refreshTokenGrant(mc, flow.tokens.refresh_token);
    assert.ok(again.access_token);
    assert.equal(fetched, 1, "the document is fetched once, then cached");
    // A private address the operator did not list: refused before any request leaves.
    const probe = await browser.go(
      `${ISSUER}/api/sso/v1/oauth/authorize?response_type=code&scope=openid&client_id=${encodeURIComponent("https://169.254.169.254/latest/meta-data")}`,
    );
    assert.equal(probe.status, 401, "a metadata URL on a private address is refused");
    assert.equal(probe.headers.get("location"), null);
  } finally {
    srv.close();
  }
  step("client ID metadata document");
}

// ---- RP-initiated logout: the browser's session ends, back to the registered URI -----------
{
  const end = client.buildEndSessionUrl(conf, {
    id_token_hint: first.tokens.id_token,
    post_logout_redirect_uri: `${REDIRECT}/bye`,
    state: "bye1",
  });
  const res = await browser.go(end.href);
  assert.equal(res.status, 302);
  const loc = new URL(res.headers.get("location"));
  assert.equal(`${loc.origin}${loc.pathname}`, `${REDIRECT}/bye`);
  assert.equal(loc.searchParams.get("state"), "bye1");
  assert.ok(!browser.cookies.has("usso-access-token"), "the site's cookies are cleared");
  // An unregistered return URI is refused on a page.
  const bad = await browser.go(
    client.buildEndSessionUrl(conf, { id_token_hint: first.tokens.id_token, post_logout_redirect_uri: "https://evil.example/" }).href,
  );
  assert.equal(bad.status, 400);
  step("RP-initiated logout");
}

report.access_token = first.tokens.access_token;
report.id_token = first.tokens.id_token;
report.client_credentials_token = cc.access_token;
console.log(JSON.stringify(report));
