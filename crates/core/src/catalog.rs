//! Product data (issue 21): the fields the platforms take beyond stock and price, the
//! checks a write passes, and which fields a channel receives (its settings).

use crate::stock::validate_gtin;
use crate::ErrorCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A product field a channel may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogField {
    /// The product's name.
    Name,
    /// Its description (HTML or text, as given).
    Description,
    /// Its brand.
    Brand,
    /// The EAN/GTIN (barcode).
    Ean,
    /// The NCM (fiscal classification, 8 digits).
    Ncm,
    /// Weight in grams.
    Weight,
    /// Height, width and length in millimetres.
    Dimensions,
    /// Whether it is for sale.
    Active,
}

impl CatalogField {
    /// Every field, in order.
    pub const ALL: [Self; 8] = [
        Self::Name,
        Self::Description,
        Self::Brand,
        Self::Ean,
        Self::Ncm,
        Self::Weight,
        Self::Dimensions,
        Self::Active,
    ];

    /// Settings / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Description => "description",
            Self::Brand => "brand",
            Self::Ean => "ean",
            Self::Ncm => "ncm",
            Self::Weight => "weight",
            Self::Dimensions => "dimensions",
            Self::Active => "active",
        }
    }
}

/// A product's catalogue data as ponte keeps it (sizes in grams and millimetres).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductData {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// EAN/GTIN, check digit validated.
    pub ean: Option<String>,
    /// NCM, 8 digits.
    pub ncm: Option<String>,
    /// Weight in grams.
    pub weight_g: Option<i64>,
    /// Height in millimetres.
    pub height_mm: Option<i64>,
    /// Width in millimetres.
    pub width_mm: Option<i64>,
    /// Length (depth) in millimetres.
    pub length_mm: Option<i64>,
    /// For sale.
    pub active: bool,
}

/// Why a product data row is refused (ordered: a refusal names the first kind found).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum ProductProblem {
    /// An empty name.
    #[error("name must not be empty")]
    EmptyName,
    /// A bad EAN/GTIN.
    #[error("EAN/GTIN: 8, 12, 13 or 14 digits with a valid check digit")]
    InvalidGtin,
    /// An NCM that is not 8 digits.
    #[error("NCM: 8 digits")]
    InvalidNcm,
    /// A negative weight or dimension.
    #[error("weight and dimensions must not be negative")]
    NegativeMeasure,
}

impl ProductProblem {
    /// The public code of the refusal.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::EmptyName => ErrorCode::ValidationFailed,
            Self::InvalidGtin => ErrorCode::InvalidGtin,
            Self::InvalidNcm => ErrorCode::InvalidNcm,
            Self::NegativeMeasure => ErrorCode::InvalidMeasure,
        }
    }
}

impl ProductData {
    /// The first problem of the row, if any.
    pub fn check(&self) -> Result<(), ProductProblem> {
        if self.name.trim().is_empty() {
            return Err(ProductProblem::EmptyName);
        }
        if let Some(e) = &self.ean {
            validate_gtin(e).map_err(|_| ProductProblem::InvalidGtin)?;
        }
        if let Some(n) = &self.ncm {
            if n.len() != 8 || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ProductProblem::InvalidNcm);
            }
        }
        let sizes = [self.weight_g, self.height_mm, self.width_mm, self.length_mm];
        if sizes.into_iter().flatten().any(|v| v < 0) {
            return Err(ProductProblem::NegativeMeasure);
        }
        Ok(())
    }

    /// What a channel carrying `fields` should show: each field's JSON value by name
    /// (absent fields are not carried; `null` clears). Sorted keys: equal values,
    /// equal text.
    pub fn carried(&self, fields: &[CatalogField]) -> CatalogValue {
        let mut m = BTreeMap::new();
        for f in fields {
            let v = match f {
                CatalogField::Name => serde_json::json!(self.name),
                CatalogField::Description => serde_json::json!(self.description),
                CatalogField::Brand => serde_json::json!(self.brand),
                CatalogField::Ean => serde_json::json!(self.ean),
                CatalogField::Ncm => serde_json::json!(self.ncm),
                CatalogField::Weight => serde_json::json!(self.weight_g),
                CatalogField::Dimensions => serde_json::json!({
                    "height_mm": self.height_mm,
                    "width_mm": self.width_mm,
                    "length_mm": self.length_mm,
                }),
                CatalogField::Active => serde_json::json!(self.active),
            };
            m.insert(f.as_str().to_owned(), v);
        }
        CatalogValue(m)
    }
}

/// The carried fields of a product on one channel, by field name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogValue(pub BTreeMap<String, serde_json::Value>);

impl CatalogValue {
    /// A carried text field (`Some(None)`: carried and empty).
    pub fn text(&self, f: CatalogField) -> Option<Option<&str>> {
        self.0.get(f.as_str()).map(serde_json::Value::as_str)
    }

    /// A carried number (the weight in grams).
    pub fn number(&self, f: CatalogField) -> Option<Option<i64>> {
        self.0.get(f.as_str()).map(serde_json::Value::as_i64)
    }

    /// The carried dimensions: (height, width, length) in millimetres.
    pub fn dimensions(&self) -> Option<[Option<i64>; 3]> {
        self.0.get(CatalogField::Dimensions.as_str()).map(|d| {
            ["height_mm", "width_mm", "length_mm"].map(|k| d.get(k).and_then(|v| v.as_i64()))
        })
    }

    /// Whether the product is carried as active.
    pub fn active(&self) -> Option<bool> {
        self.0
            .get(CatalogField::Active.as_str())
            .and_then(serde_json::Value::as_bool)
    }
}

/// A channel's product data settings: flat keys among its settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    /// Push product data to the channel (off by default: the platform is often the
    /// master of descriptions and photos).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub send_product_data: bool,
    /// The fields pushed; by default the name and the EAN (what seed 004 asks for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_fields: Option<Vec<CatalogField>>,
}

/// The settings keys that belong to product data.
pub const KEYS: [&str; 2] = ["send_product_data", "product_fields"];

/// Invalid product data settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CatalogSettingsError(pub String);

impl CatalogSettings {
    /// Splits a settings object into the product data settings and the other keys.
    pub fn split(
        settings: &serde_json::Value,
    ) -> Result<(CatalogSettings, serde_json::Value), CatalogSettingsError> {
        let Some(obj) = settings.as_object() else {
            return Err(CatalogSettingsError(
                "settings must be a JSON object".into(),
            ));
        };
        let (mine, rest): (serde_json::Map<_, _>, serde_json::Map<_, _>) = obj
            .clone()
            .into_iter()
            .partition(|(k, _)| KEYS.contains(&k.as_str()));
        let s: CatalogSettings = serde_json::from_value(serde_json::Value::Object(mine))
            .map_err(|e| CatalogSettingsError(e.to_string()))?;
        Ok((s, serde_json::Value::Object(rest)))
    }

    /// Adds the product data keys to a settings object.
    pub fn merge_into(&self, settings: &mut serde_json::Value) {
        if let (Some(obj), Ok(serde_json::Value::Object(mine))) =
            (settings.as_object_mut(), serde_json::to_value(self))
        {
            obj.extend(mine);
        }
    }

    /// The fields pushed, sorted and without repeats (none when sending is off).
    pub fn fields(&self) -> Vec<CatalogField> {
        if !self.send_product_data {
            return vec![];
        }
        let mut f = self
            .product_fields
            .clone()
            .unwrap_or_else(|| vec![CatalogField::Name, CatalogField::Ean]);
        f.sort();
        f.dedup();
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ProductData {
        ProductData {
            name: "Camiseta".into(),
            ean: Some("7891234567895".into()),
            ncm: Some("61091000".into()),
            weight_g: Some(250),
            active: true,
            ..ProductData::default()
        }
    }

    #[test]
    fn rows_are_checked_field_by_field() {
        assert_eq!(data().check(), Ok(()));
        let mut d = data();
        d.ean = Some("7891234567890".into());
        assert_eq!(d.check(), Err(ProductProblem::InvalidGtin));
        let mut d = data();
        d.ncm = Some("6109100".into());
        assert_eq!(d.check(), Err(ProductProblem::InvalidNcm));
        let mut d = data();
        d.height_mm = Some(-1);
        assert_eq!(d.check(), Err(ProductProblem::NegativeMeasure));
        let mut d = data();
        d.name = " ".into();
        assert_eq!(d.check(), Err(ProductProblem::EmptyName));
    }

    #[test]
    fn a_channel_carries_only_its_fields_off_by_default() {
        let (s, rest) = CatalogSettings::split(&serde_json::json!({"x": 1})).unwrap();
        assert!(s.fields().is_empty());
        assert_eq!(rest, serde_json::json!({"x": 1}));
        let (s, _) =
            CatalogSettings::split(&serde_json::json!({"send_product_data": true})).unwrap();
        assert_eq!(s.fields(), vec![CatalogField::Name, CatalogField::Ean]);
        let v = data().carried(&s.fields());
        assert_eq!(v.text(CatalogField::Name), Some(Some("Camiseta")));
        assert_eq!(v.text(CatalogField::Ncm), None);
        assert!(CatalogSettings::split(&serde_json::json!({"product_fields": ["odd"]})).is_err());
        let d = data().carried(&[CatalogField::Dimensions, CatalogField::Weight]);
        assert_eq!(d.dimensions(), Some([None, None, None]));
        assert_eq!(d.number(CatalogField::Weight), Some(Some(250)));
    }
}
