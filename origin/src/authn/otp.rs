//! One-time codes by email or SMS: asking for one, and signing in (or registering) with it.
//!
//! Invariants and the attacks they prevent:
//! - The answer to a request is the same, and takes the same work, whether or not the
//!   identifier has an account; for an unknown identifier that may not register the code is
//!   queued but never delivered (account enumeration).
//! - Requests are limited per identifier and per address; checks are counted before they are
//!   made; a code is single-use and dies after a few wrong guesses ([`crate::authn::codes`]).
//! - Proving an unproven identifier claims the account ([`crate::identity::claim`]).

use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authn::codes::Purpose;
use crate::authn::limits::{self, CaptchaRoute, Requested};
use crate::authn::{self, Amr, Authenticated};
use crate::delivery::Channel;
use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::identity::users;
use crate::tenants::Tenant;

/// A request for a code.
#[derive(Debug, Clone)]
pub struct CodeRequest {
    /// Email or phone, as typed.
    pub identifier: String,
    /// Its kind, if the client said.
    pub kind: Option<String>,
    /// The channel, if the client chose (else inferred from the identifier).
    pub channel: Option<Channel>,
}

/// A code is on its way (or, for an identifier that cannot receive one, pretends to be).
#[derive(Debug, Clone, Copy)]
pub struct CodeSent {
    /// Where it went.
    pub channel: Channel,
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

/// The channel a code for `ident` goes by.
pub fn channel_for(ident: &Identifier, asked: Option<Channel>) -> Result<Channel> {
    match (asked, ident.kind) {
        (None | Some(Channel::Email), IdentifierKind::Email) => Ok(Channel::Email),
        (None | Some(Channel::Sms), IdentifierKind::Phone) => Ok(Channel::Sms),
        (None, IdentifierKind::Username) => Err(Error::new(
            ErrorCode::ValidationError,
            "codes go to an email address or a phone number",
        )),
        (Some(c), _) => Err(Error::new(
            ErrorCode::ValidationError,
            format!("channel_type {} does not fit this identifier", c.as_str()),
        )),
    }
}

/// `POST /auth/request-otp`.
pub async fn request(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    input: CodeRequest,
) -> Result<CodeSent> {
    let ident = Identifier::parse(&input.identifier, input.kind.as_deref())?;
    let channel = channel_for(&ident, input.channel)?;
    let now = ctx.now();
    limits::captcha_guard(ctx, t, CaptchaRoute::Otp, who).await?;
    limits::limit_requests(ctx, t, Requested::Code, &ident, who).await?;
    let known = users::holds_active(&ctx.docs, t.id(), &ident).await?;
    // Unknown identifiers get a code too when they may register with it; otherwise the same
    // work is done and the message is not delivered.
    let deliver = known || t.registration_enabled;
    let code = ctx
        .codes(&t.otp)
        .issue(t.id(), &ident.key(), Purpose::Login, now)
        .await?;
    crate::delivery::send::send_code(ctx, t, &ident, channel, &code, deliver).await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::OtpRequested,
        who,
        json!({"identifier": ident.key(), "channel": channel}),
    )
    .await;
    Ok(CodeSent {
        channel,
        expires_in: t.otp.ttl_secs,
    })
}

/// A sign-in with a code.
#[derive(Debug, Clone)]
pub struct CodeLogin {
    /// Email or phone, as typed.
    pub identifier: String,
    /// Which kind the method names.
    pub kind: IdentifierKind,
    /// The code.
    pub code: String,
    /// Register an unknown identifier.
    pub register: bool,
    /// Whether the request already carried a verified captcha solution.
    pub captcha_solved: bool,
}

/// Proves identity with a code (registering an unknown identifier when asked and allowed).
pub async fn login(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    input: CodeLogin,
) -> Result<Authenticated> {
    let ident = Identifier::parse(&input.identifier, Some(input.kind.as_str()))?;
    if input.code.len() > 32 {
        return Err(Error::new(ErrorCode::ValidationError, "secret is too long"));
    }
    let now = ctx.now();
    let counted = limits::count_login(ctx, t, &ident, who, input.captcha_solved).await?;
    if let Err(e) = ctx
        .codes(&t.otp)
        .check(t.id(), &ident.key(), Purpose::Login, &input.code, now)
        .await
    {
        crate::audit::client(
            ctx,
            t.id(),
            AuditEvent::LoginFailed,
            who,
            json!({"identifier": ident.key(), "reason": "otp"}),
        )
        .await;
        return Err(e);
    }
    counted.clear(ctx).await?;
    let amr = Amr::code_for(ident.kind);
    let user = match users::find_for_sign_in(&ctx.docs, t.id(), &ident).await? {
        Some(found) => crate::identity::claim::claim(ctx, t, who, found, &ident).await?,
        None if input.register && t.registration_enabled => {
            authn::can_register(t, &ident, false)?;
            crate::identity::register::proven(ctx, t, who, &ident, amr).await?
        }
        None => {
            return Err(Error::new(
                ErrorCode::InvalidCredentials,
                "no account for this identifier; log in with register: true to create one",
            ))
        }
    };
    Ok(Authenticated {
        user,
        amr: vec![amr],
        identifier_verified: true,
    })
}
