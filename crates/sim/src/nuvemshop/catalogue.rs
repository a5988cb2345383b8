//! Products and variants (the part of the Product resource a stock hub needs).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::fmt::{self, money, ts};

#[derive(Debug, Clone)]
pub struct Variant {
    pub id: u64,
    pub product_id: u64,
    pub position: usize,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price: Option<i64>,
    pub promotional_price: Option<i64>,
    pub stock_management: bool,
    pub stock: Option<i64>,
    pub values: Vec<Value>,
    pub weight: Option<String>,
    /// Other documented keys (`mpn`, `age_group`, `gender`, `width`, ...).
    pub extra: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub variants: Vec<Variant>,
    pub info: ProductInfo,
}

/// The product fields `PUT /products/{id}` changes besides the name
/// (`TN:resources/product.md`).
#[derive(Debug, Clone)]
pub struct ProductInfo {
    /// The `pt` description (HTML).
    pub description: String,
    pub brand: Option<String>,
    pub published: bool,
}

impl Default for ProductInfo {
    fn default() -> Self {
        Self {
            description: String::new(),
            brand: None,
            published: true,
        }
    }
}

/// `PUT /products/{id}`: changes the name and description (language maps: the `pt`
/// entry is kept), `brand` and `published`; other documented keys are accepted and
/// ignored. Assumption: a language map without `pt` leaves the value as it is.
pub fn put_product(p: &mut Product, body: &Value) -> Result<(), Rejection> {
    let o = body.as_object().ok_or((
        400,
        json!({"code": 400, "message": "Bad Request", "description": "Invalid input format"}),
    ))?;
    let pt = |k: &str| -> Result<Option<String>, Rejection> {
        match o.get(k) {
            None => Ok(None),
            Some(Value::Object(m)) => match m.get("pt") {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(err422(
                    "Validation error",
                    Some((k, "The value must be a string.")),
                )),
            },
            Some(_) => Err(err422(
                "Validation error",
                Some((k, "The value must be a language map.")),
            )),
        }
    };
    let name = pt("name")?;
    if name.as_deref() == Some("") {
        return Err((422, json!({"name": ["can't be blank"]})));
    }
    let description = pt("description")?;
    let brand = match o.get("brand") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => {
            return Err(err422(
                "Validation error",
                Some(("brand", "The value must be a string.")),
            ))
        }
    };
    let published = match o.get("published") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(err422(
                "Validation error",
                Some(("published", "The value must be true or false.")),
            ))
        }
    };
    if let Some(n) = name {
        p.name = n;
    }
    if let Some(d) = description {
        p.info.description = d;
    }
    if let Some(b) = brand {
        p.info.brand = b;
    }
    if let Some(b) = published {
        p.info.published = b;
    }
    Ok(())
}

impl Variant {
    pub fn render(&self) -> Value {
        let mut m = Map::new();
        for k in [
            "mpn",
            "age_group",
            "gender",
            "width",
            "height",
            "depth",
            "image_id",
        ] {
            m.insert(k.into(), Value::Null);
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        let more = json!({
            "id": self.id,
            "product_id": self.product_id,
            "position": self.position,
            "price": self.price.map(money),
            "promotional_price": self.promotional_price.map(money),
            "stock_management": self.stock_management,
            "stock": if self.stock_management { json!(self.stock) } else { Value::Null },
            "weight": self.weight,
            "sku": self.sku,
            "barcode": self.barcode,
            "values": self.values,
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
        });
        if let Value::Object(more) = more {
            m.extend(more);
        }
        Value::Object(m)
    }

    /// Human label of the variant values (`"M"`, `"Azul / G"`).
    pub fn label(&self) -> String {
        self.values
            .iter()
            .filter_map(|v| {
                v.as_object()
                    .and_then(|o| o.values().next())
                    .and_then(Value::as_str)
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// One validated change from a PATCH/PUT body.
#[derive(Debug, Clone, Default)]
pub struct VariantPatch {
    pub id: u64,
    pub stock: Option<Option<i64>>,
    pub stock_management: Option<bool>,
    pub price: Option<Option<i64>>,
    pub promotional_price: Option<Option<i64>>,
    pub sku: Option<Option<String>>,
    pub barcode: Option<Option<String>>,
    pub values: Option<Vec<Value>>,
    pub weight: Option<Option<String>>,
    pub extra: Map<String, Value>,
}

/// A rejected body: status (400/422) and the error JSON.
pub type Rejection = (u16, Value);

fn err422(description: &str, field: Option<(&str, &str)>) -> Rejection {
    let mut v = json!({"code": 422, "message": "Unprocessable Entity", "description": description});
    if let (Some((f, msg)), Value::Object(m)) = (field, &mut v) {
        m.insert(f.into(), json!([msg]));
    }
    (422, v)
}

impl VariantPatch {
    /// Parses one variant object. `id` is required for PATCH (taken from the
    /// path for the single-variant PUT).
    pub fn parse(v: &Value, id: Option<u64>) -> Result<Self, Rejection> {
        let o = v.as_object().ok_or((
            400,
            json!({"code": 400, "message": "Bad Request", "description": "Invalid input format"}),
        ))?;
        let id = match id {
            Some(id) => id,
            None => o.get("id").and_then(fmt::as_u64).ok_or_else(|| {
                err422(
                    "Validation error",
                    Some(("id", "The id field is required.")),
                )
            })?,
        };
        let mut p = Self {
            id,
            ..Self::default()
        };
        if let Some(s) = o.get("stock") {
            p.stock = Some(match s {
                Value::Null => None,
                Value::Number(n) if n.as_i64().is_some() => {
                    let n = n.as_i64().unwrap_or_default();
                    if n < 0 {
                        return Err(err422(
                            "Validation error",
                            Some(("stock", "The stock must be at least 0.")),
                        ));
                    }
                    Some(n)
                }
                _ => {
                    return Err(err422(
                        "Validation error",
                        Some(("stock", "The stock must be an integer.")),
                    ))
                }
            });
        }
        if let Some(b) = o.get("stock_management") {
            p.stock_management = Some(b.as_bool().ok_or_else(|| {
                err422(
                    "Validation error",
                    Some((
                        "stock_management",
                        "The stock management field must be true or false.",
                    )),
                )
            })?);
        }
        for (key, slot) in [
            ("price", &mut p.price),
            ("promotional_price", &mut p.promotional_price),
        ] {
            if let Some(v) = o.get(key) {
                *slot = Some(match v {
                    Value::Null => None,
                    other => match fmt::parse_money(other) {
                        Some(c) if c >= 0 => Some(c),
                        _ => {
                            return Err(err422(
                                "Validation error",
                                Some((key, "The price must be at least 0.")),
                            ))
                        }
                    },
                });
            }
        }
        let opt_str = |k: &str| -> Result<Option<Option<String>>, Rejection> {
            match o.get(k) {
                None => Ok(None),
                Some(Value::Null) => Ok(Some(None)),
                Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
                Some(Value::Number(n)) => Ok(Some(Some(n.to_string()))),
                Some(_) => Err(err422(
                    "Validation error",
                    Some((k, "The value must be a string.")),
                )),
            }
        };
        p.sku = opt_str("sku")?;
        p.barcode = opt_str("barcode")?;
        p.weight = opt_str("weight")?;
        if let Some(v) = o.get("values") {
            p.values = Some(v.as_array().cloned().ok_or((
                400,
                json!({"code": 400, "message": "Bad Request", "description": "Invalid values format"}),
            ))?);
        }
        if let Some(g) = o.get("age_group").filter(|g| !g.is_null()) {
            if !["newborn", "infant", "toddler", "kids", "adult"]
                .contains(&g.as_str().unwrap_or(""))
            {
                return Err(err422("The selected age group is invalid", None));
            }
        }
        if let Some(g) = o.get("gender").filter(|g| !g.is_null()) {
            if !["female", "male", "unisex"].contains(&g.as_str().unwrap_or("")) {
                return Err(err422("The selected gender is invalid", None));
            }
        }
        for k in ["mpn", "age_group", "gender", "width", "height", "depth"] {
            if let Some(v) = o.get(k) {
                p.extra.insert(k.into(), v.clone());
            }
        }
        Ok(p)
    }

    pub fn apply(&self, v: &mut Variant, now: DateTime<Utc>) {
        if let Some(s) = self.stock {
            v.stock = s;
            // Documented: "If stock_management is false the stock will be null";
            // sending a number turns management on, null turns it off.
            v.stock_management = s.is_some();
        }
        if let Some(m) = self.stock_management {
            v.stock_management = m;
            if m && v.stock.is_none() {
                v.stock = Some(0);
            }
        }
        if let Some(p) = self.price {
            v.price = p;
        }
        if let Some(p) = self.promotional_price {
            v.promotional_price = p;
        }
        if let Some(s) = &self.sku {
            v.sku.clone_from(s);
        }
        if let Some(b) = &self.barcode {
            v.barcode.clone_from(b);
        }
        if let Some(w) = &self.weight {
            v.weight.clone_from(w);
        }
        if let Some(vals) = &self.values {
            v.values.clone_from(vals);
        }
        for (k, val) in &self.extra {
            v.extra.insert(k.clone(), val.clone());
        }
        v.updated_at = now;
    }
}

/// `PATCH /products/{id}/variants`: validates every item first (all or nothing),
/// then applies. Returns the product's whole variant collection, as documented.
///
/// Assumption: ids that do not exist or belong to another product get 422 with
/// `"description": "Variants not found"` and `not_found_variant_ids` (the docs
/// only say the body names the failed ids; only `duplicate_variant_ids` is shown).
pub fn patch_variants(
    products: &mut BTreeMap<u64, Product>,
    product_id: u64,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, Rejection> {
    let not_found = (
        404,
        json!({"code": 404, "message": "Not Found", "description": "Product with such id does not exist"}),
    );
    let product = products.get_mut(&product_id).ok_or(not_found)?;
    let items = body.as_array().ok_or((
        400,
        json!({"code": 400, "message": "Bad Request", "description": "Invalid input format"}),
    ))?;
    let patches = items
        .iter()
        .map(|i| VariantPatch::parse(i, None))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    let mut dups: Vec<u64> = Vec::new();
    for p in &patches {
        if !seen.insert(p.id) && !dups.contains(&p.id) {
            dups.push(p.id);
        }
    }
    // Value combinations must stay unique among the product's variants.
    let mut combos: Vec<(u64, Vec<Value>)> = product
        .variants
        .iter()
        .map(|v| {
            let vals = patches
                .iter()
                .rev()
                .find(|p| p.id == v.id)
                .and_then(|p| p.values.clone())
                .unwrap_or_else(|| v.values.clone());
            (v.id, vals)
        })
        .collect();
    combos.retain(|(_, vals)| !vals.is_empty());
    for (i, (id, vals)) in combos.iter().enumerate() {
        if combos[..i].iter().any(|(_, other)| other == vals) && !dups.contains(id) {
            dups.push(*id);
        }
    }
    if !dups.is_empty() {
        return Err((
            422,
            json!({"code": 422, "message": "Unprocessable Entity", "description": "Variants cannot be repeated", "duplicate_variant_ids": dups}),
        ));
    }
    let missing: Vec<u64> = patches
        .iter()
        .filter(|p| !product.variants.iter().any(|v| v.id == p.id))
        .map(|p| p.id)
        .collect();
    if !missing.is_empty() {
        return Err((
            422,
            json!({"code": 422, "message": "Unprocessable Entity", "description": "Variants not found", "not_found_variant_ids": missing}),
        ));
    }
    for p in &patches {
        if let Some(v) = product.variants.iter_mut().find(|v| v.id == p.id) {
            p.apply(v, now);
        }
    }
    Ok(product.variants.iter().map(Variant::render).collect())
}
