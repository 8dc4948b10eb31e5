//! Issuing and verifying EdDSA JWTs with `jwt-compact` and `ed25519-dalek`.
//!
//! The stages are types, in the spirit of `jwt-compact`: a string becomes an
//! [`UnverifiedToken`] (parsed, nothing trusted), and only its `verify*` methods yield a
//! [`Verified`] token, after the signature (the one rule of [`crate::ed25519`]) and every claim
//! rule passed. The signature arithmetic may run on the platform's own Ed25519
//! ([`SignatureCheck`], WebCrypto on Workers); the byte-level half of the rule and every claim
//! rule always run here.
//!
//! The algorithm is fixed: [`EdDsa`] accepts nothing but `"alg":"EdDSA"` and the key is chosen by
//! `kid` from the tenant's [`KeyRing`], never from `jku`, `x5u` or `jwk` header fields, which are
//! ignored.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use jwt_compact::{Algorithm, AlgorithmExt, AlgorithmSignature, Claims, Header};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::claims::TokenClaims;
use crate::error::{Error, ErrorCode, Result};
use crate::keys::{KeyPair, KeyRing, MAX_KID_LEN};

/// Longest token accepted (bytes). Ours are well under 2 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Largest clock leeway a validation may use.
pub const MAX_LEEWAY_SECS: i64 = 60;
/// Leeway used by default.
pub const DEFAULT_LEEWAY_SECS: i64 = 30;

/// Ed25519 under the rule of [`crate::ed25519`] (`verify_strict` plus a canonical key). Named
/// `EdDSA`, the only `alg` value accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct EdDsa;

impl Algorithm for EdDsa {
    type SigningKey = SigningKey;
    type VerifyingKey = VerifyingKey;
    type Signature = Signature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("EdDSA")
    }

    fn sign(&self, signing_key: &SigningKey, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        signing_key.sign(message)
    }

    fn verify_signature(&self, sig: &Signature, key: &VerifyingKey, message: &[u8]) -> bool {
        crate::ed25519::verify(key, message, &sig.to_bytes())
    }
}

/// The JOSE header fields read. `crit` is refused (we implement no extension), and so is `cty`
/// (no nested tokens); `jku`, `x5u`, `jwk` and every other field are ignored.
#[derive(Debug, Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    cty: Option<IgnoredAny>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// `exp`, `nbf` and `iat` as found at the top level of the payload.
#[derive(Debug, Default, Clone, Copy)]
struct RawTimes {
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
}

/// The largest timestamp accepted (the end of year 9999).
const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// The times of a token, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTimes {
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires at.
    pub exp: i64,
}

impl TokenTimes {
    /// Times for a token issued at `now` that lives `ttl_secs`.
    pub fn starting_at(now: i64, ttl_secs: i64) -> Self {
        Self {
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl_secs),
        }
    }
}

fn to_datetime(t: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(t, 0).ok_or_else(|| Error::internal("time out of range"))
}

/// `typ` of access tokens issued to OAuth clients (RFC 9068 §2.1).
pub const TYP_AT_JWT: &str = "at+jwt";

/// Signs `claims` with the key pair; the header is `{"alg":"EdDSA","kid":…,"typ":"JWT"}`.
pub fn sign<C: TokenClaims>(key: &KeyPair, times: TokenTimes, claims: &C) -> Result<String> {
    sign_typed(key, times, claims, "JWT")
}

/// [`sign`] with another `typ` ([`TYP_AT_JWT`] for OAuth access tokens).
pub fn sign_typed<C: TokenClaims>(
    key: &KeyPair,
    times: TokenTimes,
    claims: &C,
    typ: &str,
) -> Result<String> {
    let header = Header::empty().with_key_id(key.kid()).with_token_type(typ);
    let mut envelope = Claims::new(claims);
    envelope.issued_at = Some(to_datetime(times.iat)?);
    envelope.not_before = Some(to_datetime(times.nbf)?);
    envelope.expiration = Some(to_datetime(times.exp)?);
    EdDsa
        .token(&header, &envelope, key.signing_key())
        .map_err(|e| Error::internal(format!("signing failed: {e}")))
}

/// The rules a token must meet besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`; `None` when the tenant issues no audience (then a token with `aud` fails).
    pub audience: Option<String>,
    /// Expected `tenant_id`.
    pub tenant_id: String,
    leeway: i64,
}

impl Validation {
    /// Rules for one tenant, with the default leeway.
    pub fn new(
        issuer: impl Into<String>,
        audience: Option<String>,
        tenant_id: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience,
            tenant_id: tenant_id.into(),
            leeway: DEFAULT_LEEWAY_SECS,
        }
    }

    /// Sets the clock leeway, clamped to `0..=MAX_LEEWAY_SECS`.
    pub fn with_leeway(mut self, secs: i64) -> Self {
        self.leeway = secs.clamp(0, MAX_LEEWAY_SECS);
        self
    }

    /// The leeway in seconds.
    pub fn leeway(&self) -> i64 {
        self.leeway
    }
}

/// A token that was parsed but not verified: nothing in it is trusted yet.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    raw: &'a str,
    /// Length of the signing input (`header.payload`).
    signed_len: usize,
    kid: String,
    /// The decoded payload (its JSON checked for duplicate keys).
    payload: Vec<u8>,
    times: RawTimes,
    /// The signature, when it has the length of one.
    sig: Option<[u8; 64]>,
}

/// Where the signature equations are computed: [`PortableSignatures`] (`ed25519-dalek`, and
/// ring's or the `p256` crate's P-256) natively and on WASI, the platform's own (node:crypto or
/// WebCrypto) on Workers.
pub trait SignatureCheck {
    /// Whether the Ed25519 `sig` over `message` verifies under `key`. The caller has already
    /// applied [`crate::ed25519::signature_shape_ok`] and the key passed
    /// [`crate::ed25519::public_key`], so every implementation of the cofactorless equation
    /// gives the same answer.
    fn ed25519(
        &self,
        key: &VerifyingKey,
        message: &[u8],
        sig: &[u8; 64],
    ) -> impl core::future::Future<Output = bool> + crate::transport::MaybeSend;

    /// Whether the ES256 `sig` (JWS `r || s`) over `message` verifies under the P-256 `key` (a
    /// point already checked to lie on the curve). ECDSA verification has one meaning: every
    /// implementation gives the same answer, the portable one by default.
    fn es256(
        &self,
        key: &p256::ecdsa::VerifyingKey,
        message: &[u8],
        sig: &[u8; 64],
    ) -> impl core::future::Future<Output = bool> + crate::transport::MaybeSend {
        core::future::ready(crate::client_key::es256(key, message, sig))
    }
}

/// [`SignatureCheck`] with the portable arithmetic, no I/O.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortableSignatures;

impl SignatureCheck for PortableSignatures {
    async fn ed25519(&self, key: &VerifyingKey, message: &[u8], sig: &[u8; 64]) -> bool {
        crate::ed25519::verify(key, message, sig)
    }
}

fn malformed(detail: &str) -> Error {
    Error::invalid_token(format!("malformed token: {detail}"))
}

impl<'a> UnverifiedToken<'a> {
    /// Parses a compact JWS. Rejects oversized input, non-ASCII, anything but three
    /// base64url segments, malformed or duplicate-key JSON, unknown critical headers, any `alg`
    /// but `EdDSA`, and a missing, empty or oversized `kid`.
    pub fn parse(token: &'a str) -> Result<Self> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("too long"));
        }
        if !token.is_ascii() {
            return Err(malformed("not ASCII"));
        }
        let mut parts = token.splitn(4, '.');
        let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not three segments"));
        };
        let decode = |segment: &str| {
            crate::encoding::b64url_decode_public(segment).ok_or_else(|| malformed("bad base64url"))
        };
        // serde keeps the last of duplicate keys in maps and ignores unknown ones, so an
        // ambiguous document could mean two things to two parsers: refuse it outright. Each
        // segment is decoded once; the payload's check also reads its times.
        let header_json = decode(header_b64)?;
        if !has_unique_keys(&header_json) {
            return Err(malformed("duplicate or invalid JSON"));
        }
        let payload = decode(payload_b64)?;
        let times = top_level_times(&payload)?;
        let sig = decode(sig_b64)?.try_into().ok();
        let header: RawHeader =
            serde_json::from_slice(&header_json).map_err(|_| malformed("bad header"))?;
        if header.alg != "EdDSA" {
            return Err(Error::invalid_token("algorithm not allowed"));
        }
        if header.crit.is_some() {
            return Err(Error::invalid_token("unsupported critical header"));
        }
        if header.cty.is_some() {
            return Err(malformed("unsupported cty"));
        }
        if let Some(typ) = &header.typ {
            // `JWT`, or RFC 9068's `at+jwt` (its media-type spelling too); the claims'
            // `token_type` still decides what the token is.
            let t = typ.to_ascii_lowercase();
            if !matches!(t.as_str(), "jwt" | "at+jwt" | "application/at+jwt") {
                return Err(Error::invalid_token("unexpected typ"));
            }
        }
        let kid = match header.kid {
            Some(kid) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => kid,
            _ => return Err(Error::invalid_token("missing or invalid kid")),
        };
        Ok(Self {
            raw: token,
            signed_len: header_b64.len() + 1 + payload_b64.len(),
            kid,
            payload,
            times,
            sig,
        })
    }

    /// The signing input and the 64-byte signature; `None` when the signature has another
    /// length.
    pub fn signed(&self) -> Option<(&'a [u8], [u8; 64])> {
        Some((self.raw.get(..self.signed_len)?.as_bytes(), self.sig?))
    }

    /// The `kid` header (present, non-empty and bounded, checked by [`Self::parse`]).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Verifies the signature with the ring's key for `kid`, then the claim rules at `now`.
    pub fn verify<C: TokenClaims>(
        &self,
        ring: &KeyRing,
        rules: &Validation,
        now: i64,
    ) -> Result<Verified<C>> {
        let key = ring
            .find(self.kid(), now)
            .ok_or_else(|| Error::invalid_token("unknown signing key"))?;
        self.verify_with_key(key, rules, now)
    }

    /// Like [`Self::verify`] with an explicit key (the caller looked it up by [`Self::kid`]).
    pub fn verify_with_key<C: TokenClaims>(
        &self,
        key: &VerifyingKey,
        rules: &Validation,
        now: i64,
    ) -> Result<Verified<C>> {
        let (input, sig) = self.signed().ok_or_else(bad_signature)?;
        if !crate::ed25519::verify(key, input, &sig) {
            return Err(bad_signature());
        }
        self.accept(rules, now)
    }

    /// Like [`Self::verify_with_key`], with the equation computed by `check` (the platform's
    /// Ed25519); the byte-level checks of the signature and the claim rules run here.
    pub async fn verify_with_check<C: TokenClaims, V: SignatureCheck>(
        &self,
        check: &V,
        key: &VerifyingKey,
        rules: &Validation,
        now: i64,
    ) -> Result<Verified<C>> {
        let (input, sig) = self.signed().ok_or_else(bad_signature)?;
        if !crate::ed25519::signature_shape_ok(&sig) || !check.ed25519(key, input, &sig).await {
            return Err(bad_signature());
        }
        self.accept(rules, now)
    }

    /// The claim rules, once the signature is known good (private: only the `verify*`
    /// methods reach it).
    fn accept<C: TokenClaims>(&self, rules: &Validation, now: i64) -> Result<Verified<C>> {
        let claims: C =
            serde_json::from_slice(&self.payload).map_err(|_| malformed("bad claims"))?;
        let RawTimes { exp, nbf, iat } = self.times;
        let times = check_times(iat, nbf, exp, now, rules.leeway)?;
        check_claims(&claims, rules)?;
        Ok(Verified {
            claims,
            times,
            kid: self.kid.clone(),
        })
    }
}

fn bad_signature() -> Error {
    Error::invalid_token("bad signature")
}

fn check_times(
    iat: Option<i64>,
    nbf: Option<i64>,
    exp: Option<i64>,
    now: i64,
    leeway: i64,
) -> Result<TokenTimes> {
    let exp = exp.ok_or_else(|| Error::invalid_token("missing exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(Error::new(ErrorCode::TokenExpired, "token has expired"));
    }
    if nbf.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
        return Err(Error::new(
            ErrorCode::TokenNotYetValid,
            "nbf is in the future",
        ));
    }
    if iat.is_some_and(|iat| now.saturating_add(leeway) < iat) {
        return Err(Error::new(
            ErrorCode::TokenNotYetValid,
            "iat is in the future",
        ));
    }
    let iat = iat.unwrap_or(now);
    Ok(TokenTimes {
        iat,
        nbf: nbf.unwrap_or(iat),
        exp,
    })
}

fn check_claims<C: TokenClaims>(claims: &C, rules: &Validation) -> Result<()> {
    if claims.token_type() != C::TOKEN_TYPE {
        return Err(Error::invalid_token("wrong token_type"));
    }
    if claims.issuer() != rules.issuer {
        return Err(Error::invalid_token("wrong issuer"));
    }
    match (claims.audience(), rules.audience.as_deref()) {
        (None, None) => {}
        (Some(aud), Some(expected)) if aud.contains(expected) => {}
        _ => return Err(Error::invalid_token("wrong audience")),
    }
    if claims.tenant_id() != Some(rules.tenant_id.as_str()) {
        return Err(Error::invalid_token("wrong tenant"));
    }
    if claims.jti().is_empty() {
        return Err(Error::invalid_token("missing jti"));
    }
    Ok(())
}

/// A token whose signature and claims were verified. Only [`UnverifiedToken::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<C> {
    claims: C,
    times: TokenTimes,
    kid: String,
}

impl<C> Verified<C> {
    /// The verified claims.
    pub fn claims(&self) -> &C {
        &self.claims
    }
    /// The claims, by value.
    pub fn into_claims(self) -> C {
        self.claims
    }
    /// `iat`, `nbf`, `exp`.
    pub fn times(&self) -> TokenTimes {
        self.times
    }
    /// The `kid` that verified it.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

impl<C: Serialize> Serialize for Verified<C> {
    /// The claims as they were in the token, times included.
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a, C> {
            iat: i64,
            nbf: i64,
            exp: i64,
            #[serde(flatten)]
            claims: &'a C,
        }
        Out {
            iat: self.times.iat,
            nbf: self.times.nbf,
            exp: self.times.exp,
            claims: &self.claims,
        }
        .serialize(s)
    }
}

/// Parses then verifies in one call.
pub fn verify<C: TokenClaims>(
    token: &str,
    ring: &KeyRing,
    rules: &Validation,
    now: i64,
) -> Result<Verified<C>> {
    UnverifiedToken::parse(token)?.verify(ring, rules, now)
}

/// The payload must be one JSON object in which no object repeats a key; its top-level
/// `exp`, `nbf` and `iat`, if present, are whole seconds within years 0–9999 (or `null`).
fn top_level_times(json: &[u8]) -> Result<RawTimes> {
    struct Top(RawTimes);
    impl<'de> Deserialize<'de> for Top {
        fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
            d.deserialize_map(TopVisitor)
        }
    }
    struct TopVisitor;
    impl<'de> Visitor<'de> for TopVisitor {
        type Value = Top;
        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, a: A) -> core::result::Result<Top, A::Error> {
            let mut times = RawTimes::default();
            unique_entries(a, |key, a| {
                let slot = match key {
                    "exp" => &mut times.exp,
                    "nbf" => &mut times.nbf,
                    "iat" => &mut times.iat,
                    _ => return a.next_value::<Unique>().map(drop),
                };
                *slot = a.next_value::<Option<NumericDate>>()?.map(|t| t.0);
                Ok(())
            })?;
            Ok(Top(times))
        }
    }
    serde_json::from_slice::<Top>(json)
        .map(|t| t.0)
        .map_err(|_| malformed("duplicate key, bad times or invalid JSON in claims"))
}

/// RFC 7519 NumericDate: whole or fractional seconds (fractions dropped), within ±year 9999.
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_i64<E: serde::de::Error>(
                self,
                t: i64,
            ) -> core::result::Result<NumericDate, E> {
                match (-MAX_TIMESTAMP..=MAX_TIMESTAMP).contains(&t) {
                    true => Ok(NumericDate(t)),
                    false => Err(E::custom("time out of range")),
                }
            }
            fn visit_u64<E: serde::de::Error>(
                self,
                t: u64,
            ) -> core::result::Result<NumericDate, E> {
                self.visit_i64(i64::try_from(t).map_err(|_| E::custom("time out of range"))?)
            }
            fn visit_f64<E: serde::de::Error>(
                self,
                t: f64,
            ) -> core::result::Result<NumericDate, E> {
                let bound = MAX_TIMESTAMP as f64;
                match t.is_finite() && (-bound..=bound).contains(&t) {
                    true => Ok(NumericDate(t.floor() as i64)),
                    false => Err(E::custom("time out of range")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One JSON value in which no object repeats a key (see [`has_unique_keys`]).
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;
    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> core::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> core::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> core::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> core::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> core::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> core::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> core::result::Result<Unique, A::Error> {
        while a.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_map<A: MapAccess<'de>>(self, a: A) -> core::result::Result<Unique, A::Error> {
        unique_entries(a, |_, a| a.next_value::<Unique>().map(drop))?;
        Ok(Unique)
    }
}

/// Walks a JSON object, refusing a key seen before, and lets `value` read each entry's value.
fn unique_entries<'de, A: MapAccess<'de>>(
    mut a: A,
    mut value: impl FnMut(&str, &mut A) -> core::result::Result<(), A::Error>,
) -> core::result::Result<(), A::Error> {
    let mut keys: Vec<Cow<'de, str>> = Vec::new();
    while let Some(key) = a.next_key::<Cow<'de, str>>()? {
        if keys.contains(&key) {
            return Err(serde::de::Error::custom("duplicate key"));
        }
        value(&key, &mut a)?;
        keys.push(key);
    }
    Ok(())
}

/// Whether `json` is one valid JSON value in which no object repeats a key (nesting bounded by
/// serde_json's recursion limit).
fn has_unique_keys(json: &[u8]) -> bool {
    serde_json::from_slice::<Unique>(json).is_ok()
}

/// The signature of an EdDSA token is always 64 bytes.
pub const SIGNATURE_LEN: usize = match Signature::LENGTH {
    Some(n) => n.get(),
    None => 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keys() {
        assert!(has_unique_keys(
            br#"{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}"#
        ));
        assert!(!has_unique_keys(br#"{"a":1,"a":2}"#));
        assert!(!has_unique_keys(br#"{"x":{"a":1,"a":1}}"#));
        assert!(!has_unique_keys(br#"{"a":1"#));
        assert!(!has_unique_keys(br#"{"a":1} trailing"#));
        assert!(
            !has_unique_keys(br#"{"\u0061":1,"a":2}"#),
            "escaped duplicate"
        );
        assert_eq!(SIGNATURE_LEN, 64);
    }
}
