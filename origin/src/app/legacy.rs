//! The origin's application state and its own routes (login, register, me, sessions, health);
//! the token routes are the edge core's, mounted as they are.

use std::sync::Arc;

use serde_json::{json, Value};
use usso_edge::http::{Request, Response};
use usso_edge::issue;
use usso_edge::{EdgeCore, TenantState};
use usso_shared::claims::AccessClaims;
use usso_shared::clock::{Clock, SystemClock};
use usso_shared::rotation::REASON_LOGOUT;
use usso_shared::seal::SecretKey;
use usso_shared::{random, scope, Error, ErrorCode, Result};

use crate::authn::{self, Amr, Authenticated, Gate, SecondStep};
use crate::store::docs::{Docs, DocumentStore};
use crate::store::hot::{counter, Hot, OriginHot};
use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::http::openapi::LoginRequest;
use crate::authn::codes;
use crate::delivery::outbox::Message;
use crate::authn::hasher::{Hasher, PasswordPolicy, Verdict, MAX_PASSWORD_BYTES};
use crate::tenants::{self, Tenant};
use crate::identity::users::{self, Found, User};
use usso_edge::HotStore;

/// The resource of the session-management scopes: fully qualified, so `read:usso/sessions`,
/// `read:sessions` (a suffix, per the USSO grammar) and `read:*` grant it, while a scope of
/// another service that happens to end in `sessions` (`read:billing/sessions`) does not.
pub const SESSIONS_RESOURCE: &str = "usso/sessions";

/// Why a session was revoked when someone proved control of an unverified identifier.
pub const REASON_ACCOUNT_CLAIMED: &str = "account_claimed";

/// Collection of audit events.
pub const AUDIT: &str = "audit";

/// Everything a request handler needs.
pub struct App {
    /// Document store.
    pub docs: Docs,
    /// Hot store.
    pub hot: Hot,
    /// The edge core over the same hot store.
    pub core: EdgeCore<Hot, SystemClock>,
    /// Password hashing pool.
    pub hasher: Hasher,
    /// Master key.
    pub master: SecretKey,
    /// Trusted reverse proxies in front of the origin ([`crate::http::client_addr`]).
    pub proxy_hops: u8,
    /// Longest wait for a request body ([`crate::http::serve::Limits`]).
    pub body_timeout: std::time::Duration,
    /// Durable delivery of codes and links.
    pub outbox: Arc<Outbox>,
}

/// The origin's outbox type.
pub type Outbox =
    crate::delivery::outbox::Outbox<Docs, crate::delivery::channels::MailChannel, crate::delivery::channels::SmsChannel>;

/// Shared handle.
pub type AppRef = Arc<App>;

impl App {
    /// One-time codes under a tenant's policy.
    fn codes<'a>(&'a self, policy: &'a codes::OtpPolicy) -> codes::Codes<'a, Hot> {
        codes::Codes {
            hot: &self.hot,
            master: &self.master,
            policy,
        }
    }

    /// Current time.
    pub fn now(&self) -> i64 {
        SystemClock.now()
    }

    /// The client address of a request, as the HTTP layer resolved it behind the trusted
    /// proxies ([`crate::http::client_addr`]).
    pub fn client_ip(&self, req: &Request) -> String {
        req.client_ip.clone().unwrap_or_else(|| "unknown".into())
    }

    /// Resolves the tenant (and its token state) of a request, reloading stale key state.
    async fn tenant_of(&self, req: &Request) -> Result<(Tenant, Arc<TenantState>)> {
        let state = self.core.resolve_tenant(req, false).await?;
        let t = tenants::load(&self.docs, &state.config.tenant_id)
            .await?
            .filter(|t| t.tokens.is_active)
            .ok_or_else(|| Error::new(ErrorCode::TenantNotFound, "tenant not found or inactive"))?;
        // A key rotation (`key rotate`, another process) takes effect for signing at once.
        let state = self.core.current_tenant(&state).await?;
        Ok((t, state))
    }

    /// Records an audit event (failures are logged, never fail the request).
    pub async fn audit(&self, tenant: &str, event: &str, req: Option<&Request>, detail: Value) {
        let now = self.now();
        let id = format!(
            "{:013}-{}",
            chrono::Utc::now().timestamp_millis(),
            random::hex_id().unwrap_or_default()
        );
        let body = json!({
            "event": event,
            "tenant_id": tenant,
            "at": now,
            "ip": req.map(|r| self.client_ip(r)),
            "user_agent": req.and_then(|r| r.header("user-agent")).map(|s| s.chars().take(256).collect::<String>()),
            "detail": detail,
        });
        tracing::info!(target: "audit", event, tenant, %detail);
        if let Err(e) = self.docs.insert(AUDIT, tenant, &id, body).await {
            tracing::error!(error = %e, event, "audit write failed");
        }
    }

    /// `POST /auth/login` and (with `registering`) `POST /auth/register`.
    pub async fn login(&self, req: &Request, registering: bool) -> Result<Response> {
        let (t, state) = self.tenant_of(req).await?;
        usso_edge::csrf::same_site(req, &t.tokens)?;
        let body: LoginRequest = req.json()?;
        let solved = self.captcha_guard(&t, "login", req).await?;
        match body.method.as_deref() {
            None
            | Some("password")
            | Some("email/password")
            | Some("phone/password")
            | Some("username/password") => {}
            Some(m @ ("email/otp" | "phone/otp")) => {
                return self
                    .login_with_code(req, &t, &state, &body, m, solved)
                    .await;
            }
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "unknown login method",
                ))
            }
        }
        if body.secret.len() > MAX_PASSWORD_BYTES {
            return Err(Error::new(ErrorCode::ValidationError, "secret is too long"));
        }
        let ident = if body.identifier.trim() == crate::app::bootstrap::SYSTEM_USER
            && t.id() == tenants::DEFAULT_TENANT
            && !registering
        {
            Identifier {
                kind: crate::identity::identifier::IdentifierKind::Username,
                value: crate::app::bootstrap::SYSTEM_USER.into(),
            }
        } else {
            Identifier::parse(&body.identifier, body.kind.as_deref())?
        };
        let now = self.now();
        let [pair_key, id_key] = self.count_login(&t, &ident, req, solved, now).await?;

        let found = users::find_for_sign_in(&self.docs, t.id(), &ident).await?;
        let Found {
            mut user,
            version,
            verified,
        } = match found {
            Some(_) if registering => {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    "this identifier is already registered",
                ));
            }
            Some(f) => f,
            None if registering || body.register => {
                if !t.registration_enabled {
                    return Err(Error::new(
                        ErrorCode::PermissionDenied,
                        "registration is closed for this tenant",
                    ));
                }
                authn::can_register(&t, &ident, true)?;
                let user = self.register(&t, &ident, &body, req).await?;
                self.hot.clear(&[pair_key, id_key]).await?;
                let auth = Authenticated {
                    user,
                    amr: vec![Amr::Password],
                    identifier_verified: false,
                };
                return self.complete(&t, &state, auth, req).await;
            }
            None => {
                // Same work as a real check, so timing does not tell whether the account exists.
                self.hasher.verify(&body.secret, None).await?;
                self.audit(
                    t.id(),
                    "login_failed",
                    Some(req),
                    json!({"identifier": ident.key(), "reason": "unknown"}),
                )
                .await;
                return Err(Error::new(
                    ErrorCode::InvalidCredentials,
                    "wrong identifier or password",
                ));
            }
        };
        match self
            .hasher
            .verify(&body.secret, user.password_hash.as_deref())
            .await?
        {
            Verdict::Invalid => {
                self.audit(
                    t.id(),
                    "login_failed",
                    Some(req),
                    json!({"user_id": user.id, "reason": "password"}),
                )
                .await;
                Err(Error::new(
                    ErrorCode::InvalidCredentials,
                    "wrong identifier or password",
                ))
            }
            Verdict::Valid { needs_rehash } => {
                let auth = Authenticated {
                    user: user.clone(),
                    amr: vec![Amr::Password],
                    identifier_verified: verified,
                };
                // With a second step still to come, the attempt counters stay: a stolen
                // password must not buy unlimited fresh codes to guess.
                if matches!(authn::gate(&t, &auth)?, Gate::Issue) {
                    self.hot.clear(&[pair_key, id_key]).await?;
                }
                if needs_rehash {
                    user.password_hash = Some(self.hasher.hash(&body.secret).await?);
                }
                user.last_login_at = Some(now);
                user.updated_at = now;
                if let Err(e) = users::update(&self.docs, &user, version).await {
                    // A concurrent change wins; the login itself stands.
                    tracing::debug!(error = %e, "last-login update skipped");
                }
                let auth = Authenticated { user, ..auth };
                self.complete(&t, &state, auth, req).await
            }
        }
    }

    /// `POST /auth/request-otp`: a one-time code by email or SMS. The answer is the same
    /// whether or not the identifier has an account, and takes the same work.
    pub async fn request_otp(&self, req: &Request) -> Result<Response> {
        #[derive(serde::Deserialize)]
        struct Body {
            identifier: String,
            #[serde(default, rename = "type")]
            kind: Option<String>,
            #[serde(default)]
            channel_type: Option<String>,
        }
        let (t, _state) = self.tenant_of(req).await?;
        let body: Body = req.json()?;
        let ident = Identifier::parse(&body.identifier, body.kind.as_deref())?;
        let channel = match (body.channel_type.as_deref(), ident.kind) {
            (None | Some("email"), IdentifierKind::Email) => "email",
            (None | Some("sms"), IdentifierKind::Phone) => "sms",
            (None, IdentifierKind::Username) => {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "codes go to an email address or a phone number",
                ))
            }
            (Some(c), _) if c == "email" || c == "sms" => {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    format!("channel_type {c} does not fit this identifier"),
                ))
            }
            (Some(_), _) => {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "channel_type must be email or sms",
                ))
            }
        };
        let now = self.now();
        self.captcha_guard(&t, "otp", req).await?;
        self.limit_requests(&t, "otp", &ident, req, now).await?;
        let known = users::holds_active(&self.docs, t.id(), &ident).await?;
        // Unknown identifiers get a code too when they may register with it; otherwise the
        // same work is done and the message is not delivered.
        let deliver = known || t.registration_enabled;
        let code = self
            .codes(&t.otp)
            .issue(t.id(), &ident.key(), codes::Purpose::Login, now)
            .await?;
        self.send_code(&t, &ident, channel, &code, deliver, now)
            .await?;
        self.audit(
            t.id(),
            "otp_requested",
            Some(req),
            json!({"identifier": ident.key(), "channel": channel}),
        )
        .await;
        Ok(Response::json(
            200,
            &json!({
                "detail": "If this identifier can receive codes, one is on its way.",
                "channel": channel,
                "expires_in": t.otp.ttl_secs,
            }),
        )
        .with_header("cache-control", "no-store"))
    }

    /// Login (or, with `register`, registration) with a one-time code as `secret`.
    async fn login_with_code(
        &self,
        req: &Request,
        t: &Tenant,
        state: &Arc<TenantState>,
        body: &LoginRequest,
        method: &str,
        captcha_solved: bool,
    ) -> Result<Response> {
        let kind = if method == "email/otp" {
            "email"
        } else {
            "phone"
        };
        let ident = Identifier::parse(&body.identifier, Some(kind))?;
        if body.secret.len() > 32 {
            return Err(Error::new(ErrorCode::ValidationError, "secret is too long"));
        }
        let now = self.now();
        let [pair_key, id_key] = self
            .count_login(t, &ident, req, captcha_solved, now)
            .await?;
        if let Err(e) = self
            .codes(&t.otp)
            .check(t.id(), &ident.key(), codes::Purpose::Login, &body.secret, now)
            .await
        {
            self.audit(
                t.id(),
                "login_failed",
                Some(req),
                json!({"identifier": ident.key(), "reason": "otp"}),
            )
            .await;
            return Err(e);
        }
        self.hot.clear(&[pair_key, id_key]).await?;
        let amr = Amr::code_for(ident.kind);
        match users::find_for_sign_in(&self.docs, t.id(), &ident).await? {
            Some(found) => {
                let mut user = self.claim_identifier(t, found, &ident, req).await?;
                if let Some((mut fresh, version)) = users::get(&self.docs, t.id(), &user.id).await?
                {
                    fresh.last_login_at = Some(now);
                    fresh.updated_at = now;
                    match users::update(&self.docs, &fresh, version).await {
                        Ok(_) => user = fresh,
                        Err(e) => tracing::debug!(error = %e, "last-login update skipped"),
                    }
                }
                let auth = Authenticated {
                    user,
                    amr: vec![amr],
                    identifier_verified: true,
                };
                self.complete(t, state, auth, req).await
            }
            None if body.register && t.registration_enabled => {
                authn::can_register(t, &ident, false)?;
                let mut user = User::new(t.id(), &ident, None, now)?;
                user.last_login_at = Some(now);
                users::create(&self.docs, &user, &ident, true).await?;
                self.audit(
                    t.id(),
                    "register",
                    Some(req),
                    json!({"user_id": user.id, "identifier": ident.key(), "method": method}),
                )
                .await;
                let auth = Authenticated {
                    user,
                    amr: vec![amr],
                    identifier_verified: true,
                };
                self.complete(t, state, auth, req).await
            }
            None => Err(Error::new(
                ErrorCode::InvalidCredentials,
                "no account for this identifier; log in with register: true to create one",
            )),
        }
    }

    /// Someone just proved control of `ident` by a code or link alone (no password). If the
    /// identifier was not proven before, whoever set the account up did not show they own it:
    /// the identifier becomes verified, a password set without that proof stops working, and
    /// every existing session of the account ends (the pre-hijacking defence). Both events are
    /// audited. Returns the account as it stands afterwards.
    async fn claim_identifier(
        &self,
        t: &Tenant,
        found: Found,
        ident: &Identifier,
        req: &Request,
    ) -> Result<User> {
        let Found { user, verified, .. } = found;
        if !user.is_active {
            return Err(Error::new(
                ErrorCode::PermissionDenied,
                "this account is disabled",
            ));
        }
        if verified || !self.verify_identifier(t, ident, &user.id, req).await? {
            return Ok(user);
        }
        let now = self.now();
        let (mut fresh, mut version) = users::get(&self.docs, t.id(), &user.id)
            .await?
            .ok_or_else(|| Error::internal("user vanished while signing in"))?;
        let had_password = fresh.password_hash.is_some();
        if had_password {
            // Compare-and-set, retried: a concurrent last-login update must not restore it.
            loop {
                fresh.password_hash = None;
                fresh.updated_at = now;
                match users::update(&self.docs, &fresh, version).await {
                    Ok(_) => break,
                    Err(e) if e.code() == ErrorCode::Conflict => {
                        (fresh, version) = users::get(&self.docs, t.id(), &user.id)
                            .await?
                            .ok_or_else(|| Error::internal("user vanished while signing in"))?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let revoked = crate::store::hot::revoke_all(
            &self.hot,
            t.id(),
            &fresh.subject(),
            REASON_ACCOUNT_CLAIMED,
            now,
        )
        .await?;
        self.audit(
            t.id(),
            "unverified_account_claimed",
            Some(req),
            json!({"user_id": fresh.id, "identifier": ident.key(), "password_removed": had_password, "sessions_revoked": revoked}),
        )
        .await;
        Ok(fresh)
    }

    /// Marks `ident` of `user_id` proven and audits it; whether it was unproven before.
    async fn verify_identifier(
        &self,
        t: &Tenant,
        ident: &Identifier,
        user_id: &str,
        req: &Request,
    ) -> Result<bool> {
        let changed = users::mark_verified(&self.docs, t.id(), ident, user_id).await?;
        if changed {
            self.audit(
                t.id(),
                "identifier_verified",
                Some(req),
                json!({"user_id": user_id, "identifier": ident.key()}),
            )
            .await;
        }
        Ok(changed)
    }

    /// `GET /captcha/challenge`: an Altcha-compatible proof-of-work challenge.
    pub fn captcha_challenge(&self) -> Result<Response> {
        let cfg = crate::authn::captcha::CaptchaConfig::from_master(&self.master);
        let challenge = crate::authn::captcha::create_challenge(&cfg, self.now())?;
        Ok(Response::json(200, &challenge).with_header("cache-control", "no-store"))
    }

    /// Requires a solved challenge on `route` when the tenant asks for one (the payload in the
    /// `X-Altcha` header or the body's `altcha` field); whether a solution was verified.
    async fn captcha_guard(&self, t: &Tenant, route: &str, req: &Request) -> Result<bool> {
        if !t.captcha.iter().any(|r| r == route) {
            return Ok(false);
        }
        if self.captcha_solved(req).await? {
            return Ok(true);
        }
        Err(Error::new(
            ErrorCode::ValidationError,
            "captcha required: solve GET /api/sso/v1/captcha/challenge and send the payload as `altcha`",
        ))
    }

    /// Verifies the captcha solution a request carries (`X-Altcha` header or body `altcha`);
    /// `false` when it carries none. Each solution works once; a bad or reused one is an error.
    async fn captcha_solved(&self, req: &Request) -> Result<bool> {
        let Some(payload) = req.header("x-altcha").map(str::to_owned).or_else(|| {
            serde_json::from_slice::<Value>(&req.body)
                .ok()?
                .get("altcha")?
                .as_str()
                .map(str::to_owned)
        }) else {
            return Ok(false);
        };
        let now = self.now();
        let cfg = crate::authn::captcha::CaptchaConfig::from_master(&self.master);
        let verified = crate::authn::captcha::verify_solution(&cfg, &payload, now)?;
        let (uses, _) = self
            .hot
            .hit(
                &verified.replay_key(),
                verified.replay_ttl_secs(now).max(1) as i64,
                now,
            )
            .await?;
        if uses > 1 {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "this captcha solution was already used",
            ));
        }
        Ok(true)
    }

    /// Whether the request's known-device cookie belongs to the account `ident` names (two
    /// store reads; only asked past the per-identifier limit).
    async fn known_device(
        &self,
        t: &Tenant,
        ident: &Identifier,
        req: &Request,
        now: i64,
    ) -> Result<bool> {
        let Some(token) = req.cookie(crate::authn::known_device::COOKIE) else {
            return Ok(false);
        };
        Ok(users::find_by_identifier(&self.docs, t.id(), ident)
            .await?
            .is_some_and(|(u, _)| {
                crate::authn::known_device::check(&self.master, t.id(), &u.id, token, now)
            }))
    }

    /// `POST /auth/request-magic-link`: mails a single-use sign-in link (same answer whether or
    /// not the address has an account).
    pub async fn request_magic_link(&self, req: &Request) -> Result<Response> {
        #[derive(serde::Deserialize)]
        struct Body {
            identifier: String,
            #[serde(default)]
            redirect_to: Option<String>,
        }
        let (t, _state) = self.tenant_of(req).await?;
        let body: Body = req.json()?;
        self.captcha_guard(&t, "magic_link", req).await?;
        let ident = Identifier::parse(&body.identifier, Some("email"))?;
        if let Some(r) = &body.redirect_to {
            if !crate::authn::magic_link::redirect_allowed(r, &t.allowed_redirects) {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "redirect_to is not an allowed URL for this tenant",
                ));
            }
        }
        let now = self.now();
        self.limit_requests(&t, "ml", &ident, req, now).await?;
        let known = users::holds_active(&self.docs, t.id(), &ident).await?;
        let deliver = known || t.registration_enabled;
        let token = crate::authn::magic_link::new_token()?;
        let link = crate::authn::magic_link::Link {
            identifier: ident.key(),
            redirect: body.redirect_to.clone(),
            expires_at: now + t.magic_link_ttl_secs,
        };
        crate::authn::magic_link::store(&self.hot, t.id(), &token, &link, t.magic_link_ttl_secs, now)
            .await?;
        let url = format!(
            "{}/api/sso/v1/auth/magic-link?token={token}",
            t.tokens.issuer.trim_end_matches('/')
        );
        let minutes = (t.magic_link_ttl_secs as u64).div_ceil(60);
        let email = t
            .templates
            .render_magic_link_email(&ident.value, &t.name, &url, minutes);
        crate::delivery::outbox::enqueue(
            &self.docs,
            &self.master,
            t.id(),
            &Message::Email(email),
            now,
            deliver,
        )
        .await?;
        self.outbox.wake();
        self.audit(
            t.id(),
            "magic_link_requested",
            Some(req),
            json!({"identifier": ident.key()}),
        )
        .await;
        Ok(Response::json(
            200,
            &json!({
                "detail": "If this address can sign in, a link is on its way.",
                "expires_in": t.magic_link_ttl_secs,
            }),
        )
        .with_header("cache-control", "no-store"))
    }

    /// `GET /auth/magic-link?token=…`: a confirmation page. It never signs in or consumes the
    /// link (mail scanners open links); its button POSTs.
    pub async fn magic_link_page(&self, req: &Request) -> Result<Response> {
        let (t, _state) = self.tenant_of(req).await?;
        let token = req.query_param("token").unwrap_or_default();
        let live = crate::authn::magic_link::peek(&self.hot, t.id(), &token, self.now())
            .await?
            .is_some();
        let brand = crate::delivery::escape_html(&t.name);
        let body = if live {
            format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Sign in to {brand}</title></head>\
                 <body><main><h1>Sign in to {brand}</h1><p>Press the button to finish signing in. If you did not ask for this link, close this page.</p>\
                 <form method=\"post\" action=\"/api/sso/v1/auth/magic-link\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">Sign in</button></form></main></body></html>",
                crate::delivery::escape_html(&token)
            )
        } else {
            format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{brand}</title></head>\
                 <body><main><h1>This link has expired or was already used</h1><p>Ask for a new one.</p></main></body></html>"
            )
        };
        Ok(html(if live { 200 } else { 410 }, body))
    }

    /// `POST /auth/magic-link` (the confirmation page's form, or JSON `{token}`): consumes the
    /// link and signs in (registering the address if the tenant allows it); redirects to the
    /// link's allowed URL with the session cookies, or answers the token response.
    pub async fn magic_link_confirm(&self, req: &Request) -> Result<Response> {
        #[derive(serde::Deserialize)]
        struct Body {
            token: Option<String>,
        }
        let (t, state) = self.tenant_of(req).await?;
        usso_edge::csrf::same_site(req, &t.tokens)?;
        let is_form = req
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let token = if is_form {
            req.form_field("token")
        } else {
            req.json::<Body>()?.token
        }
        .ok_or_else(|| Error::new(ErrorCode::ValidationError, "field `token` is required"))?;
        let now = self.now();
        let Some(link) = crate::authn::magic_link::take(&self.hot, t.id(), &token, now).await? else {
            return Err(Error::new(
                ErrorCode::InvalidCredentials,
                "this link has expired or was already used",
            ));
        };
        let (kind, value) = link
            .identifier
            .split_once(':')
            .ok_or_else(|| Error::internal("corrupt link identifier"))?;
        let ident = Identifier::parse(value, Some(kind))?;
        let auth = match users::find_for_sign_in(&self.docs, t.id(), &ident).await? {
            Some(found) => Authenticated {
                user: self.claim_identifier(&t, found, &ident, req).await?,
                amr: vec![Amr::MagicLink],
                identifier_verified: true,
            },
            None if t.registration_enabled => {
                authn::can_register(&t, &ident, false)?;
                let user = User::new(t.id(), &ident, None, now)?;
                users::create(&self.docs, &user, &ident, true).await?;
                self.audit(
                    t.id(),
                    "register",
                    Some(req),
                    json!({"user_id": user.id, "identifier": ident.key(), "method": "magic_link"}),
                )
                .await;
                Authenticated {
                    user,
                    amr: vec![Amr::MagicLink],
                    identifier_verified: true,
                }
            }
            None => {
                return Err(Error::new(
                    ErrorCode::InvalidCredentials,
                    "this link has expired or was already used",
                ))
            }
        };
        let res = self.complete(&t, &state, auth, req).await?;
        Ok(match link.redirect {
            Some(url) => {
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
            None => res,
        })
    }

    /// Counts one credential check against the tenant's limits (per identifier and address, per
    /// identifier, per address) before it is made, so parallel guesses cannot slip past; 429
    /// with `Retry-After` beyond them. Returns the counters a success clears.
    ///
    /// The per-(identifier, address) and per-address limits are hard. The per-identifier limit
    /// is soft, so that guesses from many addresses cannot lock the owner out
    /// ([`crate::authn::known_device`]): past it, a browser with a known-device cookie of this account,
    /// or a request with a solved captcha (`captcha_solved`, or one it carries), still gets its
    /// credential checked.
    async fn count_login(
        &self,
        t: &Tenant,
        ident: &Identifier,
        req: &Request,
        captcha_solved: bool,
        now: i64,
    ) -> Result<[String; 2]> {
        let ip = self.client_ip(req);
        let pair_key = counter("login", t.id(), &[&ident.key(), &ip]);
        let id_key = counter("login-id", t.id(), &[&ident.key()]);
        let ip_key = counter("login-ip", t.id(), &[&ip]);
        let mut reset_at = None;
        let mut soft_reset = None;
        for (key, limit, soft) in [
            (&pair_key, t.login_limit_pair, false),
            (&id_key, t.login_limit_identifier, true),
            (&ip_key, t.login_limit_ip, false),
        ] {
            let (n, reset) = self.hot.hit(key, limit.window_secs, now).await?;
            if n > limit.max {
                let slot = if soft { &mut soft_reset } else { &mut reset_at };
                *slot = Some(slot.map_or(reset, |r: i64| r.max(reset)));
            }
        }
        let mut soft_refused = false;
        if let (None, Some(reset)) = (reset_at, soft_reset) {
            let passes = captcha_solved
                || self.known_device(t, ident, req, now).await?
                || self.captcha_solved(req).await?;
            if !passes {
                reset_at = Some(reset);
                soft_refused = true;
            }
        }
        if let Some(reset) = reset_at {
            // Refusals are counted, not written one by one (each audit write is fsynced): per
            // client address, the first refusal of a window is audited, then the 10th, 100th,
            // 1000th… with the count so far, so a client hammering the limit costs a handful
            // of writes an hour instead of one per request.
            let refused_key = counter("login-refused", t.id(), &[&ip]);
            let (refused, _) = self
                .hot
                .hit(&refused_key, (reset - now).max(1), now)
                .await?;
            if is_power_of_ten(refused) {
                self.audit(
                    t.id(),
                    "login_rate_limited",
                    Some(req),
                    json!({"identifier": ident.key(), "refused_in_window": refused}),
                )
                .await;
            }
            let retry = (reset - now).max(1) as u64;
            return Err(if soft_refused {
                Error::too_many_requests_because(
                    retry,
                    format!("too many attempts for this account: retry after {retry} s, or solve GET /api/sso/v1/captcha/challenge and send the payload as `altcha` (or X-Altcha)"),
                )
            } else {
                Error::too_many_requests(retry)
            });
        }
        Ok([pair_key, id_key])
    }

    /// Queues a one-time code for `to` by `channel` (`email` or `sms`) with the tenant's
    /// templates, and wakes the outbox (see [`crate::delivery::outbox::enqueue`] for `deliver`).
    async fn send_code(
        &self,
        t: &Tenant,
        to: &Identifier,
        channel: &str,
        code: &str,
        deliver: bool,
        now: i64,
    ) -> Result<()> {
        let minutes = (t.otp.ttl_secs as u64).div_ceil(60);
        let message = if channel == "email" {
            Message::Email(
                t.templates
                    .render_otp_email(&to.value, &t.name, code, minutes),
            )
        } else {
            Message::Sms(
                t.templates
                    .render_otp_sms(&to.value, &t.name, code, minutes),
            )
        };
        crate::delivery::outbox::enqueue(&self.docs, &self.master, t.id(), &message, now, deliver).await?;
        self.outbox.wake();
        Ok(())
    }

    /// Per-identifier and per-address limits on code and link requests.
    async fn limit_requests(
        &self,
        t: &Tenant,
        kind: &str,
        ident: &Identifier,
        req: &Request,
        now: i64,
    ) -> Result<()> {
        let ip = self.client_ip(req);
        let id_key = counter(&format!("{kind}-id"), t.id(), &[&ident.key()]);
        let ip_key = counter(&format!("{kind}-ip"), t.id(), &[&ip]);
        let (id_n, id_reset) = self
            .hot
            .hit(&id_key, t.otp_limit_identifier.window_secs, now)
            .await?;
        let (ip_n, ip_reset) = self
            .hot
            .hit(&ip_key, t.otp_limit_ip.window_secs, now)
            .await?;
        if id_n > t.otp_limit_identifier.max || ip_n > t.otp_limit_ip.max {
            let reset = if id_n > t.otp_limit_identifier.max {
                id_reset
            } else {
                ip_reset
            };
            return Err(Error::too_many_requests((reset - now).max(1) as u64));
        }
        Ok(())
    }

    /// Turns a proof of identity into what the tenant's policy allows ([`authn::gate`], the one
    /// place that decides): a session, or a second step by code.
    async fn complete(
        &self,
        t: &Tenant,
        state: &TenantState,
        auth: Authenticated,
        req: &Request,
    ) -> Result<Response> {
        match authn::gate(t, &auth)? {
            Gate::Issue => self.issue(t, state, auth, req).await,
            Gate::SecondStep(step) => self.start_second_step(t, &auth.user, step, req).await,
        }
    }

    /// After a correct password, when the tenant requires a second factor or the account's
    /// address is not proven yet: a one-time code to the account's email (or phone) and a
    /// short-lived challenge instead of tokens. Completed by `POST /auth/mfa/verify`.
    async fn start_second_step(
        &self,
        t: &Tenant,
        user: &User,
        step: SecondStep,
        req: &Request,
    ) -> Result<Response> {
        let now = self.now();
        let target = authn::second_factor_target(user).ok_or_else(|| {
            Error::new(
                ErrorCode::MfaRequired,
                "a second step is required but this account has no email or phone",
            )
        })?;
        let channel = if target.kind == IdentifierKind::Phone {
            "sms"
        } else {
            "email"
        };
        let challenge = usso_shared::random::token_id()?;
        let record = json!({"user_id": user.id, "identifier": target.key(), "channel": channel, "step": step});
        self.hot
            .put_expiring(
                &mfa_key(t.id(), &challenge),
                &record.to_string(),
                t.otp.ttl_secs,
                now,
            )
            .await?;
        let code = self
            .codes(&t.otp)
            .issue(t.id(), &target.key(), codes::Purpose::Mfa, now)
            .await?;
        self.send_code(t, &target, channel, &code, true, now)
            .await?;
        self.audit(
            t.id(),
            "mfa_challenge",
            Some(req),
            json!({"user_id": user.id, "step": step}),
        )
        .await;
        Ok(Response::json(
            200,
            &json!({
                "mfa_required": step == SecondStep::Mfa,
                "verification_required": step == SecondStep::VerifyIdentifier,
                "step": step,
                "mfa_challenge": challenge,
                "channel": channel,
                "expires_in": t.otp.ttl_secs,
            }),
        )
        .with_header("cache-control", "no-store"))
    }

    /// `POST /auth/mfa/verify {mfa_challenge, code}`: completes a password sign-in with the
    /// one-time code sent to the account's address. The person knows the password AND reads
    /// that address, so the address becomes verified (the password stays); the tokens carry
    /// both methods in `amr` and `acr: usso:acr:2`.
    pub async fn mfa_verify(&self, req: &Request) -> Result<Response> {
        #[derive(serde::Deserialize)]
        struct Body {
            mfa_challenge: String,
            code: String,
        }
        let (t, state) = self.tenant_of(req).await?;
        usso_edge::csrf::same_site(req, &t.tokens)?;
        let body: Body = req.json()?;
        let now = self.now();
        let key = mfa_key(t.id(), &body.mfa_challenge);
        let expired = || Error::new(ErrorCode::InvalidCredentials, "wrong or expired code");
        if body.mfa_challenge.len() > 128 || body.code.len() > 32 {
            return Err(expired());
        }
        let record: Value = match self.hot.get_live(&key, now).await? {
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| Error::internal(e.to_string()))?
            }
            None => return Err(expired()),
        };
        let identifier = record["identifier"].as_str().unwrap_or_default().to_owned();
        let user_id = record["user_id"].as_str().unwrap_or_default().to_owned();
        self.codes(&t.otp)
            .check(t.id(), &identifier, codes::Purpose::Mfa, &body.code, now)
            .await?;
        self.hot.remove(&key).await?;
        let (kind, value) = identifier
            .split_once(':')
            .ok_or_else(|| Error::internal("corrupt challenge identifier"))?;
        let target = Identifier::parse(value, Some(kind))?;
        self.verify_identifier(&t, &target, &user_id, req).await?;
        let (user, _) = users::get(&self.docs, t.id(), &user_id)
            .await?
            .filter(|(u, _)| u.is_active)
            .ok_or_else(expired)?;
        let auth = Authenticated {
            user,
            amr: vec![Amr::Password, Amr::code_for(target.kind)],
            identifier_verified: true,
        };
        self.complete(&t, &state, auth, req).await
    }

    async fn register(
        &self,
        t: &Tenant,
        ident: &Identifier,
        body: &LoginRequest,
        req: &Request,
    ) -> Result<User> {
        let policy = PasswordPolicy {
            min_length: t.password_min_length,
            ..PasswordPolicy::default()
        };
        policy.check(&body.secret)?;
        let now = self.now();
        let hash = self.hasher.hash(&body.secret).await?;
        let mut user = User::new(t.id(), ident, Some(hash), now)?;
        if let Some(name) = &body.name {
            let name = name.trim();
            if name.chars().count() > 128
                || name.chars().any(char::is_control)
                || crate::identity::identifier::has_format_chars(name)
            {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "name must be at most 128 printable characters",
                ));
            }
            user.name = (!name.is_empty()).then(|| name.to_owned());
        }
        user.last_login_at = Some(now);
        users::create(&self.docs, &user, ident, false).await?;
        self.audit(
            t.id(),
            "register",
            Some(req),
            json!({"user_id": user.id, "identifier": ident.key()}),
        )
        .await;
        Ok(user)
    }

    /// Starts a session for a proof [`authn::gate`] let through; only [`Self::complete`]
    /// calls it.
    async fn issue(
        &self,
        t: &Tenant,
        state: &TenantState,
        auth: Authenticated,
        req: &Request,
    ) -> Result<Response> {
        let now = self.now();
        let signer = state.ring.signer()?;
        let grant = auth.user.grant(auth.amr_strings(), auth.factors() >= 2);
        let user = auth.user;
        let (mut record, pair) = issue::start_session(&state.config, signer, grant, now)?;
        record.ip = Some(self.client_ip(req));
        record.user_agent = req
            .header("user-agent")
            .map(|s| s.chars().take(256).collect());
        self.hot.put_session(&record).await?;
        self.audit(
            t.id(),
            "login_ok",
            Some(req),
            json!({"user_id": user.id, "session_id": record.session_id}),
        )
        .await;
        let device = crate::authn::known_device::issue(&self.master, t.id(), &user.id, now);
        Ok(
            issue::token_response(&state.config, &pair, &user.public()).with_header(
                "set-cookie",
                issue::cookie(
                    &state.config,
                    crate::authn::known_device::COOKIE,
                    &device,
                    crate::authn::known_device::PATH,
                    crate::authn::known_device::LIFETIME_SECS,
                    "Strict",
                ),
            ),
        )
    }

    /// The verified access claims of a request (bearer, then cookie). With strict verification
    /// on (`USSO_STRICT_VERIFY`) or `live` asked for, the session must also be live: a logged-out
    /// session's access token reads nothing and manages nothing.
    async fn caller(
        &self,
        req: &Request,
        live: bool,
    ) -> Result<(Tenant, Arc<TenantState>, AccessClaims)> {
        let (t, state) = self.tenant_of(req).await?;
        let token = EdgeCore::<Hot, SystemClock>::access_token(req)
            .ok_or_else(|| Error::new(ErrorCode::Unauthorized, "no access token"))?;
        let claims = self
            .core
            .verify::<AccessClaims>(&state, token)
            .await?
            .into_claims();
        if live || self.core.config().strict_verify {
            self.core.require_live_session(&state, &claims).await?;
        }
        Ok((t, state, claims))
    }

    /// `GET /auth/me` and `GET /me`: the current user from the store.
    pub async fn me(&self, req: &Request) -> Result<Response> {
        let (t, _, claims) = self.caller(req, false).await?;
        let id = claims
            .user_id
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "not a user token"))?;
        let (user, _) = users::get(&self.docs, t.id(), &id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "user not found"))?;
        Ok(Response::json(200, &user.public()).with_header("cache-control", "no-store"))
    }

    /// `GET /sessions`: the caller's sessions (admins may pass `user_id`).
    pub async fn sessions(&self, req: &Request) -> Result<Response> {
        // Session management always needs a live session, strict mode or not.
        let (t, _, claims) = self.caller(req, true).await?;
        let subject = match req.query_param("user_id") {
            Some(uid) if Some(&uid) != claims.user_id.as_ref() => {
                if !scope::check_access(&claims.scopes, SESSIONS_RESOURCE, "read", &[]) {
                    return Err(Error::new(
                        ErrorCode::PermissionDenied,
                        "reading other users' sessions needs read:usso/sessions",
                    ));
                }
                format!("user:{uid}")
            }
            _ => claims.sub.clone(),
        };
        let offset: u64 = req
            .query_param("offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let limit: u64 = req
            .query_param("limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(50)
            .clamp(1, 200);
        let now = self.now();
        let all = self.hot.sessions_of(t.id(), &subject).await?;
        let total = all.len();
        let items: Vec<Value> = all
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|s| {
                json!({
                    "id": s.session_id,
                    "created_at": s.created_at,
                    "last_used_at": s.last_used_at,
                    "expires_at": s.expires_at,
                    "revoked_at": s.revoked_at,
                    "revoked_reason": s.revoked_reason,
                    "is_active": s.is_live(now),
                    "generation": s.generation,
                    "ip": s.ip,
                    "user_agent": s.user_agent,
                    "current": claims.session_id.as_deref() == Some(s.session_id.as_str()),
                })
            })
            .collect();
        Ok(Response::json(
            200,
            &json!({"items": items, "total": total, "offset": offset, "limit": limit}),
        ))
    }

    /// `DELETE /sessions/{id}`.
    pub async fn revoke_session(&self, req: &Request, session_id: &str) -> Result<Response> {
        let (t, _, claims) = self.caller(req, true).await?;
        let record = self
            .hot
            .session(t.id(), session_id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "session not found"))?;
        if record.subject != claims.sub
            && !scope::check_access(&claims.scopes, SESSIONS_RESOURCE, "delete", &[])
        {
            // Not yours: answer as if it did not exist.
            return Err(Error::new(ErrorCode::NotFound, "session not found"));
        }
        self.hot
            .revoke(t.id(), session_id, REASON_LOGOUT, self.now())
            .await?;
        self.audit(
            t.id(),
            "session_revoked",
            Some(req),
            json!({"session_id": session_id, "by": claims.sub}),
        )
        .await;
        Ok(Response::json(200, &json!({"success": true})))
    }

    /// `GET /health`: the stores answer.
    pub async fn health(&self) -> Response {
        let docs = self
            .docs
            .get(
                crate::store::docs::TENANTS,
                tenants::DEFAULT_TENANT,
                tenants::DEFAULT_TENANT,
            )
            .await;
        let hot = usso_edge::HotStore::get_many(&self.hot, &["usso:health".to_owned()]).await;
        let ok = docs.is_ok() && hot.is_ok();
        Response::json(
            if ok { 200 } else { 503 },
            &json!({
                "status": if ok { "ok" } else { "degraded" },
                "version": env!("CARGO_PKG_VERSION"),
                "document_store": if docs.is_ok() { "ok" } else { "error" },
                "hot_store": if hot.is_ok() { "ok" } else { "error" },
            }),
        )
        .with_header("cache-control", "no-store")
    }
}

/// 1, 10, 100, …: the refusal counts that are audited.
fn is_power_of_ten(mut n: u64) -> bool {
    if n == 0 {
        return false;
    }
    while n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

fn mfa_key(tenant: &str, challenge: &str) -> String {
    format!("usso:mfa:{tenant}:{challenge}")
}

fn html(status: u16, body: String) -> Response {
    Response {
        status,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            ("referrer-policy".into(), "no-referrer".into()),
            (
                "content-security-policy".into(),
                "default-src 'none'; form-action 'self'; frame-ancestors 'none'".into(),
            ),
        ],
        body: body.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn refusal_counts_audited() {
        let audited: Vec<u64> = (0..=10_000)
            .filter(|&n| super::is_power_of_ten(n))
            .collect();
        assert_eq!(audited, [1, 10, 100, 1000, 10_000]);
    }
}
