//! The order list's search box, classified once for both backends: a CPF/CNPJ, an
//! e-mail address, or text (an order number, or the start of a customer's name).

use ponte_core::document::TaxDocument;

/// What a search asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderSearch {
    /// Looks like a CPF or CNPJ (11 or 14 characters once punctuation goes): orders
    /// whose customer has this document, or whose number is the text as typed.
    Document {
        /// Digits (and CNPJ letters), upper case, as documents are stored.
        normalized: String,
        /// As typed (trimmed), for the number.
        text: String,
    },
    /// Contains `@`: orders whose customer has this e-mail (case-insensitive).
    Email(String),
    /// Anything else: orders with this number, or whose customer's name starts with
    /// it (case-insensitive as the backend lower-cases).
    Text(String),
}

impl OrderSearch {
    /// Classifies a search; `None` when blank. Longer than 200 characters is cut.
    pub fn parse(q: &str) -> Option<OrderSearch> {
        let q: String = q.trim().chars().take(200).collect();
        if q.is_empty() {
            return None;
        }
        if q.contains('@') {
            return Some(OrderSearch::Email(q));
        }
        let doc_like = q
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '/' | ' '))
            && q.chars().any(|c| c.is_ascii_digit());
        let doc = TaxDocument::parse(&q);
        if doc_like && doc.kind.is_some() {
            return Some(OrderSearch::Document {
                normalized: doc.normalized,
                text: q,
            });
        }
        Some(OrderSearch::Text(q))
    }
}

#[cfg(test)]
mod tests {
    use super::OrderSearch;

    #[test]
    fn searches_are_classified() {
        assert_eq!(OrderSearch::parse("  "), None);
        assert_eq!(
            OrderSearch::parse("529.982.247-25"),
            Some(OrderSearch::Document {
                normalized: "52998224725".into(),
                text: "529.982.247-25".into()
            })
        );
        assert!(matches!(
            OrderSearch::parse("11.222.333/0001-81"),
            Some(OrderSearch::Document { normalized, .. }) if normalized == "11222333000181"
        ));
        assert_eq!(
            OrderSearch::parse(" Ana@Example.com "),
            Some(OrderSearch::Email("Ana@Example.com".into()))
        );
        assert_eq!(
            OrderSearch::parse("1234"),
            Some(OrderSearch::Text("1234".into()))
        );
        assert_eq!(
            OrderSearch::parse("Maria Sil"),
            Some(OrderSearch::Text("Maria Sil".into()))
        );
        assert_eq!(
            OrderSearch::parse(&"x".repeat(500)),
            Some(OrderSearch::Text("x".repeat(200)))
        );
    }
}
