//! Creating accounts from a sign-up: one place for every way in (password, code, link), so
//! validation, the store write and the audit entry are the same whichever method registers.
//!
//! Invariant: an account is written before its identifier claims it ([`users::create`]), so a
//! crash between the two leaves an orphan the next sign-up takes over, never an identifier that
//! points nowhere.

use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authn::Amr;
use crate::identity::identifier::Identifier;
use crate::identity::users::{self, User};
use crate::tenants::Tenant;

/// A display name: at most 128 printable characters, trimmed; empty is none.
pub fn display_name(name: &str) -> Result<Option<String>> {
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
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

/// Registers `ident` with a password (checked against the tenant's policy, hashed with
/// Argon2id). The identifier is not proven yet.
pub async fn with_password(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    ident: &Identifier,
    secret: &str,
    name: Option<&str>,
) -> Result<User> {
    t.password_policy().check(secret)?;
    let name = name.map(display_name).transpose()?.flatten();
    let hash = ctx.hasher.hash(secret).await?;
    create(ctx, t, who, ident, Some(hash), name, None).await
}

/// Registers `ident`, just proven by `method` (a code or a link), without a password.
pub async fn proven(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    ident: &Identifier,
    method: Amr,
) -> Result<User> {
    create(ctx, t, who, ident, None, None, Some(method)).await
}

async fn create(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    ident: &Identifier,
    password_hash: Option<String>,
    name: Option<String>,
    proven_by: Option<Amr>,
) -> Result<User> {
    let now = ctx.now();
    let mut user = User::new(t.id(), ident, password_hash, now)?;
    user.name = name;
    user.last_login_at = Some(now);
    users::create(&ctx.docs, &user, ident, proven_by.is_some()).await?;
    let mut detail = json!({"user_id": user.id, "identifier": ident.key()});
    if let Some(m) = proven_by {
        detail["method"] = json!(m.as_str());
    }
    crate::audit::client(ctx, t.id(), AuditEvent::Register, who, detail).await;
    Ok(user)
}
