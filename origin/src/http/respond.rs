//! Outcomes into responses: a started session becomes the token response with its cookies, a
//! second step its challenge body. The domain never builds a response.

use usso_edge::http::Response;
use usso_edge::issue;

use super::dto;
use crate::sessions::start::Started;
use crate::tenants::TenantCtx;

/// The answer to a sign-in.
pub fn started(tc: &TenantCtx, started: Started) -> Response {
    match started {
        Started::Session(s) => {
            let cfg = &tc.state.config;
            issue::token_response(cfg, &s.pair, &s.user).with_header(
                "set-cookie",
                issue::cookie(
                    cfg,
                    crate::authn::known_device::COOKIE,
                    &s.device,
                    crate::authn::known_device::PATH,
                    crate::authn::known_device::LIFETIME_SECS,
                    "Strict",
                ),
            )
        }
        Started::SecondStep(c) => Response::json(200, &dto::SecondStepRequired::from(c))
            .with_header("cache-control", "no-store"),
    }
}

/// A 303 to `url` carrying the cookies of `res` (a magic link with an allowed redirect).
pub fn redirect_with_cookies(url: String, res: Response) -> Response {
    let mut redirect = Response {
        status: 303,
        headers: vec![
            ("location".into(), url),
            ("cache-control".into(), "no-store".into()),
        ],
        body: Vec::new(),
    };
    redirect.headers.extend(
        res.headers
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie")),
    );
    redirect
}
