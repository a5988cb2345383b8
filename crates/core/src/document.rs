//! Brazilian tax ids: CPF (people) and CNPJ (companies, alphanumeric since July 2026).

use serde::{Deserialize, Serialize};

/// Which kind of tax id a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    /// Cadastro de Pessoas Físicas, 11 digits.
    Cpf,
    /// Cadastro Nacional da Pessoa Jurídica, 14 characters.
    Cnpj,
}

/// A customer's tax id as received, with the result of validating it. An invalid
/// document is kept (never dropped with the order) and flagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaxDocument {
    /// Exactly what the platform sent.
    pub raw: String,
    /// The kind, when the length says which.
    pub kind: Option<DocumentKind>,
    /// Digits/letters only, upper case.
    pub normalized: String,
    /// Whether the check digits are right.
    pub valid: bool,
}

impl TaxDocument {
    /// Classifies and validates a raw document string.
    pub fn parse(raw: &str) -> TaxDocument {
        let normalized: String = raw
            .chars()
            .filter(|c| !matches!(c, '.' | '-' | '/' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let (kind, valid) = match normalized.len() {
            11 => (Some(DocumentKind::Cpf), is_valid_cpf(&normalized)),
            14 => (Some(DocumentKind::Cnpj), is_valid_cnpj(&normalized)),
            _ => (None, false),
        };
        TaxDocument {
            raw: raw.to_owned(),
            kind,
            normalized,
            valid,
        }
    }
}

/// Validates an 11-digit CPF (no punctuation). Repeated digits are invalid.
pub fn is_valid_cpf(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 11 || s.len() != 11 || digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    let dv = |n: usize| {
        let sum: u32 = digits[..n]
            .iter()
            .zip((2..=n as u32 + 1).rev())
            .map(|(d, w)| d * w)
            .sum();
        (sum * 10 % 11) % 10
    };
    dv(9) == digits[9] && dv(10) == digits[10]
}

/// Validates a 14-character CNPJ (no punctuation): the first 12 characters may be
/// digits or upper-case letters (alphanumeric CNPJ, from July 2026), the last two
/// are numeric check digits. Each character counts as its ASCII code minus 48.
pub fn is_valid_cnpj(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != 14
        || !bytes[..12]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        || !bytes[12..].iter().all(u8::is_ascii_digit)
        || bytes.iter().all(|b| *b == bytes[0])
    {
        return false;
    }
    let values: Vec<u32> = bytes.iter().map(|b| u32::from(*b) - 48).collect();
    let dv = |n: usize| {
        let sum: u32 = values[..n]
            .iter()
            .rev()
            .zip([2, 3, 4, 5, 6, 7, 8, 9].iter().cycle())
            .map(|(v, w)| v * w)
            .sum();
        let r = sum % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    };
    dv(12) == values[12] && dv(13) == values[13]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_cpfs() {
        assert!(is_valid_cpf("52998224725"));
        assert!(is_valid_cpf("11144477735"));
        assert!(!is_valid_cpf("52998224724"));
        assert!(!is_valid_cpf("11111111111"));
        assert!(!is_valid_cpf("5299822472"));
    }

    #[test]
    fn known_cnpjs() {
        assert!(is_valid_cnpj("11222333000181"));
        assert!(is_valid_cnpj("06929383000163")); // emitter of the NF-e fixture
        assert!(!is_valid_cnpj("11222333000182"));
        assert!(!is_valid_cnpj("00000000000000"));
        // Receita Federal's alphanumeric example: 12.ABC.345/01DE-35
        assert!(is_valid_cnpj("12ABC34501DE35"));
        assert!(!is_valid_cnpj("12ABC34501DE36"));
        assert!(!is_valid_cnpj("12abc34501de3A"));
    }

    #[test]
    fn parse_formats_and_flags() {
        let d = TaxDocument::parse("529.982.247-25");
        assert_eq!(d.kind, Some(DocumentKind::Cpf));
        assert!(d.valid);
        assert_eq!(d.normalized, "52998224725");
        let d = TaxDocument::parse("12.abc.345/01de-35");
        assert_eq!(d.kind, Some(DocumentKind::Cnpj));
        assert!(d.valid);
        let d = TaxDocument::parse("123");
        assert_eq!(d.kind, None);
        assert!(!d.valid);
        assert_eq!(d.raw, "123");
    }

    fn cpf_with_dv(base: &[u32]) -> String {
        let mut d = base.to_vec();
        for n in [9usize, 10] {
            let sum: u32 = d
                .iter()
                .zip((2..=n as u32 + 1).rev())
                .map(|(a, w)| a * w)
                .sum();
            d.push((sum * 10 % 11) % 10);
        }
        d.iter()
            .map(|x| char::from_digit(*x, 10).unwrap())
            .collect()
    }

    proptest! {
        #[test]
        fn generated_cpfs_validate_and_wrong_check_digit_fails(
            base in proptest::collection::vec(0u32..10, 9),
            pos in 9usize..11,
            delta in 1u32..10,
        ) {
            prop_assume!(!base.iter().all(|d| *d == base[0]));
            let cpf = cpf_with_dv(&base);
            prop_assert!(is_valid_cpf(&cpf));
            let mut chars: Vec<u32> = cpf.chars().map(|c| c.to_digit(10).unwrap()).collect();
            chars[pos] = (chars[pos] + delta) % 10;
            let changed: String = chars.iter().map(|x| char::from_digit(*x, 10).unwrap()).collect();
            prop_assert!(!is_valid_cpf(&changed));
        }

        #[test]
        fn parse_never_panics(s in ".{0,30}") {
            let _ = TaxDocument::parse(&s);
        }
    }
}
