//! Signing in (or registering) with an identifier and a password.
//!
//! Invariants and the attacks they prevent:
//! - The attempt is counted before the hash is checked ([`limits::count_login`]).
//! - An unknown identifier costs the same Argon2id work as a wrong password, and both answer
//!   the same `invalid_credentials` (account enumeration by timing or by message).
//! - The counters are cleared only when the proof is enough on its own: with a second step
//!   still to come, a stolen password must not buy unlimited fresh codes to guess.

use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authn::hasher::{Verdict, MAX_PASSWORD_BYTES};
use crate::authn::{self, limits, Amr, AuthOutcome, Authenticated};
use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::identity::users::{self, Found};
use crate::tenants::{self, Tenant};

/// What the caller wants when the identifier is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sign in only.
    SignIn,
    /// Sign in, or register an unknown identifier (`register: true` on `/auth/login`).
    SignInOrRegister,
    /// Register only (`/auth/register`): a known identifier is a conflict.
    Register,
}

/// A password sign-in.
#[derive(Debug, Clone)]
pub struct PasswordLogin {
    /// The identifier as typed.
    pub identifier: String,
    /// Its kind, if the client said.
    pub kind: Option<String>,
    /// The password.
    pub secret: String,
    /// A display name (registration).
    pub name: Option<String>,
    /// Sign in, register, or either.
    pub mode: Mode,
    /// Whether the request already carried a verified captcha solution.
    pub captcha_solved: bool,
}

/// Proves identity with a password (or registers, per [`Mode`]).
pub async fn login(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    input: PasswordLogin,
) -> Result<Authenticated> {
    if input.secret.len() > MAX_PASSWORD_BYTES {
        return Err(Error::new(ErrorCode::ValidationError, "secret is too long"));
    }
    let ident = if input.identifier.trim() == crate::app::bootstrap::SYSTEM_USER
        && t.id() == tenants::DEFAULT_TENANT
        && input.mode != Mode::Register
    {
        Identifier {
            kind: IdentifierKind::Username,
            value: crate::app::bootstrap::SYSTEM_USER.into(),
        }
    } else {
        Identifier::parse(&input.identifier, input.kind.as_deref())?
    };
    let now = ctx.now();
    let counted = limits::count_login(ctx, t, &ident, who, input.captcha_solved).await?;

    let found = users::find_for_sign_in(&ctx.docs, t.id(), &ident).await?;
    let Found {
        mut user,
        version,
        verified,
    } = match found {
        Some(_) if input.mode == Mode::Register => {
            return Err(Error::new(
                ErrorCode::Conflict,
                "this identifier is already registered",
            ));
        }
        Some(f) => f,
        None if input.mode != Mode::SignIn => {
            if !t.registration_enabled {
                return Err(Error::new(
                    ErrorCode::PermissionDenied,
                    "registration is closed for this tenant",
                ));
            }
            authn::can_register(t, &ident, true)?;
            let user = crate::identity::register::with_password(
                ctx,
                t,
                who,
                &ident,
                &input.secret,
                input.name.as_deref(),
            )
            .await?;
            counted.clear(ctx).await?;
            return Ok(Authenticated {
                user,
                amr: vec![Amr::Password],
                identifier_verified: false,
            });
        }
        None => {
            // Same work as a real check, so timing does not tell whether the account exists.
            ctx.hasher.verify(&input.secret, None).await?;
            crate::audit::client(
                ctx,
                t.id(),
                AuditEvent::LoginFailed,
                who,
                json!({"identifier": ident.key(), "reason": "unknown"}),
            )
            .await;
            return Err(wrong());
        }
    };
    match ctx
        .hasher
        .verify(&input.secret, user.password_hash.as_deref())
        .await?
    {
        Verdict::Invalid => {
            crate::audit::client(
                ctx,
                t.id(),
                AuditEvent::LoginFailed,
                who,
                json!({"user_id": user.id, "reason": "password"}),
            )
            .await;
            Err(wrong())
        }
        Verdict::Valid { needs_rehash } => {
            let auth = Authenticated {
                user: user.clone(),
                amr: vec![Amr::Password],
                identifier_verified: verified,
            };
            if authn::gate(t, &auth)? == AuthOutcome::Authenticated {
                counted.clear(ctx).await?;
            }
            if needs_rehash {
                user.password_hash = Some(ctx.hasher.hash(&input.secret).await?);
            }
            user.last_login_at = Some(now);
            user.updated_at = now;
            if let Err(e) = users::update(&ctx.docs, &user, version).await {
                // A concurrent change wins; the login itself stands.
                tracing::debug!(error = %e, "last-login update skipped");
            }
            Ok(Authenticated { user, ..auth })
        }
    }
}

fn wrong() -> Error {
    Error::new(
        ErrorCode::InvalidCredentials,
        "wrong identifier or password",
    )
}
