//! MongoDB Extended JSON v2, as the Data API speaks it: encoding plain JSON documents in
//! canonical form (so 64-bit integers and doubles keep their BSON types), typed values (dates,
//! ObjectIds, 64-bit integers, binary), and decoding answers in canonical or relaxed form.
//!
//! Plain JSON ↔ BSON mapping used for stored bodies: integers within `i32` are `int32`, other
//! integers `int64`, other numbers `double`; strings, booleans, null, objects and arrays map
//! directly. A field name that starts with `$` or contains a NUL cannot be stored (MongoDB
//! reserves them) and is refused.

use chrono::{Datelike, NaiveDate, Timelike};
use serde_json::{json, Map, Number, Value};

use crate::encoding::hex_encode;
use crate::{Error, ErrorCode, Result};

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn malformed(detail: impl Into<String>) -> Error {
    Error::unavailable(format!("malformed Extended JSON: {}", detail.into()))
}

/// A plain JSON value as canonical Extended JSON (see the module docs for the mapping).
pub fn to_canonical(v: &Value) -> Result<Value> {
    Ok(match v {
        Value::Number(n) => number(n)?,
        Value::Array(items) => Value::Array(items.iter().map(to_canonical).collect::<Result<_>>()?),
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                if k.starts_with('$') || k.contains('\0') {
                    return Err(invalid(format!("field name `{k}` cannot be stored")));
                }
                out.insert(k.clone(), to_canonical(v)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn number(n: &Number) -> Result<Value> {
    if let Some(i) = n.as_i64() {
        return Ok(if i32::try_from(i).is_ok() {
            json!({ "$numberInt": i.to_string() })
        } else {
            long(i)
        });
    }
    if n.is_u64() {
        return Err(invalid("integer beyond the 64-bit signed range"));
    }
    Ok(double(n.as_f64().unwrap_or(f64::NAN)))
}

/// `{"$numberLong": "…"}`.
pub fn long(i: i64) -> Value {
    json!({ "$numberLong": i.to_string() })
}

/// `{"$numberDouble": "…"}` (shortest round-trip form; `Infinity`, `-Infinity`, `NaN`).
pub fn double(f: f64) -> Value {
    let text = if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f:?}")
    };
    json!({ "$numberDouble": text })
}

/// A UTC date as `{"$date": {"$numberLong": "<ms since the epoch>"}}`.
pub fn date_ms(ms: i64) -> Value {
    json!({ "$date": long(ms) })
}

/// An ObjectId from 24 hex digits (either case), or `None`.
pub fn object_id(hex: &str) -> Option<Value> {
    (hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| json!({ "$oid": hex.to_ascii_lowercase() }))
}

/// Binary data with a BSON subtype (0 = generic).
pub fn binary(bytes: &[u8], subtype: u8) -> Value {
    json!({ "$binary": { "base64": crate::encoding::b64_encode(bytes), "subType": format!("{subtype:02x}") } })
}

/// The single `$`-key wrapper of a value, if it is one: `("$numberLong", inner)`.
fn wrapper(v: &Value) -> Option<(&str, &Value)> {
    let map = v.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let (k, inner) = map.iter().next()?;
    k.starts_with('$').then_some((k.as_str(), inner))
}

/// A 64-bit integer from a plain JSON integer, `$numberInt` or `$numberLong`.
pub fn parse_long(v: &Value) -> Option<i64> {
    match wrapper(v) {
        Some(("$numberLong" | "$numberInt", Value::String(s))) => s.parse().ok(),
        None => v.as_i64(),
        _ => None,
    }
}

/// A date (ms since the epoch) from canonical (`{"$date": {"$numberLong": …}}`), relaxed
/// (`{"$date": "ISO-8601"}`) or legacy (`{"$date": <number>}`) form.
pub fn parse_date_ms(v: &Value) -> Option<i64> {
    match wrapper(v)? {
        ("$date", Value::String(s)) => parse_iso8601_ms(s),
        ("$date", inner) => parse_long(inner),
        _ => None,
    }
}

/// ObjectId hex from `{"$oid": …}`.
pub fn parse_object_id(v: &Value) -> Option<String> {
    match wrapper(v)? {
        ("$oid", Value::String(s)) => object_id(s).map(|_| s.to_ascii_lowercase()),
        _ => None,
    }
}

/// Bytes and subtype from `{"$binary": {"base64": …, "subType": "hh"}}`.
pub fn parse_binary(v: &Value) -> Option<(Vec<u8>, u8)> {
    match wrapper(v)? {
        ("$binary", Value::Object(b)) => {
            let bytes = crate::encoding::b64_decode(b.get("base64")?.as_str()?)?;
            let subtype = u8::from_str_radix(b.get("subType")?.as_str()?, 16).ok()?;
            Some((bytes, subtype))
        }
        _ => None,
    }
}

/// Decodes Extended JSON (canonical or relaxed) into plain JSON: numbers become JSON numbers,
/// dates their milliseconds since the epoch, ObjectIds their hex, binary its base64, decimals
/// their text. Non-finite doubles have no JSON form and are refused; so are unknown or
/// malformed `$` wrappers (a server bug or a corrupted answer: `service_unavailable`).
pub fn to_plain(v: &Value) -> Result<Value> {
    if let Some((key, inner)) = wrapper(v) {
        return Ok(match key {
            "$numberInt" | "$numberLong" => {
                Value::from(parse_long(v).ok_or_else(|| malformed(format!("bad {key}")))?)
            }
            "$numberDouble" => {
                let f: f64 = inner
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| malformed("bad $numberDouble"))?;
                Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| malformed("non-finite double"))?
            }
            "$numberDecimal" => Value::String(
                inner
                    .as_str()
                    .ok_or_else(|| malformed("bad $numberDecimal"))?
                    .to_owned(),
            ),
            "$date" => Value::from(parse_date_ms(v).ok_or_else(|| malformed("bad $date"))?),
            "$oid" => Value::String(parse_object_id(v).ok_or_else(|| malformed("bad $oid"))?),
            "$binary" => {
                let (bytes, _) = parse_binary(v).ok_or_else(|| malformed("bad $binary"))?;
                Value::String(crate::encoding::b64_encode(&bytes))
            }
            other => return Err(malformed(format!("unsupported type {other}"))),
        });
    }
    Ok(match v {
        Value::Array(items) => Value::Array(items.iter().map(to_plain).collect::<Result<_>>()?),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), to_plain(v)?)))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)` into ms since the epoch.
pub fn parse_iso8601_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut millis = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = s.get(start..i)?;
        if frac.is_empty() {
            return None;
        }
        let padded: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = padded.parse().ok()?;
    }
    let offset_secs: i64 = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let hh: i64 = tz.get(1..3)?.parse().ok()?;
            let mm: i64 = tz.get(4..6)?.parse().ok()?;
            let secs = hh * 3600 + mm * 60;
            if tz.starts_with('-') {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let dt = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?
        .and_hms_milli_opt(h, mi, sec, millis)?;
    Some(dt.and_utc().timestamp_millis() - offset_secs * 1000)
}

/// Formats ms since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (relaxed EJSON), for logs and
/// exports.
pub fn format_iso8601_ms(ms: i64) -> Option<String> {
    let dt = chrono::DateTime::from_timestamp_millis(ms)?.naive_utc();
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.and_utc().timestamp_subsec_millis()
    ))
}

/// Lower-case hex of 12 random bytes: a fresh ObjectId-shaped id (no timestamp semantics).
pub fn random_object_id() -> Result<String> {
    let bytes: [u8; 12] = crate::random::bytes()?;
    Ok(hex_encode(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_numbers_keep_their_types() {
        let v = json!({"a": 1, "b": -2147483649i64, "c": 1.5, "d": 2.0, "e": [i64::MAX], "s": "x", "n": null});
        let c = to_canonical(&v).unwrap();
        assert_eq!(c["a"], json!({"$numberInt": "1"}));
        assert_eq!(c["b"], json!({"$numberLong": "-2147483649"}));
        assert_eq!(c["c"], json!({"$numberDouble": "1.5"}));
        assert_eq!(c["d"], json!({"$numberDouble": "2.0"}));
        assert_eq!(c["e"][0], json!({"$numberLong": i64::MAX.to_string()}));
        assert_eq!(to_plain(&c).unwrap(), v);
        assert_eq!(
            to_canonical(&json!({"$where": 1})).unwrap_err().code(),
            ErrorCode::ValidationError
        );
        assert_eq!(
            to_canonical(&json!({"a": {"$gt": 1}})).unwrap_err().code(),
            ErrorCode::ValidationError
        );
        assert!(to_canonical(&json!(u64::MAX)).is_err());
    }

    #[test]
    fn typed_values_round_trip() {
        let ms = 1_780_000_000_123;
        assert_eq!(parse_date_ms(&date_ms(ms)), Some(ms));
        assert_eq!(
            parse_date_ms(&json!({"$date": "2026-05-28T20:26:40.123Z"})),
            Some(ms)
        );
        assert_eq!(
            parse_date_ms(&json!({"$date": "2026-05-28T22:26:40.123+02:00"})),
            Some(ms)
        );
        assert_eq!(parse_date_ms(&json!({"$date": ms})), Some(ms));
        assert_eq!(
            format_iso8601_ms(ms).as_deref(),
            Some("2026-05-28T20:26:40.123Z")
        );
        for bad in [
            "2026-05-28",
            "2026-13-28T20:26:40Z",
            "2026-05-28T20:26:40",
            "2026-05-28T20:26:40.Z",
        ] {
            assert_eq!(parse_iso8601_ms(bad), None, "{bad}");
        }
        assert_eq!(parse_long(&long(i64::MIN)), Some(i64::MIN));
        assert_eq!(parse_long(&json!({"$numberLong": "1.5"})), None);
        let oid = object_id("65A1B2C3D4E5F60718293A4B").unwrap();
        assert_eq!(
            parse_object_id(&oid).as_deref(),
            Some("65a1b2c3d4e5f60718293a4b")
        );
        assert_eq!(object_id("65a1"), None);
        let bin = binary(&[0, 255, 7], 4);
        assert_eq!(parse_binary(&bin), Some((vec![0, 255, 7], 4)));
        assert_eq!(to_plain(&bin).unwrap(), json!("AP8H"));
        assert_eq!(to_plain(&oid).unwrap(), json!("65a1b2c3d4e5f60718293a4b"));
        assert_eq!(to_plain(&date_ms(ms)).unwrap(), json!(ms));
        assert_eq!(random_object_id().unwrap().len(), 24);
    }

    #[test]
    fn malformed_wrappers_are_refused() {
        for v in [
            json!({"$numberDouble": "Infinity"}),
            json!({"$numberLong": 5}),
            json!({"$oid": "xyz"}),
            json!({"$binary": {"base64": "!!", "subType": "00"}}),
            json!({"$regex": "a"}),
        ] {
            assert_eq!(
                to_plain(&v).unwrap_err().code(),
                ErrorCode::ServiceUnavailable,
                "{v}"
            );
        }
    }
}
