//! An [ALTCHA]-compatible proof-of-work challenge (the SHA-256 "v1" PoW of the ALTCHA widget
//! v1/v2 and of `altcha-lib/v1`), as pure logic without I/O.
//!
//! The server answers `GET /api/sso/v1/captcha/challenge` with [`create_challenge`] and checks the
//! payload submitted to a guarded route with [`verify_solution`]. No state is kept between the
//! two: the challenge is authenticated by its HMAC signature and carries its own expiry.
//!
//! ## Formats
//!
//! The challenge, serialised as JSON exactly as the widget's `challengeurl` expects it:
//!
//! ```json
//! {"algorithm":"SHA-256","challenge":"<hex>","maxnumber":100000,
//!  "salt":"<24 hex>?expires=<unix seconds>&","signature":"<hex>"}
//! ```
//!
//! * `salt` = 12 random bytes in lower-case hex, then the URL query `?expires=<unix seconds>`,
//!   then a closing `&` (the delimiter ALTCHA adds so that digits of the number cannot be moved
//!   into the parameters: "parameter splicing");
//! * a secret `number` is drawn uniformly from `0..=maxnumber`;
//! * `challenge` = lower-case hex of SHA-256(`salt` ‖ decimal `number`);
//! * `signature` = lower-case hex of HMAC-SHA-256(key, `challenge` as ASCII hex text).
//!
//! The payload the widget submits: standard base64 (with padding, as `btoa` writes it) of the
//! JSON object `{"algorithm","challenge","number","salt","signature"}` (the widget adds `took`,
//! which is ignored, as are other extra fields). The JSON text itself (starting with `{`) is
//! accepted too, as `altcha-lib`'s `verifySolution` accepts the parsed object.
//!
//! ## Replay
//!
//! A solution stays valid until its challenge expires. **The caller MUST refuse a second use**:
//! store [`Verified::replay_key`] in the hot store with "set if absent" and a time to live of
//! [`Verified::replay_ttl_secs`], and refuse the request when the key was already present.
//!
//! ## Keys shared with other ALTCHA servers
//!
//! `altcha-lib` keys its HMAC with the UTF-8 bytes of a string secret. The key here is 32 raw
//! bytes; to share one key with an `altcha-lib` server, use 32 bytes that are ASCII text.
//!
//! [ALTCHA]: https://altcha.org/docs/server-integration

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use usso_shared::encoding::{b64_decode, b64_encode, hex_encode};
use usso_shared::seal::{derive_key, SecretKey};
use usso_shared::{random, Error, ErrorCode, Result};

/// The only algorithm issued and accepted.
pub const ALGORITHM: &str = "SHA-256";
/// Default difficulty: the largest secret number. Ten times ALTCHA's widget default (about
/// half a million SHA-256 hashes on average, a second or so in a browser), so that each solution
/// costs a guesser real work.
pub const DEFAULT_MAX_NUMBER: u64 = 1_000_000;
/// Default lifetime of a challenge, in seconds.
pub const DEFAULT_TTL_SECS: i64 = 300;
/// Largest payload accepted by [`verify_solution`], checked before any decoding.
pub const MAX_PAYLOAD_BYTES: usize = 4096;
/// Largest `max_number`: JavaScript's `Number.MAX_SAFE_INTEGER`, so the widget counts exactly.
pub const MAX_MAX_NUMBER: u64 = (1 << 53) - 1;
/// Prefix of the hot-store keys of [`Verified::replay_key`].
pub use crate::store::keys::CAPTCHA_REPLAY_PREFIX as REPLAY_KEY_PREFIX;

/// Random bytes of a salt (ALTCHA's default salt length).
const SALT_BYTES: usize = 12;
/// Label deriving the captcha HMAC key from the master key.
const MASTER_LABEL: &[u8] = b"usso:captcha:hmac:v1";

/// Settings of the captcha.
#[derive(Debug, Clone)]
pub struct CaptchaConfig {
    /// The HMAC-SHA-256 key signing challenges.
    pub hmac_key: SecretKey,
    /// Difficulty: the secret number is drawn from `0..=max_number` (at least 1, at most
    /// [`MAX_MAX_NUMBER`]); solutions with a larger number are refused.
    pub max_number: u64,
    /// Lifetime of a challenge in seconds (positive).
    pub ttl_secs: i64,
}

impl CaptchaConfig {
    /// A configuration with the default difficulty and lifetime.
    pub fn new(hmac_key: SecretKey) -> Self {
        Self {
            hmac_key,
            max_number: DEFAULT_MAX_NUMBER,
            ttl_secs: DEFAULT_TTL_SECS,
        }
    }

    /// A configuration whose HMAC key is derived from the service's master key (label
    /// `usso:captcha:hmac:v1`), with the default difficulty and lifetime.
    pub fn from_master(master: &SecretKey) -> Self {
        Self::new(master.derive(MASTER_LABEL))
    }

    fn check(&self) -> Result<()> {
        if self.max_number == 0 || self.max_number > MAX_MAX_NUMBER {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                format!("captcha max_number must be between 1 and {MAX_MAX_NUMBER}"),
            ));
        }
        if self.ttl_secs <= 0 {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                "captcha ttl_secs must be positive",
            ));
        }
        Ok(())
    }
}

/// A challenge as sent to the widget. Serialises to exactly the JSON ALTCHA expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// Lower-case hex SHA-256 of `salt` followed by the decimal secret number.
    pub challenge: String,
    /// The largest number the solver has to try.
    pub maxnumber: u64,
    /// Random hex followed by `?expires=<unix seconds>&`.
    pub salt: String,
    /// Lower-case hex HMAC-SHA-256 of `challenge` under the configured key.
    pub signature: String,
}

/// A solved challenge: the fields of the payload the widget submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    /// The challenge's algorithm.
    pub algorithm: String,
    /// The challenge's hash.
    pub challenge: String,
    /// The number found.
    pub number: u64,
    /// The challenge's salt.
    pub salt: String,
    /// The challenge's signature.
    pub signature: String,
}

impl Solution {
    /// The payload as the widget submits it: standard base64 of the JSON object.
    pub fn to_payload(&self) -> String {
        // Serialising a struct of strings and an integer cannot fail.
        b64_encode(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

/// A verified solution. The caller MUST refuse a second use of it (see [`Self::replay_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a verified solution must be recorded through its replay key to refuse a second use"]
pub struct Verified {
    challenge: String,
    expires_at: i64,
}

impl Verified {
    /// The challenge hash (64 lower-case hex digits), unique per challenge.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// When the challenge expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The hot-store key `usso:captcha:<challenge>` that marks this solution as used. The caller
    /// MUST set it only if absent (with [`Self::replay_ttl_secs`]) and refuse the request when it
    /// existed already; without that, one solution passes any number of times until it expires.
    pub fn replay_key(&self) -> String {
        format!("{REPLAY_KEY_PREFIX}{}", self.challenge)
    }

    /// Seconds the replay key must be kept: until the challenge expires, at least 1.
    pub fn replay_ttl_secs(&self, now: i64) -> u64 {
        u64::try_from(self.expires_at.saturating_sub(now))
            .unwrap_or(0)
            .max(1)
    }
}

/// Creates a fresh challenge expiring at `now + cfg.ttl_secs`.
pub fn create_challenge(cfg: &CaptchaConfig, now: i64) -> Result<Challenge> {
    cfg.check()?;
    let expires = now.checked_add(cfg.ttl_secs).ok_or_else(|| {
        Error::new(
            ErrorCode::ConfigurationError,
            "captcha expiry is out of range",
        )
    })?;
    let salt = format!(
        "{}?expires={expires}&",
        hex_encode(&random::bytes::<SALT_BYTES>()?)
    );
    let number = random_up_to(cfg.max_number)?;
    Ok(build(cfg, salt, number))
}

/// Verifies the payload submitted by the widget at time `now` (seconds since the Unix epoch).
///
/// Refused with `validation_error` (never a panic): payloads over [`MAX_PAYLOAD_BYTES`], anything
/// that is not base64 of JSON (or JSON) with the five fields, another algorithm than SHA-256, a
/// number above `cfg.max_number`, a salt without exactly one `expires` parameter or without the
/// closing `&`, a number that does not solve the challenge, a signature that does not match,
/// and an expired challenge. Success does not stop replays: see [`Verified::replay_key`].
pub fn verify_solution(cfg: &CaptchaConfig, payload: &str, now: i64) -> Result<Verified> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(invalid(format!(
            "captcha payload exceeds {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    let text = payload.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Err(invalid("captcha payload is empty"));
    }
    let json = if text.starts_with('{') {
        text.as_bytes().to_vec()
    } else {
        b64_decode(text).ok_or_else(|| invalid("captcha payload is not base64"))?
    };
    let solution: Solution = serde_json::from_slice(&json).map_err(|_| {
        invalid(
            "captcha payload is not a JSON object with algorithm, challenge, number (a \
             non-negative integer), salt and signature",
        )
    })?;
    if solution.algorithm != ALGORITHM {
        return Err(invalid(format!("captcha algorithm must be {ALGORITHM}")));
    }
    if solution.number > cfg.max_number {
        return Err(invalid("captcha number is above the maximum"));
    }
    let expires_at = salt_expiry(&solution.salt)?;

    let expected_challenge = challenge_hex(&solution.salt, solution.number);
    let expected_signature = hmac_hex(&cfg.hmac_key, &solution.challenge);
    let signature_ok = expected_signature
        .as_bytes()
        .ct_eq(solution.signature.as_bytes());
    let challenge_ok = expected_challenge
        .as_bytes()
        .ct_eq(solution.challenge.as_bytes());
    if !bool::from(signature_ok) {
        return Err(invalid("captcha signature does not match"));
    }
    if !bool::from(challenge_ok) {
        return Err(invalid("captcha number does not solve the challenge"));
    }
    if now > expires_at {
        return Err(invalid("captcha challenge has expired; fetch a new one"));
    }
    Ok(Verified {
        challenge: expected_challenge,
        expires_at,
    })
}

/// Solves a challenge by brute force, as the widget does: the smallest number in
/// `0..=maxnumber` whose hash matches. `None` when there is none (or the challenge is not
/// SHA-256). For tests and non-browser clients; it costs up to `maxnumber` hashes.
pub fn solve(challenge: &Challenge) -> Option<Solution> {
    if challenge.algorithm != ALGORITHM {
        return None;
    }
    let number = (0..=challenge.maxnumber)
        .find(|n| challenge_hex(&challenge.salt, *n) == challenge.challenge)?;
    Some(Solution {
        algorithm: challenge.algorithm.clone(),
        challenge: challenge.challenge.clone(),
        number,
        salt: challenge.salt.clone(),
        signature: challenge.signature.clone(),
    })
}

/// The challenge for a given salt and number.
fn build(cfg: &CaptchaConfig, salt: String, number: u64) -> Challenge {
    let challenge = challenge_hex(&salt, number);
    let signature = hmac_hex(&cfg.hmac_key, &challenge);
    Challenge {
        algorithm: ALGORITHM.to_owned(),
        challenge,
        maxnumber: cfg.max_number,
        salt,
        signature,
    }
}

/// Lower-case hex SHA-256 of `salt` followed by the decimal `number`.
fn challenge_hex(salt: &str, number: u64) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(number.to_string().as_bytes());
    hex_encode(&h.finalize())
}

/// Lower-case hex HMAC-SHA-256(`key`, `message`).
fn hmac_hex(key: &SecretKey, message: &str) -> String {
    hmac_sha256_hex(key.as_bytes(), message.as_bytes())
}

fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // `derive_key` is exactly HMAC-SHA256(ikm, label).
    hex_encode(derive_key(key, message).as_bytes())
}

/// The `expires` (or legacy `expire`) parameter of the salt's query, which must appear exactly
/// once, as decimal seconds; the salt must end with the `&` delimiter.
fn salt_expiry(salt: &str) -> Result<i64> {
    let Some((_, query)) = salt.split_once('?') else {
        return Err(invalid("captcha salt carries no expiry"));
    };
    if !salt.ends_with('&') {
        return Err(invalid("captcha salt must end with the '&' delimiter"));
    }
    let mut found = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "expires" && name != "expire" {
            continue;
        }
        if found.is_some() {
            return Err(invalid("captcha salt carries more than one expiry"));
        }
        let valid =
            !value.is_empty() && value.len() <= 18 && value.bytes().all(|b| b.is_ascii_digit());
        let secs = valid.then(|| value.parse::<i64>().ok()).flatten();
        found = Some(secs.ok_or_else(|| invalid("captcha salt expiry is not a number"))?);
    }
    found.ok_or_else(|| invalid("captcha salt carries no expiry"))
}

/// A uniform random number in `0..=max` (rejection sampling, no modulo bias).
fn random_up_to(max: u64) -> Result<u64> {
    let range = max.checked_add(1).ok_or_else(|| {
        Error::new(
            ErrorCode::ConfigurationError,
            "captcha max_number is too large",
        )
    })?;
    // The largest multiple of `range` that fits; values at or above it are drawn again.
    let zone = u64::MAX - (u64::MAX % range);
    loop {
        let v = u64::from_le_bytes(random::bytes::<8>()?);
        if v < zone {
            return Ok(v % range);
        }
    }
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000;

    fn cfg(max_number: u64) -> CaptchaConfig {
        CaptchaConfig {
            hmac_key: SecretKey::from_bytes([7u8; 32]),
            max_number,
            ttl_secs: 300,
        }
    }

    fn solved(cfg: &CaptchaConfig) -> (Challenge, Solution) {
        let c = create_challenge(cfg, NOW).unwrap();
        let s = solve(&c).expect("a fresh challenge is solvable");
        (c, s)
    }

    fn refused(cfg: &CaptchaConfig, payload: &str, now: i64) -> String {
        let e = verify_solution(cfg, payload, now).expect_err("refused");
        assert_eq!(e.code(), ErrorCode::ValidationError, "{e}");
        e.detail().to_owned()
    }

    fn encode(v: &serde_json::Value) -> String {
        b64_encode(v.to_string().as_bytes())
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn challenge_has_the_altcha_shape() {
        let c = create_challenge(&cfg(DEFAULT_MAX_NUMBER), NOW).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["algorithm", "challenge", "maxnumber", "salt", "signature"]
        );
        assert_eq!(v["algorithm"], "SHA-256");
        assert_eq!(v["maxnumber"], 1_000_000, "not a trivial default");
        let (random_part, query) = c.salt.split_once('?').unwrap();
        assert_eq!(random_part.len(), 24);
        assert!(random_part.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(query, format!("expires={}&", NOW + 300));
        for hex in [&c.challenge, &c.signature] {
            assert_eq!(hex.len(), 64);
            assert!(hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        }
        assert_eq!(c.signature, hmac_hex(&cfg(1).hmac_key, &c.challenge));
        assert_ne!(c, create_challenge(&cfg(DEFAULT_MAX_NUMBER), NOW).unwrap());
    }

    #[test]
    fn a_solved_challenge_verifies_until_it_expires() {
        let cfg = cfg(2_000);
        let (c, s) = solved(&cfg);
        assert!(s.number <= 2_000);
        let v = verify_solution(&cfg, &s.to_payload(), NOW).unwrap();
        assert_eq!(v.challenge(), c.challenge);
        assert_eq!(v.expires_at(), NOW + 300);
        assert_eq!(v.replay_key(), format!("usso:captcha:{}", c.challenge));
        assert_eq!(v.replay_ttl_secs(NOW), 300);
        assert_eq!(v.replay_ttl_secs(NOW + 10_000), 1);
        // The last second is still valid; the next is not.
        let _ = verify_solution(&cfg, &s.to_payload(), NOW + 300).unwrap();
        assert!(refused(&cfg, &s.to_payload(), NOW + 301).contains("expired"));
        // The JSON text itself, surrounding whitespace, and extra widget fields are accepted.
        let mut json = serde_json::to_value(&s).unwrap();
        let _ = verify_solution(&cfg, &json.to_string(), NOW).unwrap();
        let _ = verify_solution(&cfg, &format!(" {}\n", s.to_payload()), NOW).unwrap();
        json["took"] = 42.into();
        let _ = verify_solution(&cfg, &encode(&json), NOW).unwrap();
    }

    #[test]
    fn the_secret_number_covers_the_whole_range() {
        let cfg = cfg(3);
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[usize::try_from(solved(&cfg).1.number).unwrap()] = true;
        }
        assert_eq!(seen, [true; 4], "0..=max_number are all drawn");
        for _ in 0..1000 {
            assert!(random_up_to(5).unwrap() <= 5);
        }
        assert!(random_up_to(MAX_MAX_NUMBER).unwrap() <= MAX_MAX_NUMBER);
    }

    #[test]
    fn tampering_is_refused() {
        let cfg = cfg(1_000);
        let (_, s) = solved(&cfg);

        let mut bad = s.clone();
        bad.signature = hmac_hex(&SecretKey::from_bytes([8u8; 32]), &s.challenge);
        assert!(refused(&cfg, &bad.to_payload(), NOW).contains("signature"));

        let mut bad = s.clone();
        bad.signature = s.signature.to_uppercase();
        assert!(refused(&cfg, &bad.to_payload(), NOW).contains("signature"));

        let mut bad = s.clone();
        bad.number = if s.number == 0 { 1 } else { s.number - 1 };
        assert!(refused(&cfg, &bad.to_payload(), NOW).contains("does not solve"));

        // Another key refuses it.
        let mut other = cfg.clone();
        other.hmac_key = SecretKey::from_bytes([9u8; 32]);
        assert!(refused(&other, &s.to_payload(), NOW).contains("signature"));

        // A longer expiry in the salt breaks the hash.
        let mut bad = s.clone();
        bad.salt = s.salt.replace("expires=", "expires=9");
        assert!(refused(&cfg, &bad.to_payload(), NOW).contains("does not solve"));

        // A self-made challenge (right shape, wrong key) is refused.
        let mut forged_cfg = cfg.clone();
        forged_cfg.hmac_key = SecretKey::from_bytes([1u8; 32]);
        let (_, forged) = solved(&forged_cfg);
        assert!(refused(&cfg, &forged.to_payload(), NOW).contains("signature"));
    }

    #[test]
    fn other_algorithms_are_refused() {
        let cfg = cfg(1_000);
        let (_, s) = solved(&cfg);
        for alg in ["SHA-512", "SHA-1", "sha-256", "", "PBKDF2/SHA-256"] {
            let mut bad = s.clone();
            bad.algorithm = alg.into();
            assert!(refused(&cfg, &bad.to_payload(), NOW).contains("algorithm"));
        }
        let mut c = create_challenge(&cfg, NOW).unwrap();
        c.algorithm = "SHA-1".into();
        assert!(solve(&c).is_none());
    }

    #[test]
    fn numbers_above_the_maximum_are_refused() {
        let big = cfg(1_000_000);
        let c = build(&big, format!("abcdef012345?expires={}&", NOW + 60), 5_000);
        let s = solve(&c).unwrap();
        let _ = verify_solution(&big, &s.to_payload(), NOW).unwrap();
        assert!(refused(&cfg(4_999), &s.to_payload(), NOW).contains("maximum"));
    }

    #[test]
    fn salts_must_carry_one_expiry_and_the_delimiter() {
        let cfg = cfg(100);
        let exp = NOW + 60;
        let cases = [
            ("abcdef012345&".to_owned(), "no expiry"),
            ("abcdef012345?foo=1&".to_owned(), "no expiry"),
            (format!("abcdef012345?expires={exp}"), "delimiter"),
            (
                format!("abcdef012345?expires={exp}&expires={exp}&"),
                "more than one",
            ),
            (
                format!("abcdef012345?expire={exp}&expires={exp}&"),
                "more than one",
            ),
            ("abcdef012345?expires=&".to_owned(), "not a number"),
            ("abcdef012345?expires=-5&".to_owned(), "not a number"),
            ("abcdef012345?expires=1e9&".to_owned(), "not a number"),
            (
                "abcdef012345?expires=99999999999999999999&".to_owned(),
                "not a number",
            ),
        ];
        for (salt, why) in cases {
            let s = solve(&build(&cfg, salt.clone(), 42)).unwrap();
            let detail = refused(&cfg, &s.to_payload(), NOW);
            assert!(detail.contains(why), "{salt}: {detail}");
        }
        // Legacy `expire` and other parameters are fine.
        for salt in [
            format!("abcdef012345?expire={exp}&"),
            format!("abcdef012345?a=b&expires={exp}&c&"),
        ] {
            let s = solve(&build(&cfg, salt, 42)).unwrap();
            assert_eq!(
                verify_solution(&cfg, &s.to_payload(), NOW)
                    .unwrap()
                    .expires_at(),
                exp
            );
        }
    }

    #[test]
    fn parameter_splicing_is_refused() {
        // Without the closing `&`, digits of the number could be moved into the expiry: the hash
        // of `…expires=100` + `23` equals that of `…expires=1002` + `3`.
        let cfg = cfg(100);
        let s = solve(&build(&cfg, format!("abc?expires={}", NOW / 10), 23)).unwrap();
        let mut spliced = s.clone();
        spliced.salt = format!("{}2", s.salt);
        spliced.number = 3;
        assert_eq!(challenge_hex(&spliced.salt, 3), s.challenge);
        assert!(refused(&cfg, &spliced.to_payload(), NOW).contains("delimiter"));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let cfg = cfg(1_000);
        let (_, s) = solved(&cfg);
        let good = serde_json::to_value(&s).unwrap();

        let oversized = "A".repeat(MAX_PAYLOAD_BYTES + 1);
        assert!(refused(&cfg, &oversized, NOW).contains("exceeds"));
        let mut padded = good.clone();
        padded["took"] = "x".repeat(MAX_PAYLOAD_BYTES).into();
        assert!(refused(&cfg, &encode(&padded), NOW).contains("exceeds"));

        for junk in [
            "", "   ", "!!!", "abc", "@@@@", "{", "{}", "[]", "null", "é",
        ] {
            refused(&cfg, junk, NOW);
        }
        for text in [
            "not json",
            "[1,2]",
            "\"str\"",
            "{\"algorithm\":\"SHA-256\"}",
        ] {
            refused(&cfg, &b64_encode(text.as_bytes()), NOW);
        }
        // Unpadded and url-safe base64 are not what `btoa` writes.
        let unpadded = s.to_payload().trim_end_matches('=').to_owned();
        if unpadded.len() != s.to_payload().len() {
            assert!(refused(&cfg, &unpadded, NOW).contains("base64"));
        }
        for field in ["algorithm", "challenge", "number", "salt", "signature"] {
            let mut v = good.clone();
            v.as_object_mut().unwrap().remove(field);
            refused(&cfg, &encode(&v), NOW);
            let mut v = good.clone();
            v[field] = serde_json::Value::Null;
            refused(&cfg, &encode(&v), NOW);
        }
        let huge_numbers = [
            "18446744073709551616",
            "1e30",
            "-1",
            "1.5",
            "\"42\"",
            "99999999999999999999999999999999999999",
        ];
        for n in huge_numbers {
            let text = good.to_string().replacen(
                &format!("\"number\":{}", s.number),
                &format!("\"number\":{n}"),
                1,
            );
            assert!(text.contains(n));
            refused(&cfg, &b64_encode(text.as_bytes()), NOW);
        }
        let mut v = good.clone();
        v["number"] = u64::MAX.into();
        assert!(refused(&cfg, &encode(&v), NOW).contains("maximum"));

        // Random mutations of a valid payload never panic and never pass.
        let payload = s.to_payload().into_bytes();
        for i in 0..2_000 {
            let mut p = payload.clone();
            let r = random::bytes::<3>().unwrap();
            let at = usize::from(u16::from_le_bytes([r[0], r[1]])) % p.len();
            p[at] = if i % 2 == 0 { r[2] } else { r[2] % 64 + b'+' };
            if p == payload {
                continue;
            }
            let text = String::from_utf8_lossy(&p);
            if let Ok(v) = verify_solution(&cfg, &text, NOW) {
                // Only a change that decodes to the same JSON may pass (e.g. none at all).
                assert_eq!(v.challenge(), s.challenge);
            }
        }
    }

    #[test]
    fn bad_configurations_are_refused() {
        for (max, ttl) in [(0, 300), (MAX_MAX_NUMBER + 1, 300), (10, 0), (10, -1)] {
            let mut c = cfg(max);
            c.ttl_secs = ttl;
            let e = create_challenge(&c, NOW).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ConfigurationError);
        }
        let e = create_challenge(&cfg(10), i64::MAX).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ConfigurationError);
        let c = CaptchaConfig::from_master(&SecretKey::from_bytes([3u8; 32]));
        assert_eq!(c.max_number, DEFAULT_MAX_NUMBER);
        assert_eq!(c.ttl_secs, DEFAULT_TTL_SECS);
        assert_ne!(c.hmac_key.as_bytes(), &[3u8; 32]);
        assert!(!format!("{c:?}").contains("3, 3"), "the key is not printed");
    }
}
