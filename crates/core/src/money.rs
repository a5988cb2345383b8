//! Money as integer centavos (i64). Platforms send decimal strings such as "19.90".

/// Parses a decimal amount ("19.9", "19.90", "1234", "-5.5") into centavos. More than
/// two decimals are rounded half away from zero. `None` for anything that is not a
/// plain decimal number.
pub fn parse_cents(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let frac = frac_part.as_bytes();
    let digit = |i: usize| frac.get(i).map_or(0, |b| i64::from(b - b'0'));
    let mut cents = int
        .checked_mul(100)?
        .checked_add(digit(0) * 10 + digit(1))?;
    if digit(2) >= 5 {
        cents = cents.checked_add(1)?;
    }
    Some(if neg { -cents } else { cents })
}

/// Converts a JSON number or string amount into centavos.
pub fn value_cents(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => parse_cents(s),
        serde_json::Value::Number(n) => parse_cents(&n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_platform_amounts() {
        assert_eq!(parse_cents("19.00"), Some(1900));
        assert_eq!(parse_cents("19.9"), Some(1990));
        assert_eq!(parse_cents("0.01"), Some(1));
        assert_eq!(parse_cents("1234"), Some(123_400));
        assert_eq!(parse_cents("-5.5"), Some(-550));
        assert_eq!(parse_cents("10.005"), Some(1001));
        assert_eq!(parse_cents(".5"), Some(50));
        assert_eq!(parse_cents(""), None);
        assert_eq!(parse_cents("1,00"), None);
        assert_eq!(parse_cents("abc"), None);
        assert_eq!(value_cents(&serde_json::json!(58.5)), Some(5850));
        assert_eq!(value_cents(&serde_json::json!(null)), None);
    }

    proptest! {
        #[test]
        fn round_trips_two_decimals(c in -1_000_000_000i64..1_000_000_000) {
            let s = format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100);
            prop_assert_eq!(parse_cents(&s), Some(c));
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_cents(&s);
        }
    }
}
