// Interop driver: the npm `jose` library (software nobody here wrote) checks our tokens and JWKS,
// and signs tokens with its own Ed25519 keys for usso-shared to verify.
//
//   node jose.mjs verify <input.json>   -> verifies tokens with createLocalJWKSet and createRemoteJWKSet
//   node jose.mjs sign <claims.json>    -> a fresh Ed25519 key (kid = hex SHA-256 of SPKI DER) and a token
//
// Results are printed as one JSON document on stdout; the Rust test makes every assertion.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import * as jose from 'jose';

const [mode, file] = process.argv.slice(2);
const input = JSON.parse(readFileSync(file, 'utf8'));

async function check(token, keySet, opts) {
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(token, keySet, opts);
    return { ok: true, payload, header: protectedHeader };
  } catch (e) {
    return { ok: false, code: e.code ?? String(e) };
  }
}

async function verify() {
  // With `jwks_url` (a running server), fetch the JWKS from it for both key sets; otherwise serve
  // the given JWKS over HTTP for createRemoteJWKSet exactly as an SDK would fetch it.
  let server = null;
  let url;
  let jwks = input.jwks;
  if (input.jwks_url) {
    url = new URL(input.jwks_url);
    jwks = await (await fetch(url)).json();
  } else {
    const body = JSON.stringify(jwks);
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    url = new URL(`http://127.0.0.1:${server.address().port}/.well-known/jwks.json`);
  }
  const local = jose.createLocalJWKSet(jwks);
  const remote = jose.createRemoteJWKSet(url);
  const results = [];
  for (const t of input.tokens) {
    const opts = {
      algorithms: ['EdDSA'],
      issuer: t.issuer,
      currentDate: input.now ? new Date(input.now * 1000) : undefined,
      typ: 'JWT',
    };
    if (t.audience) opts.audience = t.audience;
    results.push({
      local: await check(t.token, local, opts),
      remote: await check(t.token, remote, opts),
    });
  }
  if (server) server.close();
  return results;
}

async function sign() {
  const { publicKey, privateKey } = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const pem = await jose.exportSPKI(publicKey);
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const kid = createHash('sha256').update(der).digest('hex');
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const token = await new jose.SignJWT(input.claims)
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
    .setIssuedAt(input.now)
    .setNotBefore(input.now)
    .setExpirationTime(input.now + 3600)
    .sign(privateKey);
  return { jwk, token };
}

const out = mode === 'verify' ? await verify() : mode === 'sign' ? await sign() : null;
if (out === null) {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(out));
