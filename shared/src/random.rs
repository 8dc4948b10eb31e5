//! Randomness from the platform's CSPRNG (`getrandom`: the OS natively, WASI's random on
//! `wasm32-wasip2`, `crypto.getRandomValues` on Workers).

use crate::encoding::b64url_encode;
use crate::error::{Error, ErrorCode, Result};

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| {
        Error::new(
            ErrorCode::InternalError,
            format!("random source failed: {e}"),
        )
    })
}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    fill(&mut b)?;
    Ok(b)
}

/// A random token identifier (`jti`): 192 random bits, base64url without padding (32 chars).
pub fn token_id() -> Result<String> {
    Ok(b64url_encode(&bytes::<24>()?))
}

/// A random opaque identifier for sessions and similar records: 128 bits, lower-case hex.
pub fn hex_id() -> Result<String> {
    Ok(crate::encoding::hex_encode(&bytes::<16>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_long_enough() {
        let a = token_id().unwrap();
        let b = token_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(hex_id().unwrap().len(), 32);
    }
}
