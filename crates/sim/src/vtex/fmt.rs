//! Wire formats VTEX uses: timestamps with seven fractional digits, upper-case
//! hex ids, opaque queue handles; plus the `creationDate:[A TO B]` range syntax.

use chrono::{DateTime, NaiveDateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Order timestamps (`creationDate`, `lastChange`, ...):
/// `2024-02-04T20:09:43.8999580+00:00` (as in the documented order example).
pub fn ts(t: DateTime<Utc>) -> String {
    format!("{}+00:00", seven_digits(t))
}

/// `2019-08-12T20:54:01.1340570` (chrono has no 7-digit fraction specifier).
fn seven_digits(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

/// Feed and hook timestamps: `2019-08-12T20:54:01.1340570Z` (as in the documented
/// feed item and hook notification examples).
pub fn ts_z(t: DateTime<Utc>) -> String {
    format!("{}Z", seven_digits(t))
}

/// Parses an ISO 8601 timestamp as clients send it (RFC 3339, or naive = UTC).
pub fn parse_ts(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // An unencoded `+` in a query string decodes to a space.
    if let Ok(t) = DateTime::parse_from_rfc3339(&s.replace(' ', "+")) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    None
}

/// A time range; `None` ends are open.
pub type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Parses `creationDate:[2022-01-01T02:00:00.000Z TO 2022-01-02T01:59:59.999Z]`
/// (the documented `f_creationDate` syntax; `*` for an open end is accepted).
pub fn parse_range(field: &str, raw: &str) -> Option<Range> {
    let rest = raw.trim().strip_prefix(field)?.strip_prefix(':')?;
    let inner = rest.trim().strip_prefix('[')?.strip_suffix(']')?;
    let (a, b) = inner.split_once(" TO ")?;
    let bound = |s: &str| -> Option<Option<DateTime<Utc>>> {
        let s = s.trim();
        if s == "*" {
            Some(None)
        } else {
            parse_ts(s).map(Some)
        }
    };
    Some((bound(a)?, bound(b)?))
}

/// 32 upper-case hex digits derived from `seed` (stable ids such as
/// `transactionId`, `uniqueId`, `orderFormId`).
pub fn hex_id(seed: &str) -> String {
    hex::encode_upper(&Sha256::digest(seed.as_bytes())[..16])
}

/// Lower-case variant of [`hex_id`] (`receipt`, `orderFormId`).
pub fn hex_id_lower(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..16])
}

/// A random 32-hex-digit upper-case id (feed `eventId`).
pub fn random_hex_id<R: Rng + ?Sized>(rng: &mut R) -> String {
    let b: [u8; 16] = rng.gen();
    hex::encode_upper(b)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An opaque receipt handle. Assumption: the documented commit example
/// (`AQEBSM/bSqon...=`) looks like an SQS receipt handle, so handles are
/// `AQEB` + base64 of random bytes; clients must treat them as opaque.
pub fn random_handle<R: Rng + ?Sized>(rng: &mut R) -> String {
    let b: [u8; 96] = {
        let mut b = [0u8; 96];
        rng.fill(&mut b[..]);
        b
    };
    format!("AQEB{}", base64(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats() {
        let t = Utc.with_ymd_and_hms(2019, 8, 12, 20, 54, 1).unwrap();
        assert_eq!(ts(t), "2019-08-12T20:54:01.0000000+00:00");
        assert_eq!(ts_z(t), "2019-08-12T20:54:01.0000000Z");
        assert_eq!(
            parse_ts("2019-08-12T20:54:01.134057Z").unwrap().timestamp(),
            t.timestamp()
        );
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        let (a, b) = parse_range(
            "creationDate",
            "creationDate:[2022-01-01T02:00:00.000Z TO 2022-01-02T01:59:59.999Z]",
        )
        .unwrap();
        assert!(a.unwrap() < b.unwrap());
        assert_eq!(
            parse_range("creationDate", "creationDate:[* TO *]"),
            Some((None, None))
        );
        assert!(parse_range("creationDate", "authorizedDate:[* TO *]").is_none());
    }
}
