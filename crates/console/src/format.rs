//! What a Brazilian operator reads: `R$ 1.234,56`, dates in the tenant's time zone,
//! CPF `000.000.000-00`, CNPJ `00.000.000/0000-00`, NF-e keys in groups of four.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use ponte_core::document::{DocumentKind, TaxDocument};

/// Centavos as `R$ 1.234,56` (`-R$ 5,00` below zero).
pub(crate) fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}R$ {},{:02}", thousands(abs / 100), abs % 100)
}

/// An optional amount; empty when absent.
pub(crate) fn money_opt(cents: Option<i64>) -> String {
    cents.map(money).unwrap_or_default()
}

/// `1234567` as `1.234.567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// `05/12/2026 14:03` in the time zone.
pub(crate) fn date_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string()
}

/// `05/12/2026 14:03:07` in the time zone (histories, where seconds matter).
pub(crate) fn date_time_s(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

/// The start of day `d` (`YYYY-MM-DD`) plus `plus` days in the zone, as UTC: a date
/// filter's bound (`to` is inclusive, so it passes `plus = 1`).
pub(crate) fn day_start(d: &str, plus: u64, tz: Tz) -> Option<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok()? + chrono::Days::new(plus);
    let local = tz
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    Some(local.with_timezone(&Utc))
}

/// A date and time a person typed, in the time zone: what a `datetime-local` input
/// sends (`2026-12-05T14:03`), or `05/12/2026 14:03`; a date alone is its midnight.
pub(crate) fn parse_date_time(v: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let v = v.trim();
    let naive = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .or_else(|| {
            ["%Y-%m-%d", "%d/%m/%Y"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(v, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(
        tz.from_local_datetime(&naive)
            .earliest()?
            .with_timezone(&Utc),
    )
}

/// A tax id formatted by its kind; as received when its length fits neither.
pub(crate) fn document(d: &TaxDocument) -> String {
    let n = &d.normalized;
    match d.kind {
        Some(DocumentKind::Cpf) if n.len() == 11 => {
            format!("{}.{}.{}-{}", &n[0..3], &n[3..6], &n[6..9], &n[9..11])
        }
        Some(DocumentKind::Cnpj) if n.len() == 14 && n.is_ascii() => format!(
            "{}.{}.{}/{}-{}",
            &n[0..2],
            &n[2..5],
            &n[5..8],
            &n[8..12],
            &n[12..14]
        ),
        _ => d.raw.clone(),
    }
}

/// A 44-digit NF-e key in groups of four.
pub(crate) fn nfe_key(key: &str) -> String {
    if key.len() != 44 || !key.is_ascii() {
        return key.to_owned();
    }
    key.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An amount as typed by a Brazilian operator (`1.234,56`, `1234,56`, `R$ 10`) or
/// with a decimal point (`1234.56`), in centavos; `None` when it is not one.
pub(crate) fn parse_money(s: &str) -> Option<i64> {
    let s: String = s
        .trim()
        .trim_start_matches("R$")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let plain = if s.contains(',') {
        s.replace('.', "").replace(',', ".")
    } else {
        s
    };
    ponte_core::money::parse_cents(&plain)
}

/// Centavos as a form value (`1234,56`, no thousands separator).
pub(crate) fn money_input(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{},{:02}", abs / 100, abs % 100)
}

/// A time as a `datetime-local` input's value in the time zone.
pub(crate) fn local_input(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// The first `n` characters of `s`, and whether there were more.
pub(crate) fn head(s: &str, n: usize) -> (&str, bool) {
    match s.char_indices().nth(n) {
        Some((at, _)) => (&s[..at], true),
        None => (s, false),
    }
}

/// A query-string value.
pub(crate) fn url_encode(v: &str) -> String {
    utf8_percent_encode(v, NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_like_reais() {
        assert_eq!(money(0), "R$ 0,00");
        assert_eq!(money(5), "R$ 0,05");
        assert_eq!(money(123_456), "R$ 1.234,56");
        assert_eq!(money(100_000_000), "R$ 1.000.000,00");
        assert_eq!(money(-500), "-R$ 5,00");
        assert_eq!(money(i64::MIN), "-R$ 92.233.720.368.547.758,08");
        assert_eq!(money_opt(None), "");
    }

    #[test]
    fn dates_are_local_to_sao_paulo() {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 17, 3, 7).unwrap();
        assert_eq!(
            date_time(at, chrono_tz::America::Sao_Paulo),
            "05/12/2026 14:03"
        );
        assert_eq!(
            date_time_s(at, chrono_tz::America::Sao_Paulo),
            "05/12/2026 14:03:07"
        );
        assert_eq!(date_time(at, chrono_tz::UTC), "05/12/2026 17:03");
    }

    #[test]
    fn days_start_at_local_midnight() {
        let sp = chrono_tz::America::Sao_Paulo;
        assert_eq!(
            day_start("2026-12-05", 0, sp).unwrap().to_rfc3339(),
            "2026-12-05T03:00:00+00:00"
        );
        assert_eq!(
            day_start("2026-12-31", 1, sp).unwrap().to_rfc3339(),
            "2027-01-01T03:00:00+00:00"
        );
        assert_eq!(day_start("05/12/2026", 0, sp), None);
    }

    #[test]
    fn typed_dates_are_read_in_the_time_zone() {
        let sp = chrono_tz::America::Sao_Paulo;
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 17, 3, 0).unwrap();
        assert_eq!(parse_date_time("2026-12-05T14:03", sp), Some(at));
        assert_eq!(parse_date_time(" 05/12/2026 14:03 ", sp), Some(at));
        assert_eq!(
            parse_date_time("2026-12-05", sp),
            Some(Utc.with_ymd_and_hms(2026, 12, 5, 3, 0, 0).unwrap())
        );
        assert_eq!(parse_date_time("ontem", sp), None);
        assert_eq!(parse_date_time("2026-13-05", sp), None);
    }

    #[test]
    fn documents_are_grouped_by_kind() {
        assert_eq!(
            document(&TaxDocument::parse("52998224725")),
            "529.982.247-25"
        );
        assert_eq!(
            document(&TaxDocument::parse("11.222.333/0001-81")),
            "11.222.333/0001-81"
        );
        assert_eq!(
            document(&TaxDocument::parse("11222333000181")),
            "11.222.333/0001-81"
        );
        assert_eq!(document(&TaxDocument::parse("123")), "123");
    }

    #[test]
    fn nfe_keys_are_grouped_by_four() {
        let key = "35240612345678000190550010000012341000012345";
        assert_eq!(
            nfe_key(key),
            "3524 0612 3456 7800 0190 5500 1000 0012 3410 0001 2345"
        );
        assert_eq!(nfe_key("123"), "123");
    }

    #[test]
    fn typed_amounts_read_both_ways() {
        assert_eq!(parse_money("1.234,56"), Some(123_456));
        assert_eq!(parse_money("R$ 1.234,5"), Some(123_450));
        assert_eq!(parse_money("500"), Some(50_000));
        assert_eq!(parse_money("500.00"), Some(50_000));
        assert_eq!(parse_money("abc"), None);
        assert_eq!(parse_money(""), None);
        assert_eq!(money_input(123_456), "1234,56");
        assert_eq!(parse_money(&money_input(-5)), Some(-5));
    }

    #[test]
    fn local_inputs_read_back() {
        let sp = chrono_tz::America::Sao_Paulo;
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 17, 3, 0).unwrap();
        assert_eq!(local_input(at, sp), "2026-12-05T14:03");
        assert_eq!(parse_date_time(&local_input(at, sp), sp), Some(at));
    }

    #[test]
    fn heads_cut_at_characters() {
        assert_eq!(head("ação", 2), ("aç", true));
        assert_eq!(head("ação", 4), ("ação", false));
        assert_eq!(head("", 0), ("", false));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            url_encode("/console/orders?a=1"),
            "%2Fconsole%2Forders%3Fa%3D1"
        );
    }
}
