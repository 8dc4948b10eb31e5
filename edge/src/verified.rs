//! The verified-token memo: a bounded per-isolate / per-process record of tokens that passed a
//! full verification, so that the same token presented again (a client calling an API many
//! times within its token's life) costs a map lookup instead of a signature check.
//!
//! Invariant: the memo never accepts what a full verification would refuse.
//! - Entries are keyed by the **whole token string** and compared byte for byte (not by a
//!   digest or by the signature alone: a token with a known signature and another payload is a
//!   miss, then fails its own verification).
//! - An entry answers only for the tenant it was verified for, only while `now < exp + leeway`
//!   (the same bound as the full check), and only while its `kid` is still in the tenant's ring
//!   and not retired; when a tenant's published key set changes, entries whose key left the
//!   ring are dropped at once, and when its verification rules change (issuer, audience), all
//!   of its entries are.
//! - Only the signature and claim checks are skipped: session liveness (strict mode), DPoP
//!   binding and everything a route does after verification still run on every request.
//!
//! Bounded memory under a flood of distinct tokens: at most `capacity` entries and
//! `capacity × 1 KiB` of token bytes, in two generations; when the young one fills, the old one
//! is dropped whole and the young one becomes old (an entry used again is moved back to the
//! young one), so the entries dropped are those least recently used, a generation at a time.
//! Only tokens that verified are inserted, so an attacker can fill it only with tokens the
//! service signed.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use usso_shared::token::Verified;

/// Token bytes allowed per entry of capacity (the byte budget is `capacity` times this).
pub const BYTES_PER_ENTRY: usize = 1024;

/// Entries by default (`USSO_VERIFIED_CACHE_ENTRIES`).
pub const DEFAULT_ENTRIES: usize = 4096;

struct Entry {
    tenant: Box<str>,
    kid: Box<str>,
    /// Answers while `now < until` (`exp + leeway`).
    until: i64,
    value: Arc<dyn Any + Send + Sync>,
}

/// The memo. See the module docs.
pub struct VerifiedCache {
    young: HashMap<Box<str>, Entry>,
    old: HashMap<Box<str>, Entry>,
    young_bytes: usize,
    capacity: usize,
}

impl core::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("entries", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl VerifiedCache {
    /// A memo of at most `capacity` entries (0: off).
    pub fn new(capacity: usize) -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            young_bytes: 0,
            capacity,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Token bytes held (the bound the byte budget keeps).
    pub fn bytes(&self) -> usize {
        self.young
            .keys()
            .chain(self.old.keys())
            .map(|k| k.len())
            .sum()
    }

    /// The verification of `token` for `tenant`, if it is remembered, still within its life
    /// at `now`, and its key is still live (`key_live(kid)`).
    pub fn get<T: Clone + 'static>(
        &mut self,
        tenant: &str,
        token: &str,
        now: i64,
        key_live: impl Fn(&str) -> bool,
    ) -> Option<Verified<T>> {
        if self.capacity == 0 {
            return None;
        }
        let (entry, was_old) = match self.young.get(token) {
            Some(e) => (e, false),
            None => (self.old.get(token)?, true),
        };
        if &*entry.tenant != tenant {
            return None;
        }
        if now >= entry.until || !key_live(&entry.kid) {
            self.remove(token);
            return None;
        }
        let found = entry.value.downcast_ref::<Verified<T>>()?.clone();
        if was_old {
            if let Some((k, e)) = self.old.remove_entry(token) {
                self.insert_young(k, e);
            }
        }
        Some(found)
    }

    /// Remembers a verification until `until` (`exp + leeway`).
    pub fn put<T: Clone + Send + Sync + 'static>(
        &mut self,
        tenant: &str,
        token: &str,
        verified: &Verified<T>,
        until: i64,
    ) {
        if self.capacity == 0 || token.len() > usso_shared::token::MAX_TOKEN_LEN {
            return;
        }
        self.remove(token);
        let entry = Entry {
            tenant: tenant.into(),
            kid: verified.kid().into(),
            until,
            value: Arc::new(verified.clone()),
        };
        self.insert_young(token.into(), entry);
    }

    /// Drops every entry of `tenant` whose key is no longer live.
    pub fn retain_keys(&mut self, tenant: &str, key_live: impl Fn(&str) -> bool) {
        let keep = |e: &Entry| &*e.tenant != tenant || key_live(&e.kid);
        self.young.retain(|_, e| keep(e));
        self.old.retain(|_, e| keep(e));
        self.young_bytes = self.young.keys().map(|k| k.len()).sum();
    }

    fn remove(&mut self, token: &str) {
        if self.young.remove(token).is_some() {
            self.young_bytes = self.young_bytes.saturating_sub(token.len());
        } else {
            self.old.remove(token);
        }
    }

    fn insert_young(&mut self, token: Box<str>, entry: Entry) {
        let half = (self.capacity / 2).max(1);
        if self.young.len() >= half || self.young_bytes + token.len() > half * BYTES_PER_ENTRY {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes += token.len();
        self.young.insert(token, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usso_shared::claims::{AccessClaims, Grant};
    use usso_shared::keys::{KeyPair, KeyRing};
    use usso_shared::token::{self, TokenTimes, Validation};

    fn issue(pair: &KeyPair, n: usize) -> (String, Verified<AccessClaims>) {
        let grant = Grant {
            sub: format!("user{n}"),
            ..Grant::default()
        };
        let claims = grant.access_claims(format!("jti{n}"), "https://iss", None, "s1", "t1");
        let tok = token::sign(pair, TokenTimes::starting_at(1_000, 600), &claims).unwrap();
        let ring = KeyRing::with_active(pair.clone());
        let rules = Validation::new(claims.iss.clone(), None, "t1");
        let v = token::verify::<AccessClaims>(&tok, &ring, &rules, 1_000).unwrap();
        (tok, v)
    }

    #[test]
    fn answers_only_the_same_token_tenant_life_and_live_key() {
        let pair = KeyPair::generate().unwrap();
        let (tok, v) = issue(&pair, 1);
        let mut c = VerifiedCache::new(16);
        c.put("t1", &tok, &v, 1_600);
        let live = |k: &str| k == pair.kid();
        assert_eq!(
            c.get::<AccessClaims>("t1", &tok, 1_001, live),
            Some(v.clone())
        );
        assert_eq!(
            c.get::<AccessClaims>("t2", &tok, 1_001, live),
            None,
            "other tenant"
        );
        let mut other = tok.clone();
        other.pop();
        assert_eq!(c.get::<AccessClaims>("t1", &other, 1_001, live), None);
        assert_eq!(
            c.get::<AccessClaims>("t1", &tok, 1_001, |_| false),
            None,
            "key gone"
        );
        assert!(c.is_empty(), "an entry of a dead key is dropped");
        c.put("t1", &tok, &v, 1_600);
        assert_eq!(
            c.get::<AccessClaims>("t1", &tok, 1_600, live),
            None,
            "expired"
        );
        assert!(c.is_empty());
        c.put("t1", &tok, &v, 1_600);
        c.retain_keys("t1", |_| false);
        assert!(
            c.is_empty(),
            "retain_keys drops the tenant's entries of dead keys"
        );
        assert_eq!(
            VerifiedCache::new(0).get::<AccessClaims>("t1", &tok, 1, live),
            None
        );
    }

    #[test]
    fn a_flood_of_distinct_tokens_stays_bounded_and_keeps_recent_ones() {
        let pair = KeyPair::generate().unwrap();
        let mut c = VerifiedCache::new(64);
        let (hot, hv) = issue(&pair, 0);
        c.put("t1", &hot, &hv, 1_600);
        let live = |k: &str| k == pair.kid();
        for n in 1..1_000 {
            let (tok, v) = issue(&pair, n);
            c.put("t1", &tok, &v, 1_600);
            assert!(c.len() <= 64, "{} entries", c.len());
            assert!(c.bytes() <= 64 * BYTES_PER_ENTRY);
            // The token in use stays (it is moved back to the young generation on each use).
            assert!(
                c.get::<AccessClaims>("t1", &hot, 1_001, live).is_some(),
                "at {n}"
            );
        }
    }
}
