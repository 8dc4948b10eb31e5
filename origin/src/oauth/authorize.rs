//! The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2, OAuth 2.1): the
//! request checked, then what the browser's state leads to — a code, the sign-in page, the
//! consent page, or an error sent back to the client.
//!
//! Invariants and the attacks they prevent:
//! - nothing is ever sent to a redirect URI that is not registered for the client, exactly:
//!   until the client and its redirect URI are established, errors are shown on a page of ours
//!   (an open redirector would otherwise leak codes and phish);
//! - only `response_type=code` (no implicit or hybrid: tokens never travel in URLs), PKCE with
//!   `S256` only, required for public clients; `request`/`request_uri` objects are refused;
//! - every answer to the client carries `iss` (RFC 9207), so a client talking to several
//!   providers cannot be fed another provider's code (mix-up);
//! - the browser's sign-in is the site's own session (its access cookie, live session checked),
//!   never a token issued to an OAuth client; `prompt=login` and `max_age` force a fresh sign-in
//!   by sending the browser to the sign-in page with a `login_after` bound, which only a session
//!   started after it meets;
//! - the code carries only what the person holds: permission scopes they lack are dropped, never
//!   granted by consenting.

use usso_shared::claims::AccessClaims;
use usso_shared::{Error, ErrorCode, Result};

use super::clients::{self, Client, GrantType};
use super::code::{self, CodeGrant};
use super::consent;
use super::scopes::{ScopeSet, OPENID};
use crate::app::Ctx;
use crate::tenants::TenantCtx;

/// The parameters of an authorization request, as sent (query or form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeParams {
    /// `response_type`.
    pub response_type: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `max_age`.
    pub max_age: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `acr_values`.
    pub acr_values: Option<String>,
    /// `response_mode`.
    pub response_mode: Option<String>,
    /// `request` (refused).
    pub request: Option<String>,
    /// `request_uri` (refused).
    pub request_uri: Option<String>,
    /// `resource` (RFC 8707).
    pub resource: Option<String>,
    /// Ours: a session must have started at or after this time (set when we send the browser
    /// to sign in again for `prompt=login` or `max_age`).
    pub login_after: Option<String>,
}

/// The names of [`AuthorizeParams`]' fields, in order (the consent form repeats them).
pub const PARAM_NAMES: [&str; 17] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "acr_values",
    "response_mode",
    "request",
    "request_uri",
    "resource",
    "login_after",
];

impl AuthorizeParams {
    /// Reads the parameters with `get(name)`.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            response_type: get("response_type"),
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            scope: get("scope"),
            state: get("state"),
            nonce: get("nonce"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            prompt: get("prompt"),
            max_age: get("max_age"),
            login_hint: get("login_hint"),
            acr_values: get("acr_values"),
            response_mode: get("response_mode"),
            request: get("request"),
            request_uri: get("request_uri"),
            resource: get("resource"),
            login_after: get("login_after"),
        }
    }

    /// The parameters as `(name, value)` pairs, absent ones left out.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let values = [
            &self.response_type,
            &self.client_id,
            &self.redirect_uri,
            &self.scope,
            &self.state,
            &self.nonce,
            &self.code_challenge,
            &self.code_challenge_method,
            &self.prompt,
            &self.max_age,
            &self.login_hint,
            &self.acr_values,
            &self.response_mode,
            &self.request,
            &self.request_uri,
            &self.resource,
            &self.login_after,
        ];
        PARAM_NAMES
            .iter()
            .zip(values)
            .filter_map(|(n, v)| v.clone().map(|v| (*n, v)))
            .collect()
    }
}

/// `prompt` values (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown.
    pub none: bool,
    /// `login`: sign in again.
    pub login: bool,
    /// `consent`: ask again.
    pub consent: bool,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The parameters as sent.
    pub params: AuthorizeParams,
    /// The client.
    pub client: Client,
    /// The redirect URI (registered, exact).
    pub redirect_uri: String,
    /// The scopes asked for (within the client's).
    pub scopes: ScopeSet,
    /// The PKCE challenge.
    pub code_challenge: Option<String>,
    /// The prompt.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// Ours: the earliest acceptable sign-in.
    pub login_after: Option<i64>,
    /// The resource server the tokens are for (RFC 8707), if not the tenant's own.
    pub resource: Option<String>,
}

/// Why a request was refused, and where the answer goes.
#[derive(Debug)]
pub enum Refused {
    /// The client or its redirect URI is not established: show the error on a page.
    Page(Error),
    /// Send the error to the client's redirect URI.
    Redirect(String),
}

/// The tenant's issuer (the `iss` of authorization responses).
pub fn issuer(tc: &TenantCtx) -> &str {
    &tc.state.config.issuer
}

/// `redirect_uri` with the response parameters appended (and `iss`, RFC 9207).
pub fn response_url(redirect_uri: &str, iss: &str, pairs: &[(&str, &str)]) -> Result<String> {
    let mut u = url::Url::parse(redirect_uri)
        .map_err(|_| Error::internal("a registered redirect URI does not parse"))?;
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        q.append_pair("iss", iss);
    }
    Ok(u.into())
}

/// The error response for the client (RFC 6749 §4.1.2.1).
pub fn error_url(redirect_uri: &str, iss: &str, state: Option<&str>, e: &Error) -> Result<String> {
    let mut pairs = vec![
        ("error", e.code().oauth_error()),
        ("error_description", e.detail()),
    ];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    response_url(redirect_uri, iss, &pairs)
}

fn bad(code: ErrorCode, detail: &str) -> Error {
    Error::new(code, detail)
}

/// Checks an authorization request (the order of RFC 6749 §4.1.2.1: client and redirect URI
/// first, shown on a page; then everything else, sent back to the client).
pub async fn check(
    ctx: &Ctx,
    tc: &TenantCtx,
    params: AuthorizeParams,
) -> std::result::Result<Checked, Refused> {
    let page = |code: ErrorCode, d: &str| Refused::Page(bad(code, d));
    let Some(client_id) = params.client_id.as_deref() else {
        return Err(page(ErrorCode::BadRequest, "client_id is missing"));
    };
    let client = match clients::resolve(ctx, &tc.tenant, client_id).await {
        Ok(c) if c.is_active => c,
        Ok(_) => return Err(page(ErrorCode::InvalidClient, "the client is deactivated")),
        Err(e) => return Err(Refused::Page(e)),
    };
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(r) if client.redirect_uris.iter().any(|u| u == r) => r.to_owned(),
        Some(_) => {
            return Err(page(
                ErrorCode::BadRequest,
                "redirect_uri is not registered for this client",
            ))
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(page(ErrorCode::BadRequest, "redirect_uri is missing")),
    };
    let iss = issuer(tc).to_owned();
    let state = params.state.clone();
    let send = |e: Error| match error_url(&redirect_uri, &iss, state.as_deref(), &e) {
        Ok(u) => Refused::Redirect(u),
        Err(e) => Refused::Page(e),
    };
    let rest = || -> Result<Checked> {
        match params.response_type.as_deref() {
            Some("code") => {}
            None => return Err(bad(ErrorCode::BadRequest, "response_type is missing")),
            Some(_) => return Err(bad(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code (implicit and hybrid flows are not offered: OAuth 2.1)",
            )),
        }
        if params
            .response_mode
            .as_deref()
            .is_some_and(|m| m != "query")
        {
            return Err(bad(ErrorCode::BadRequest, "only response_mode=query"));
        }
        if params.request.is_some() || params.request_uri.is_some() {
            return Err(bad(
                ErrorCode::BadRequest,
                "request objects are not supported (request_not_supported)",
            ));
        }
        if !client.allows(GrantType::AuthorizationCode) {
            return Err(bad(
                ErrorCode::UnauthorizedClient,
                "this client may not use the authorization code grant",
            ));
        }
        let scopes = ScopeSet::parse(params.scope.as_deref())?;
        scopes.within_client(&client.scopes)?;
        let code_challenge = match (
            params.code_challenge.as_deref(),
            params.code_challenge_method.as_deref(),
        ) {
            (Some(c), Some("S256")) if code::valid_challenge(c) => Some(c.to_owned()),
            (Some(_), Some("S256")) => {
                return Err(bad(ErrorCode::BadRequest, "code_challenge is malformed"))
            }
            (Some(_), Some(_)) | (Some(_), None) => {
                return Err(bad(
                    ErrorCode::BadRequest,
                    "code_challenge_method must be S256 (plain is refused)",
                ))
            }
            (None, Some(_)) => return Err(bad(ErrorCode::BadRequest, "code_challenge is missing")),
            (None, None) if client.is_public() => {
                return Err(bad(
                    ErrorCode::BadRequest,
                    "PKCE is required for public clients (code_challenge with S256)",
                ))
            }
            (None, None) => None,
        };
        let mut prompt = Prompt::default();
        for p in params.prompt.as_deref().unwrap_or_default().split(' ') {
            match p {
                "" | "select_account" => {}
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                _ => return Err(bad(ErrorCode::BadRequest, "unknown prompt value")),
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(bad(
                ErrorCode::BadRequest,
                "prompt=none cannot be combined with other values",
            ));
        }
        let max_age = match params.max_age.as_deref() {
            None => None,
            Some(m) => Some(m.parse::<i64>().ok().filter(|m| *m >= 0).ok_or_else(|| {
                bad(ErrorCode::BadRequest, "max_age must be a number of seconds")
            })?),
        };
        let resource = super::resource::resolve(tc, params.resource.as_deref())?;
        if scopes.has(OPENID) && params.nonce.as_deref().is_some_and(|n| n.len() > 512) {
            return Err(bad(ErrorCode::BadRequest, "nonce is too long"));
        }
        if params.state.as_deref().is_some_and(|s| s.len() > 2048) {
            return Err(bad(ErrorCode::BadRequest, "state is too long"));
        }
        let login_after = params.login_after.as_deref().and_then(|v| v.parse().ok());
        Ok(Checked {
            params: params.clone(),
            client: client.clone(),
            redirect_uri: redirect_uri.clone(),
            scopes,
            code_challenge,
            prompt,
            max_age,
            login_after,
            resource,
        })
    };
    rest().map_err(send)
}

/// The browser's own sign-in, if any.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The site session's access-token claims (never an OAuth client's token).
    pub claims: AccessClaims,
    /// When that session started.
    pub auth_time: i64,
}

/// What an authorization request leads to.
#[derive(Debug)]
pub enum Next {
    /// Send the browser to the client (a code, or an error).
    Redirect(String),
    /// Send the browser to the sign-in page, coming back to this request.
    SignIn {
        /// The request to come back to (with `prompt=login` dropped and a `login_after`).
        back: Box<AuthorizeParams>,
    },
    /// Ask the person.
    Consent {
        /// The scopes they would grant.
        scopes: ScopeSet,
    },
}

/// Decides what `c` leads to for the browser `who`; `approved` when the person has just
/// approved on the consent page.
pub async fn decide(
    ctx: &Ctx,
    tc: &TenantCtx,
    c: &Checked,
    who: Option<&SignedIn>,
    approved: bool,
) -> Result<Next> {
    let now = ctx.now();
    let iss = issuer(tc);
    let fail = |e: Error| -> Result<Next> {
        Ok(Next::Redirect(error_url(
            &c.redirect_uri,
            iss,
            c.params.state.as_deref(),
            &e,
        )?))
    };
    let fresh_enough = |s: &SignedIn| {
        c.login_after.is_none_or(|t| s.auth_time >= t)
            && c.max_age.is_none_or(|m| now - s.auth_time <= m)
    };
    let sign_in_again = || {
        let mut back = c.params.clone();
        back.prompt = back.prompt.as_deref().and_then(|p| {
            let kept: Vec<&str> = p.split(' ').filter(|v| *v != "login").collect();
            (!kept.is_empty()).then(|| kept.join(" "))
        });
        back.login_after = Some(now.to_string());
        Next::SignIn {
            back: Box::new(back),
        }
    };
    let Some(s) = who else {
        if c.prompt.none {
            return fail(bad(ErrorCode::LoginRequired, "nobody is signed in"));
        }
        return Ok(sign_in_again());
    };
    if !fresh_enough(s) || (c.prompt.login && c.login_after.is_none()) {
        if c.prompt.none {
            return fail(bad(ErrorCode::LoginRequired, "a fresh sign-in is required"));
        }
        return Ok(sign_in_again());
    }
    let Some(user_id) = s.claims.user_id.clone() else {
        return fail(bad(ErrorCode::AccessDenied, "not a person's session"));
    };
    let scopes = c.scopes.held_by(&s.claims.scopes);
    let needs_consent = !c.client.skip_consent
        && !approved
        && (c.prompt.consent
            || !consent::covers(
                &ctx.docs,
                tc.tenant.id(),
                &user_id,
                &c.client.client_id,
                &scopes.0,
            )
            .await?);
    if needs_consent {
        if c.prompt.none {
            return fail(bad(
                ErrorCode::ConsentRequired,
                "the person has not consented",
            ));
        }
        return Ok(Next::Consent { scopes });
    }
    let grant = CodeGrant {
        client_id: c.client.client_id.clone(),
        redirect_uri: c.redirect_uri.clone(),
        code_challenge: c.code_challenge.clone(),
        user_id,
        scope: scopes.0,
        nonce: c.params.nonce.clone(),
        auth_time: s.auth_time,
        amr: s.claims.amr.clone(),
        acr: s.claims.acr.clone(),
        expires_at: now + code::CODE_TTL_SECS,
        resource: c.resource.clone(),
    };
    let code = code::issue(&ctx.hot, tc.tenant.id(), &grant, now).await?;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(st) = c.params.state.as_deref() {
        pairs.push(("state", st));
    }
    Ok(Next::Redirect(response_url(&c.redirect_uri, iss, &pairs)?))
}
