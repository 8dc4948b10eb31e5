// Benchmark-only entry module for workerd (scripts/bench-edge.sh bundles it with esbuild):
// the same isolate as the Rust Worker, whose requests it passes on unchanged, plus two routes
// that time what a Workers developer would write in JavaScript instead, so that the Rust
// verification is compared with them in the same isolate and the same run:
//   POST /__jsbench/jose?n=N       {"token", "jwks", "issuer"}  jose's jwtVerify, N times
//   POST /__jsbench/webcrypto?n=N  {"token", "jwks"}            crypto.subtle.verify alone, N times
// Timing is done by the caller ((latency at n=K+1 - latency at n=1) / K): workerd does not
// advance clocks during execution.
import { WorkerEntrypoint } from "cloudflare:workers";
import RustWorker from "./index.js";
import { createLocalJWKSet, jwtVerify } from "jose";
import * as nodeCrypto from "node:crypto";

const jwkSets = new Map(); // JWKS text -> jose key set (imports each key once per isolate)
const rawKeys = new Map(); // kid -> CryptoKey

function b64url(s) {
  return Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
}

async function run(path, n, body) {
  const { token, jwks } = body;
  if (path === "/__jsbench/jose") {
    const text = JSON.stringify(jwks);
    if (!jwkSets.has(text)) jwkSets.set(text, createLocalJWKSet(jwks));
    const keys = jwkSets.get(text);
    for (let i = 0; i < n; i++) {
      await jwtVerify(token, keys, { issuer: body.issuer, algorithms: ["EdDSA"] });
    }
    return true;
  }
  if (path === "/__jsbench/webcrypto") {
    const [h, p, s] = token.split(".");
    const kid = JSON.parse(new TextDecoder().decode(b64url(h))).kid;
    if (!rawKeys.has(kid)) {
      const jwk = jwks.keys.find((k) => k.kid === kid);
      rawKeys.set(kid, await crypto.subtle.importKey("raw", b64url(jwk.x), "Ed25519", false, ["verify"]));
    }
    const key = rawKeys.get(kid);
    const data = new TextEncoder().encode(`${h}.${p}`);
    const sig = b64url(s);
    for (let i = 0; i < n; i++) {
      if (!(await crypto.subtle.verify("Ed25519", key, sig, data))) return false;
    }
    return true;
  }
  if (path === "/__jsbench/node") {
    const [h, p, s] = token.split(".");
    const kid = JSON.parse(new TextDecoder().decode(b64url(h))).kid;
    const jwk = jwks.keys.find((k) => k.kid === kid);
    const key = nodeCrypto.createPublicKey({ key: jwk, format: "jwk" });
    const data = new TextEncoder().encode(`${h}.${p}`);
    const sig = b64url(s);
    for (let i = 0; i < n; i++) {
      if (!nodeCrypto.verify(null, data, key, sig)) return false;
    }
    return true;
  }
  return null;
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    if (!url.pathname.startsWith("/__jsbench/")) {
      return new RustWorker(this.ctx, this.env).fetch(request);
    }
    const n = Number(url.searchParams.get("n") || "1");
    try {
      const ok = await run(url.pathname, n, await request.json());
      if (ok === null) return new Response("not found", { status: 404 });
      return Response.json(ok ? { n } : { error: "bad signature" }, { status: ok ? 200 : 401 });
    } catch (e) {
      return Response.json({ error: String(e) }, { status: 401 });
    }
  }
}
