//! Profiles: what a user shows of themself (name, picture) and changes on their own.
//!
//! Invariant: a user changes only their own profile, and only its presentation fields (a
//! profile change never touches roles, scopes, identifiers or activation).

use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::identity::register::display_name;
use crate::identity::users::{self, User};

/// A change to one's own profile (absent fields stay; `Some(None)` clears).
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    /// Display name.
    pub name: Option<Option<String>>,
    /// Picture URL (`https`, at most 2048 characters).
    pub avatar_url: Option<Option<String>>,
    /// The pages' language (`en`, `fa`).
    pub locale: Option<Option<String>>,
}

/// The languages a person may choose for the pages.
pub const LOCALES: [&str; 2] = ["en", "fa"];

/// Checks a picture URL: absolute `https`, at most 2048 characters, no spaces or controls.
pub fn check_avatar(url: &str) -> Result<String> {
    let url = url.trim();
    if crate::identity::fields::is_https_url(url) {
        Ok(url.to_owned())
    } else {
        Err(Error::new(
            ErrorCode::ValidationError,
            "avatar_url: an https:// URL of at most 2048 characters",
        ))
    }
}

/// Applies `change` to the caller's own profile.
pub async fn update_mine(
    ctx: &Ctx,
    tenant: &str,
    user_id: &str,
    who: &ClientMeta,
    change: ProfileChange,
) -> Result<(User, i64)> {
    let name = match change.name {
        Some(Some(n)) => Some(display_name(&n).map_err(|e| {
            Error::new(ErrorCode::ValidationError, format!("name: {}", e.detail()))
        })?),
        Some(None) => Some(None),
        None => None,
    };
    let avatar = match change.avatar_url {
        Some(Some(u)) => Some(Some(check_avatar(&u)?)),
        Some(None) => Some(None),
        None => None,
    };
    let locale = match change.locale {
        Some(Some(l)) if LOCALES.contains(&l.as_str()) => Some(Some(l)),
        Some(Some(_)) => {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!("locale: one of {}", LOCALES.join(", ")),
            ))
        }
        other => other,
    };
    let out = users::modify(
        &ctx.docs,
        tenant,
        user_id,
        |u| {
            if let Some(n) = &name {
                u.name = n.clone();
            }
            if let Some(a) = &avatar {
                u.avatar_url = a.clone();
            }
            if let Some(l) = &locale {
                u.locale = l.clone();
            }
            Ok(())
        },
        ctx.now(),
    )
    .await?;
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::ProfileUpdated,
        who,
        json!({"user_id": user_id}),
    )
    .await;
    Ok(out)
}
