//! The client address of a request behind zero or more trusted reverse proxies.
//!
//! Invariant: the address used for rate limits, the audit trail and the session list is one the
//! client cannot choose. Each trusted proxy appends the address of the peer it saw to
//! `X-Forwarded-For` (or adds a `for=` element to RFC 7239 `Forwarded`); everything to the left of
//! what our own proxies wrote is whatever the client sent. So with `hops` trusted proxies the
//! client is the `hops`-th entry from the RIGHT, never the leftmost (which is how an attacker
//! would give every request a fresh address and walk past per-address limits, or plant a
//! spoofed address in the audit log). Entries must parse as IP addresses; anything else is
//! refused rather than used as a free-form key.

use std::net::IpAddr;

/// Why no address could be taken from the forwarding headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadForwarding(pub String);

/// The client address: the socket peer when `hops` is 0 (or no forwarding header came), else
/// the `hops`-th entry from the right of `Forwarded` (preferred) or `X-Forwarded-For`.
/// `headers` are all `(name, value)` pairs of the request, names lower-case.
pub fn resolve(
    peer: Option<IpAddr>,
    headers: &[(String, String)],
    hops: u8,
) -> Result<Option<IpAddr>, BadForwarding> {
    if hops == 0 {
        return Ok(peer);
    }
    let forwarded: Vec<&str> = values(headers, "forwarded");
    let entries: Vec<String> = if !forwarded.is_empty() {
        let mut out = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let for_value = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
            });
            match for_value {
                Some(v) => out.push(v.trim_matches('"').to_owned()),
                None => return Err(BadForwarding("a Forwarded element without for=".into())),
            }
        }
        out
    } else {
        values(headers, "x-forwarded-for")
            .iter()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .collect()
    };
    if entries.is_empty() {
        return Ok(peer);
    }
    let Some(entry) = entries
        .len()
        .checked_sub(hops as usize)
        .map(|i| &entries[i])
    else {
        // Fewer entries than trusted proxies: the request did not come through all of them,
        // so every entry may be the client's own words.
        return Ok(peer);
    };
    parse_node(entry)
        .map(Some)
        .ok_or_else(|| BadForwarding(format!("not an IP address: `{}`", shown(entry))))
}

fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return inside.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (host, port) = s.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

fn shown(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    const PEER: &str = "127.0.0.1";

    fn get(pairs: &[(&str, &str)], hops: u8) -> Result<Option<String>, BadForwarding> {
        resolve(Some(PEER.parse().unwrap()), &h(pairs), hops).map(|a| a.map(|a| a.to_string()))
    }

    #[test]
    fn no_trusted_proxy_means_the_socket_peer() {
        assert_eq!(
            get(&[("x-forwarded-for", "6.6.6.6")], 0),
            Ok(Some(PEER.into()))
        );
    }

    #[test]
    fn the_rightmost_entries_are_the_trusted_ones() {
        // The client prepended a spoofed address; our one proxy appended the real one.
        let xff = [("x-forwarded-for", "6.6.6.6, 203.0.113.7")];
        assert_eq!(get(&xff, 1), Ok(Some("203.0.113.7".into())));
        let two = [("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")];
        assert_eq!(get(&two, 2), Ok(Some("203.0.113.7".into())));
        // Several header lines are one list, in order.
        let lines = [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.9"),
        ];
        assert_eq!(get(&lines, 1), Ok(Some("203.0.113.9".into())));
        // Fewer entries than proxies: not through our proxies, so the peer.
        assert_eq!(
            get(&[("x-forwarded-for", "6.6.6.6")], 2),
            Ok(Some(PEER.into()))
        );
    }

    #[test]
    fn rfc7239_forwarded_wins_and_is_parsed() {
        let f = [
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ];
        assert_eq!(get(&f, 1), Ok(Some("2001:db8:cafe::17".into())));
        assert_eq!(get(&f, 2), Ok(Some("6.6.6.6".into())));
        assert_eq!(
            get(&[("forwarded", "For=192.0.2.60:8080;by=203.0.113.43")], 1),
            Ok(Some("192.0.2.60".into()))
        );
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "evil",
            "1.2.3.4.5",
            "[::1",
            "1.2.3.4:99999x",
            "",
            "unknown",
            "_hidden",
        ] {
            assert!(
                get(&[("x-forwarded-for", &format!("1.1.1.1, {bad}"))], 1).is_err(),
                "{bad}"
            );
        }
        assert!(get(&[("forwarded", "proto=https")], 1).is_err());
        assert!(get(&[("forwarded", "for=\"_hidden\"")], 1).is_err());
    }
}
