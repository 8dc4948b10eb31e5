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
