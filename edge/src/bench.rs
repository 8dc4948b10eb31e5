//! Opt-in benchmark routes (`USSO_BENCH_ROUTES=true`, off by default; never enable them in
//! production): they let `scripts/bench-edge.sh` measure, inside each runtime (workerd,
//! `wasmtime serve`, native), the cost of a full access-token verification against a bare
//! Ed25519 `verify_strict` of the same signing input, the baseline of the same runtime.
//!
//! `POST /__bench/verify?n=N {"token": …}` runs the full verification (parse, key lookup,
//! signature, claim rules) N times; `POST /__bench/verify-strict?n=N` decodes the token once and
//! runs only `verify_strict` N times. Both answer `{"n": N}` after the same HTTP work, so the
//! difference between `n=1` and `n=K+1` timings is K verifications, free of HTTP overhead.

use serde::Deserialize;
use serde_json::json;
use usso_shared::claims::AccessClaims;
use usso_shared::clock::Clock;
use usso_shared::token::{signing_parts, Ed25519Check, UnverifiedToken};
use usso_shared::{Error, ErrorCode, Result};

use crate::core::EdgeCore;
use crate::http::{Request, Response};
use crate::store::HotStore;

/// Full verification, N times.
pub const VERIFY: &str = "/__bench/verify";
/// Bare `verify_strict`, N times.
pub const VERIFY_STRICT: &str = "/__bench/verify-strict";
/// The most iterations one request may ask for.
pub const MAX_ITERATIONS: u32 = 10_000;

impl<S: HotStore, C: Clock, V: Ed25519Check> EdgeCore<S, C, V> {
    pub(crate) async fn bench(&self, req: &Request) -> Result<Response> {
        #[derive(Deserialize)]
        struct Body {
            token: String,
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
        let token = req.json::<Body>()?.token;
        if req.path == VERIFY {
            for _ in 0..n {
                self.verify::<AccessClaims>(&tenant, std::hint::black_box(&token))
                    .await?;
            }
        } else {
            let kid = UnverifiedToken::parse(&token)?.kid().to_owned();
            let key = tenant
                .ring
                .find(&kid, self.now())
                .ok_or_else(|| Error::invalid_token("unknown signing key"))?;
            let (input, sig) = signing_parts(&token)
                .ok_or_else(|| Error::invalid_token("malformed token: bad signature"))?;
            for _ in 0..n {
                key.verify_strict(std::hint::black_box(input.as_bytes()), &sig)
                    .map_err(|_| Error::invalid_token("bad signature"))?;
            }
        }
        Ok(Response::json(200, &json!({ "n": n })))
    }
}
