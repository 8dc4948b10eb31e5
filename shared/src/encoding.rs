//! Small encoding helpers: base64url without padding (strict, constant-time) and hex.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};

/// Standard base64 with padding (RFC 4648 §4), as `atob` reads it.
pub fn b64_encode(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Strict standard base64 with padding.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    Base64::decode_vec(s).ok()
}

/// Base64url without padding.
pub fn b64url_encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Strict base64url without padding: rejects padding, other alphabets and non-canonical
/// trailing bits.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(s).ok()
}

/// [`b64url_decode`] with a lookup table instead of constant-time arithmetic, for public data
/// only (the segments of a token: their timing reveals nothing secret). The same strictness:
/// no padding, only the URL-safe alphabet, no length of 1 mod 4, zero trailing bits.
pub fn b64url_decode_public(s: &str) -> Option<Vec<u8>> {
    const INVALID: u8 = 0xff;
    const TABLE: [u8; 256] = {
        let mut t = [INVALID; 256];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut i = 0;
        while i < 64 {
            t[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        t
    };
    let s = s.as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let mut chunks = s.chunks_exact(4);
    for c in &mut chunks {
        let (a, b, d, e) = (
            TABLE[c[0] as usize],
            TABLE[c[1] as usize],
            TABLE[c[2] as usize],
            TABLE[c[3] as usize],
        );
        if a > 63 || b > 63 || d > 63 || e > 63 {
            return None;
        }
        let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(d) << 6) | u32::from(e);
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest = chunks.remainder();
    let mut n = 0u32;
    for (i, &ch) in rest.iter().enumerate() {
        let v = TABLE[ch as usize];
        if v > 63 {
            return None;
        }
        n |= u32::from(v) << (18 - 6 * i);
    }
    match rest.len() {
        0 => {}
        2 if n & 0xffff == 0 => out.push((n >> 16) as u8),
        3 if n & 0xff == 0 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]),
        _ => return None,
    }
    Some(out)
}

/// Lower-case hex.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes hex (either case) into exactly `N` bytes.
pub fn hex_decode<const N: usize>(s: &str) -> Option<[u8; N]> {
    hex_decode_vec(s)?.try_into().ok()
}

/// Decodes hex (either case) of any even length.
pub fn hex_decode_vec(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex_encode(&b), "0001abff");
        assert_eq!(hex_decode::<4>("0001ABff"), Some(b));
        assert_eq!(hex_decode_vec("0001abff"), Some(b.to_vec()));
        assert_eq!(hex_decode_vec(""), Some(vec![]));
        assert_eq!(hex_decode_vec("abc"), None);
        assert_eq!(hex_decode_vec("zz"), None);
    }

    #[test]
    fn public_base64url_decoding_matches_the_strict_one() {
        let mut inputs: Vec<String> = (0..70u8)
            .map(|n| b64url_encode(&(0..n).map(|i| i.wrapping_mul(37)).collect::<Vec<_>>()))
            .collect();
        // Non-canonical trailing bits, padding, other alphabets, bad lengths, bytes past ASCII.
        for bad in [
            "AB", "AAB", "QR", "QUJ", "QQ==", "ab+/", "a", "abcde", "ab c", "é", "AA=A",
        ] {
            inputs.push(bad.to_owned());
        }
        for x in &inputs {
            assert_eq!(b64url_decode_public(x), b64url_decode(x), "{x:?}");
        }
        assert_eq!(hex_decode::<4>("0001abf"), None);
        assert_eq!(hex_decode::<4>("0001abfg"), None);
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64url_decode("AQI").unwrap(), vec![1, 2]);
        assert!(b64url_decode("AQI=").is_none(), "padding");
        assert!(
            b64url_decode("AQJ").is_none(),
            "non-canonical trailing bits"
        );
        assert!(b64url_decode("A+I").is_none(), "standard alphabet");
        assert_eq!(b64url_encode(&[0xfb, 0xff]), "-_8");
    }
}
