//! Formats Nuvemshop uses on the wire: money as decimal strings, timestamps in
//! three styles depending on the resource.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Orders, variants, webhooks: `2026-11-23T10:11:12+0000`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// Fulfillment orders and tracking events: `2022-11-24T10:20:19+00:00`.
pub fn ts_fo(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Metafields: `2015-01-02 20:27:51` (as in the documented response).
pub fn ts_metafield(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Parses an ISO 8601 timestamp as clients send it: RFC 3339 (`Z`, `+00:00`),
/// `+0000`, a naive date-time (taken as UTC) or a bare date (midnight UTC). A
/// space where the offset's `+` should be is accepted (an unencoded `+` in a query
/// string decodes to a space).
pub fn parse_ts(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim().replace(' ', "+");
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(&s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let plain = raw.trim();
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(plain, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(plain, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// `1990` -> `"19.90"`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// `"19.9"`, `"19.90"`, `19.9` (JSON number) -> `1990`. Rounds half away from zero.
pub fn parse_money(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        serde_json::Value::Number(n) => n.as_f64(),
        _ => None,
    }
    .filter(|f| f.is_finite())
    .map(|f| (f * 100.0).round() as i64)
}

/// A JSON value that may be an integer or a string of digits (fixtures use both).
pub fn as_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats() {
        let t = parse_ts("2026-11-23T10:11:12+0000").unwrap();
        assert_eq!(ts(t), "2026-11-23T10:11:12+0000");
        assert_eq!(ts_fo(t), "2026-11-23T10:11:12+00:00");
        assert_eq!(ts_metafield(t), "2026-11-23 10:11:12");
        assert_eq!(parse_ts("2026-11-23T10:11:12 0000"), Some(t));
        assert_eq!(parse_ts("2026-11-23T07:11:12-03:00"), Some(t));
        assert_eq!(parse_ts("2026-11-23T10:11:12Z"), Some(t));
        assert_eq!(parse_ts("2026-11-23T10:11:12"), Some(t));
        assert!(parse_ts("2026-11-23").is_some());
        assert!(parse_ts("yesterday").is_none());
        assert_eq!(money(1990), "19.90");
        assert_eq!(money(5), "0.05");
        assert_eq!(parse_money(&json!("19.9")), Some(1990));
        assert_eq!(parse_money(&json!(10.5)), Some(1050));
    }
}
