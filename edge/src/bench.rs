//! Opt-in benchmark routes (`USSO_BENCH_ROUTES=true`, off by default; never enable them in
//! production): they let `scripts/bench-edge.sh` measure costs inside each runtime (workerd,
//! `wasmtime serve`, native) against baselines of the same runtime, and let the cross-runtime
//! test run the Ed25519 vectors through each runtime's own verification.
//!
//! Timing routes take `POST …?n=N {"token": …}` and answer `{"n": N}` after the same HTTP work,
//! so the difference between `n=1` and `n=K+1` timings is K operations, free of HTTP overhead:
//! - [`VERIFY`]: the full verification (parse, key lookup, signature, claim rules), the
//!   verified-token memo bypassed;
//! - [`VERIFY_CACHED`]: the full verification through the memo (primed before timing);
//! - [`VERIFY_BARE`]: only the runtime's Ed25519 equation (WebCrypto on Workers,
//!   `ed25519-dalek` elsewhere), the signature decoded once;
//! - [`VERIFY_STRICT`]: only `ed25519-dalek`'s `verify_strict` (the portable baseline);
//! - [`VERIFY_DPOP`]: the full verification plus a DPoP proof's (`{"token", "proof", "htu"}`,
//!   the proof for `POST htu`, its signature on the runtime's Ed25519), as a resource route
//!   does for a bound token (the replay record, a hot-store write, excluded).
//!
//! [`ED25519_VECTORS`] takes `{"vectors": [{"pk", "msg", "sig", "alg"?}]}` (hex) and answers
//! `{"results": [bool]}`: for Ed25519 (the default) the whole rule of [`usso_shared::ed25519`]
//! with the runtime's equation; for `"alg": "ES256"` (an uncompressed P-256 point, a JWS
//! `r || s` signature) the runtime's ES256 check, as DPoP proofs get it.

use serde::Deserialize;
use serde_json::json;
use usso_shared::claims::AccessClaims;
use usso_shared::clock::Clock;
use usso_shared::encoding::hex_decode_vec as hex_decode;
use usso_shared::token::{SignatureCheck, UnverifiedToken};
use usso_shared::{dpop, ed25519, Error, ErrorCode, Result};

use crate::core::EdgeCore;
use crate::http::{Request, Response};
use crate::store::HotStore;

/// Full verification (memo bypassed), N times.
pub const VERIFY: &str = "/__bench/verify";
/// Full verification through the verified-token memo, N times.
pub const VERIFY_CACHED: &str = "/__bench/verify-cached";
/// The runtime's Ed25519 equation alone, N times.
pub const VERIFY_BARE: &str = "/__bench/verify-bare";
/// Bare `ed25519-dalek` `verify_strict`, N times.
pub const VERIFY_STRICT: &str = "/__bench/verify-strict";
/// Full verification plus a DPoP proof's, N times.
pub const VERIFY_DPOP: &str = "/__bench/verify-dpop";
/// The Ed25519 rule over posted vectors.
pub const ED25519_VECTORS: &str = "/__bench/ed25519";
/// Every benchmark route.
pub const ROUTES: [&str; 6] = [
    VERIFY,
    VERIFY_CACHED,
    VERIFY_BARE,
    VERIFY_STRICT,
    VERIFY_DPOP,
    ED25519_VECTORS,
];
/// The most iterations one request may ask for.
pub const MAX_ITERATIONS: u32 = 10_000;
/// The most vectors one request may carry.
pub const MAX_VECTORS: usize = 2_000;

impl<S: HotStore, C: Clock, V: SignatureCheck> EdgeCore<S, C, V> {
    pub(crate) async fn bench(&self, req: &Request) -> Result<Response> {
        if req.path == ED25519_VECTORS {
            return self.bench_vectors(req).await;
        }
        #[derive(Deserialize)]
        struct Body {
            token: String,
            #[serde(default)]
            proof: Option<String>,
            #[serde(default)]
            htu: Option<String>,
        }
        let n: u32 = match req.query_param("n") {
            None => 1,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=MAX_ITERATIONS).contains(n))
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::ValidationError,
                        format!("n must be 1..={MAX_ITERATIONS}"),
                    )
                })?,
        };
        let tenant = self.resolve_tenant(req, false).await?;
        let body = req.json::<Body>()?;
        let token = body.token;
        let bad_signature = || Error::invalid_token("bad signature");
        match req.path.as_str() {
            VERIFY | VERIFY_DPOP => {
                let proof = match req.path.as_str() {
                    VERIFY => None,
                    _ => match (body.proof.as_deref(), body.htu.as_deref()) {
                        (Some(proof), Some(htu)) => Some((proof, htu)),
                        _ => {
                            return Err(Error::new(
                                ErrorCode::ValidationError,
                                "`proof` and `htu` are required",
                            ))
                        }
                    },
                };
                for _ in 0..n {
                    self.verify_uncached::<AccessClaims>(
                        &tenant,
                        std::hint::black_box(&token),
                        self.now(),
                    )
                    .await?;
                    if let Some((proof, htu)) = proof {
                        let expect = dpop::Expect {
                            htm: "POST",
                            htu,
                            now: self.now(),
                            access_token: None,
                            nonces: None,
                        };
                        dpop::verify_with(std::hint::black_box(proof), &expect, self.signatures())
                            .await?;
                    }
                }
            }
            VERIFY_CACHED => {
                self.verify::<AccessClaims>(&tenant, &token).await?;
                for _ in 0..n {
                    self.verify::<AccessClaims>(&tenant, std::hint::black_box(&token))
                        .await?;
                }
            }
            _ => {
                let parsed = UnverifiedToken::parse(&token)?;
                let key = tenant
                    .ring
                    .find(parsed.kid(), self.now())
                    .ok_or_else(|| Error::invalid_token("unknown signing key"))?;
                let (input, raw) = parsed.signed().ok_or_else(bad_signature)?;
                let sig = usso_shared::ed25519_dalek::Signature::from_bytes(&raw);
                for _ in 0..n {
                    let ok = if req.path == VERIFY_BARE {
                        self.signatures()
                            .ed25519(key, std::hint::black_box(input), &raw)
                            .await
                    } else {
                        key.verify_strict(std::hint::black_box(input), &sig).is_ok()
                    };
                    if !ok {
                        return Err(bad_signature());
                    }
                }
            }
        }
        Ok(Response::json(200, &json!({ "n": n })))
    }

    async fn bench_vectors(&self, req: &Request) -> Result<Response> {
        #[derive(Deserialize)]
        struct Vector {
            pk: String,
            msg: String,
            sig: String,
            #[serde(default)]
            alg: Option<String>,
        }
        #[derive(Deserialize)]
        struct Body {
            vectors: Vec<Vector>,
        }
        let body: Body = req.json()?;
        if body.vectors.len() > MAX_VECTORS {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!("at most {MAX_VECTORS} vectors"),
            ));
        }
        let mut results = Vec::with_capacity(body.vectors.len());
        for v in &body.vectors {
            let bad = || Error::new(ErrorCode::ValidationError, "vectors are hex");
            let (pk, msg, sig) = (
                hex_decode(&v.pk).ok_or_else(bad)?,
                hex_decode(&v.msg).ok_or_else(bad)?,
                hex_decode(&v.sig).ok_or_else(bad)?,
            );
            if v.alg.as_deref() == Some("ES256") {
                let key = usso_shared::p256::ecdsa::VerifyingKey::from_sec1_bytes(&pk);
                let accepted = match (key, <[u8; 64]>::try_from(sig)) {
                    (Ok(key), Ok(sig)) => self.signatures().es256(&key, &msg, &sig).await,
                    _ => false,
                };
                results.push(accepted);
                continue;
            }
            let accepted = match (<[u8; 32]>::try_from(pk), <[u8; 64]>::try_from(sig)) {
                (Ok(pk), Ok(sig)) => match ed25519::public_key(&pk) {
                    Ok(key) => {
                        ed25519::signature_shape_ok(&sig)
                            && self.signatures().ed25519(&key, &msg, &sig).await
                    }
                    Err(_) => false,
                },
                _ => false,
            };
            results.push(accepted);
        }
        Ok(Response::json(200, &json!({ "results": results })))
    }
}
