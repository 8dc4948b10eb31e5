//! Refresh-token rotation rules, as pure functions over a [`SessionRecord`].
//!
//! Each hot store performs [`step`] atomically (one transaction in the embedded store, one Lua
//! script on Redis); the rules themselves live only here.
//!
//! - The session keeps the SHA-256 of the current refresh `jti` and a generation counter.
//! - Presenting the current token rotates: the caller has already signed the successor and
//!   sealed it under a key derived from the presented `jti` ([`seal_successor`]), so the store
//!   never holds a usable token.
//! - Presenting the immediately previous token within the grace window returns that same sealed
//!   successor again (retries and parallel tabs stay logged in).
//! - Anything older, or the previous token after the grace window, is reuse: the whole session
//!   is revoked and the answer is `refresh_token_reused`.
//! - Sessions also end at an absolute lifetime and after an idle timeout.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::claims::Grant;
use crate::encoding::hex_encode;
use crate::error::{Error, ErrorCode, Result};
use crate::seal;

/// Default grace window for the previous refresh token, in seconds.
pub const DEFAULT_GRACE_SECS: i64 = 30;
/// Reason recorded when reuse revokes a session.
pub const REASON_REUSE: &str = "refresh_token_reused";
/// Reason recorded on logout.
pub const REASON_LOGOUT: &str = "logout";

const SUCCESSOR_LABEL: &[u8] = b"usso/rotation-successor/v1";

/// Per-tenant rotation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPolicy {
    /// Seconds during which the previous token returns the same successor (0 disables).
    pub grace_secs: i64,
    /// A session unused for this long ends (seconds).
    pub idle_timeout_secs: i64,
    /// A session ends this long after it was created (seconds), whatever its use.
    pub absolute_lifetime_secs: i64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            grace_secs: DEFAULT_GRACE_SECS,
            idle_timeout_secs: 30 * 24 * 3600,
            absolute_lifetime_secs: 90 * 24 * 3600,
        }
    }
}

/// The hot-store record of one session's refresh lineage. Serialised as JSON by every store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Session id.
    pub session_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// `sub` of the session's tokens.
    pub subject: String,
    /// Generation counter: 0 for the token issued at login, +1 per rotation.
    pub generation: u64,
    /// Hex SHA-256 of the current refresh `jti`.
    pub current: String,
    /// Hex SHA-256 of the immediately previous refresh `jti`.
    #[serde(default)]
    pub previous: Option<String>,
    /// When `previous` was replaced by `current`.
    #[serde(default)]
    pub rotated_at: Option<i64>,
    /// The current refresh token sealed under a key derived from the previous `jti`.
    #[serde(default)]
    pub successor: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last successful rotation (or creation).
    pub last_used_at: i64,
    /// Absolute end of the session.
    pub expires_at: i64,
    /// Idle timeout in seconds.
    pub idle_timeout_secs: i64,
    /// When the session was revoked, if it was.
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// Why it was revoked.
    #[serde(default)]
    pub revoked_reason: Option<String>,
    /// The identity the session grants (what refreshed access tokens say); see [`Grant`].
    #[serde(default)]
    pub grant: Grant,
    /// Client user agent at login, for the sessions list.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Client IP at login, for the sessions list.
    #[serde(default)]
    pub ip: Option<String>,
}

impl SessionRecord {
    /// A new session whose first refresh token has `jti`.
    pub fn new(
        session_id: impl Into<String>,
        tenant_id: impl Into<String>,
        subject: impl Into<String>,
        jti: &str,
        now: i64,
        policy: &RotationPolicy,
    ) -> Self {
        Self {
            session_id: session_id.into(),
            tenant_id: tenant_id.into(),
            subject: subject.into(),
            generation: 0,
            current: jti_hash(jti),
            previous: None,
            rotated_at: None,
            successor: None,
            created_at: now,
            last_used_at: now,
            expires_at: now.saturating_add(policy.absolute_lifetime_secs),
            idle_timeout_secs: policy.idle_timeout_secs,
            revoked_at: None,
            revoked_reason: None,
            grant: Grant::default(),
            user_agent: None,
            ip: None,
        }
    }

    /// The same record carrying `grant`.
    pub fn with_grant(mut self, grant: Grant) -> Self {
        self.grant = grant;
        self
    }

    /// Whether the session is usable at `now` (not revoked, not expired, not idle).
    pub fn is_live(&self, now: i64) -> bool {
        self.liveness(now).is_ok()
    }

    fn liveness(&self, now: i64) -> core::result::Result<(), Outcome> {
        if self.revoked_at.is_some() {
            return Err(Outcome::Revoked);
        }
        if now >= self.expires_at {
            return Err(Outcome::Expired);
        }
        if now >= self.last_used_at.saturating_add(self.idle_timeout_secs) {
            return Err(Outcome::Expired);
        }
        Ok(())
    }

    /// Marks the session revoked (idempotent: the first reason stays).
    pub fn revoke(&mut self, reason: &str, now: i64) {
        if self.revoked_at.is_none() {
            self.revoked_at = Some(now);
            self.revoked_reason = Some(reason.to_owned());
        }
        self.successor = None;
    }

    /// Seconds until this record can be dropped from the hot store.
    pub fn ttl(&self, now: i64) -> i64 {
        let idle_end = self.last_used_at.saturating_add(self.idle_timeout_secs);
        (self.expires_at.min(idle_end) - now).max(1)
    }
}

/// Hex SHA-256 of a refresh `jti`: what stores keep instead of the token.
pub fn jti_hash(jti: &str) -> String {
    hex_encode(&Sha256::digest(jti.as_bytes()))
}

fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What the caller prepared for a rotation before the atomic step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor {
    /// Hex SHA-256 of the new refresh `jti`.
    pub jti_hash: String,
    /// The new refresh token, sealed under the presented `jti` ([`seal_successor`]).
    pub sealed: String,
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The presented token was current: the successor is now current.
    Rotated,
    /// The previous token within the grace window: the caller returns this sealed successor.
    Replayed {
        /// The successor sealed under the presented `jti`.
        sealed: String,
    },
    /// Reuse of an old token: the session is now revoked.
    Reused,
    /// The session was already revoked.
    Revoked,
    /// The session passed its absolute lifetime or idle timeout.
    Expired,
    /// No such session.
    NotFound,
}

impl Outcome {
    /// The error a caller answers with, or `Ok` for `Rotated`/`Replayed`.
    pub fn to_error(&self) -> Option<Error> {
        match self {
            Self::Rotated | Self::Replayed { .. } => None,
            Self::Reused => Some(Error::new(
                ErrorCode::RefreshTokenReused,
                "refresh token reuse detected; the session is revoked",
            )),
            Self::Revoked => Some(Error::new(ErrorCode::SessionRevoked, "session revoked")),
            Self::Expired => Some(Error::new(ErrorCode::SessionExpired, "session expired")),
            Self::NotFound => Some(Error::new(ErrorCode::SessionRevoked, "session not found")),
        }
    }

    /// Stable short name, used by store scripts and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::Replayed { .. } => "replayed",
            Self::Reused => "reused",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::NotFound => "not_found",
        }
    }
}

/// Whether a record changed and must be written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Nothing to write.
    None,
    /// Write this record.
    Put(Box<SessionRecord>),
}

/// The atomic step: given the stored record (if any), the hash of the presented `jti`, the
/// prepared successor and the time, decide the outcome and the record to write back.
pub fn step(
    record: Option<&SessionRecord>,
    presented_hash: &str,
    successor: &Successor,
    grace_secs: i64,
    now: i64,
) -> (Outcome, Write) {
    let Some(record) = record else {
        return (Outcome::NotFound, Write::None);
    };
    if let Err(outcome) = record.liveness(now) {
        return (outcome, Write::None);
    }
    if same_hash(presented_hash, &record.current) {
        let mut next = record.clone();
        next.previous = Some(core::mem::replace(
            &mut next.current,
            successor.jti_hash.clone(),
        ));
        next.generation += 1;
        next.rotated_at = Some(now);
        next.successor = Some(successor.sealed.clone());
        next.last_used_at = now;
        return (Outcome::Rotated, Write::Put(Box::new(next)));
    }
    let is_previous = record
        .previous
        .as_deref()
        .is_some_and(|p| same_hash(presented_hash, p));
    let in_grace = grace_secs > 0
        && record
            .rotated_at
            .is_some_and(|t| now >= t && now - t <= grace_secs);
    if is_previous && in_grace {
        if let Some(sealed) = &record.successor {
            return (
                Outcome::Replayed {
                    sealed: sealed.clone(),
                },
                Write::None,
            );
        }
    }
    let mut revoked = record.clone();
    revoked.revoke(REASON_REUSE, now);
    (Outcome::Reused, Write::Put(Box::new(revoked)))
}

fn successor_key(presented_jti: &str) -> seal::SecretKey {
    seal::derive_key(presented_jti.as_bytes(), SUCCESSOR_LABEL)
}

/// Seals the successor refresh token under a key derived from the presented `jti`, bound to
/// the session: only a holder of the presented token can open it.
pub fn seal_successor(
    presented_jti: &str,
    session_id: &str,
    successor_token: &str,
) -> Result<String> {
    seal::seal_text(
        &successor_key(presented_jti),
        session_id.as_bytes(),
        successor_token.as_bytes(),
    )
}

/// Opens a successor sealed by [`seal_successor`].
pub fn open_successor(presented_jti: &str, session_id: &str, sealed: &str) -> Result<String> {
    let bytes = seal::open_text(&successor_key(presented_jti), session_id.as_bytes(), sealed)
        .map_err(|_| Error::internal("grace-window successor does not open"))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::internal("successor is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    fn policy() -> RotationPolicy {
        RotationPolicy {
            grace_secs: 30,
            idle_timeout_secs: 1_000,
            absolute_lifetime_secs: 10_000,
        }
    }

    fn prepared(presented: &str, next: &str) -> Successor {
        Successor {
            jti_hash: jti_hash(next),
            sealed: seal_successor(presented, "s1", &format!("token-{next}")).unwrap(),
        }
    }

    fn put(w: Write) -> SessionRecord {
        match w {
            Write::Put(r) => *r,
            Write::None => panic!("expected a write"),
        }
    }

    fn login() -> SessionRecord {
        SessionRecord::new("s1", "org_default", "user:1", "j0", T0, &policy())
    }

    #[test]
    fn current_token_rotates() {
        let rec = login();
        let (out, w) = step(
            Some(&rec),
            &jti_hash("j0"),
            &prepared("j0", "j1"),
            30,
            T0 + 5,
        );
        assert_eq!(out, Outcome::Rotated);
        let rec = put(w);
        assert_eq!(rec.generation, 1);
        assert_eq!(rec.current, jti_hash("j1"));
        assert_eq!(rec.previous, Some(jti_hash("j0")));
        assert_eq!(rec.rotated_at, Some(T0 + 5));
        assert_eq!(rec.last_used_at, T0 + 5);
    }

    #[test]
    fn previous_within_grace_returns_same_successor() {
        let rec = login();
        let succ = prepared("j0", "j1");
        let (_, w) = step(Some(&rec), &jti_hash("j0"), &succ, 30, T0);
        let rec = put(w);
        for dt in [0, 1, 30] {
            let other = prepared("j0", "jX");
            let (out, w) = step(Some(&rec), &jti_hash("j0"), &other, 30, T0 + dt);
            assert_eq!(w, Write::None, "a replay writes nothing");
            let Outcome::Replayed { sealed } = out else {
                panic!("expected replay at +{dt}, got {out:?}");
            };
            assert_eq!(sealed, succ.sealed);
            assert_eq!(open_successor("j0", "s1", &sealed).unwrap(), "token-j1");
        }
    }

    #[test]
    fn previous_after_grace_is_reuse_and_revokes() {
        let rec = put(step(
            Some(&login()),
            &jti_hash("j0"),
            &prepared("j0", "j1"),
            30,
            T0,
        )
        .1);
        let (out, w) = step(
            Some(&rec),
            &jti_hash("j0"),
            &prepared("j0", "j2"),
            30,
            T0 + 31,
        );
        assert_eq!(out, Outcome::Reused);
        let rec = put(w);
        assert_eq!(rec.revoked_reason.as_deref(), Some(REASON_REUSE));
        assert!(rec.successor.is_none(), "no successor survives revocation");
        // After reuse even the current token fails.
        let (out, _) = step(
            Some(&rec),
            &jti_hash("j1"),
            &prepared("j1", "j2"),
            30,
            T0 + 32,
        );
        assert_eq!(out, Outcome::Revoked);
    }

    #[test]
    fn grace_zero_disables_replay() {
        let rec = put(step(
            Some(&login()),
            &jti_hash("j0"),
            &prepared("j0", "j1"),
            0,
            T0,
        )
        .1);
        let (out, _) = step(Some(&rec), &jti_hash("j0"), &prepared("j0", "j2"), 0, T0);
        assert_eq!(out, Outcome::Reused);
    }

    #[test]
    fn older_than_previous_is_reuse_even_within_grace() {
        let mut rec = login();
        for (i, now) in [(0, T0), (1, T0 + 1)] {
            let cur = format!("j{i}");
            let next = format!("j{}", i + 1);
            rec = put(step(Some(&rec), &jti_hash(&cur), &prepared(&cur, &next), 30, now).1);
        }
        assert_eq!(rec.generation, 2);
        let (out, _) = step(
            Some(&rec),
            &jti_hash("j0"),
            &prepared("j0", "x"),
            30,
            T0 + 2,
        );
        assert_eq!(out, Outcome::Reused);
    }

    #[test]
    fn unknown_hash_is_reuse() {
        let (out, w) = step(
            Some(&login()),
            &jti_hash("never"),
            &prepared("never", "x"),
            30,
            T0,
        );
        assert_eq!(out, Outcome::Reused);
        assert!(put(w).revoked_at.is_some());
    }

    #[test]
    fn lifetimes() {
        let rec = login();
        let s = prepared("j0", "j1");
        assert_eq!(step(None, &jti_hash("j0"), &s, 30, T0).0, Outcome::NotFound);
        // idle: last use T0, timeout 1000
        assert_eq!(
            step(Some(&rec), &jti_hash("j0"), &s, 30, T0 + 999).0,
            Outcome::Rotated
        );
        assert_eq!(
            step(Some(&rec), &jti_hash("j0"), &s, 30, T0 + 1_000).0,
            Outcome::Expired
        );
        // absolute: even when used regularly
        let mut busy = rec.clone();
        busy.last_used_at = T0 + 9_999;
        assert_eq!(
            step(Some(&busy), &jti_hash("j0"), &s, 30, T0 + 9_999).0,
            Outcome::Rotated
        );
        assert_eq!(
            step(Some(&busy), &jti_hash("j0"), &s, 30, T0 + 10_000).0,
            Outcome::Expired
        );
        let mut revoked = rec;
        revoked.revoke(REASON_LOGOUT, T0);
        assert_eq!(
            step(Some(&revoked), &jti_hash("j0"), &s, 30, T0).0,
            Outcome::Revoked
        );
        assert!(!revoked.is_live(T0));
    }

    #[test]
    fn outcomes_map_to_contract_errors() {
        assert!(Outcome::Rotated.to_error().is_none());
        assert_eq!(
            Outcome::Reused.to_error().unwrap().code().as_str(),
            "refresh_token_reused"
        );
        assert_eq!(Outcome::Revoked.to_error().unwrap().status(), 401);
        assert_eq!(Outcome::Expired.to_error().unwrap().status(), 401);
    }

    #[test]
    fn successor_only_opens_with_presented_jti_and_session() {
        let sealed = seal_successor("j0", "s1", "tok").unwrap();
        assert_eq!(open_successor("j0", "s1", &sealed).unwrap(), "tok");
        assert!(open_successor("j1", "s1", &sealed).is_err());
        assert!(open_successor("j0", "s2", &sealed).is_err());
        assert!(!sealed.contains("tok"));
    }

    #[test]
    fn record_json_round_trip_and_ttl() {
        let rec = login();
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(serde_json::from_str::<SessionRecord>(&json).unwrap(), rec);
        assert_eq!(rec.ttl(T0), 1_000);
        assert_eq!(rec.ttl(T0 + 5_000), 1);
    }
}
