//! Prices: a SKU's price and optional promotional price with its window, the rules a
//! price must meet, a channel's markup and the price settings every channel shares.
//! Money is integer centavos.

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A SKU's price as ponte keeps it and as a channel should show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceValue {
    /// The regular price, in centavos.
    pub price: i64,
    /// The promotional price, in centavos (at most the regular price).
    pub promotional_price: Option<i64>,
    /// When the promotion starts (open: already running).
    pub promotional_from: Option<DateTime<Utc>>,
    /// When the promotion ends (open: until changed).
    pub promotional_until: Option<DateTime<Utc>>,
}

/// Why a price is refused. Each has a stable public code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum PriceProblem {
    /// A negative regular or promotional price.
    #[error("a price must not be negative")]
    NegativePrice,
    /// A promotional price above the regular price.
    #[error("the promotional price is above the regular price")]
    PromotionalAboveRegular,
    /// A promotional window that ends before it starts, or a window without a
    /// promotional price.
    #[error("the promotional window ends before it starts, or has no promotional price")]
    InvalidWindow,
}

impl PriceProblem {
    /// The public code.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::NegativePrice => ErrorCode::NegativePrice,
            Self::PromotionalAboveRegular => ErrorCode::PromotionalAboveRegular,
            Self::InvalidWindow => ErrorCode::InvalidPromotionalWindow,
        }
    }
}

/// Basis points in one percent.
const BP_PER_PERCENT: i64 = 100;
/// Basis points in a whole.
const BP_WHOLE: i128 = 10_000;

impl PriceValue {
    /// The first rule the price breaks, if any.
    pub fn check(&self) -> Result<(), PriceProblem> {
        if self.price < 0 || self.promotional_price.is_some_and(|p| p < 0) {
            return Err(PriceProblem::NegativePrice);
        }
        if self.promotional_price.is_some_and(|p| p > self.price) {
            return Err(PriceProblem::PromotionalAboveRegular);
        }
        let window = self.promotional_from.is_some() || self.promotional_until.is_some();
        if window && self.promotional_price.is_none() {
            return Err(PriceProblem::InvalidWindow);
        }
        if let (Some(from), Some(until)) = (self.promotional_from, self.promotional_until) {
            if until <= from {
                return Err(PriceProblem::InvalidWindow);
            }
        }
        Ok(())
    }

    /// The price a channel with this markup (basis points: 1200 = +12%) shows: every
    /// amount scaled and rounded half away from zero to the centavo; the window kept.
    pub fn with_markup(&self, markup_bp: i64) -> PriceValue {
        let scale = |cents: i64| -> i64 {
            let num = i128::from(cents) * (BP_WHOLE + i128::from(markup_bp));
            let half = BP_WHOLE / 2;
            let rounded = if num >= 0 {
                (num + half) / BP_WHOLE
            } else {
                (num - half) / BP_WHOLE
            };
            i64::try_from(rounded).unwrap_or(if num >= 0 { i64::MAX } else { i64::MIN })
        };
        PriceValue {
            price: scale(self.price),
            promotional_price: self.promotional_price.map(scale),
            promotional_from: self.promotional_from,
            promotional_until: self.promotional_until,
        }
    }

    /// The promotional price in force at `now` (inside its window), if any.
    pub fn promotion_at(&self, now: DateTime<Utc>) -> Option<i64> {
        let started = self.promotional_from.is_none_or(|f| f <= now);
        let running = self.promotional_until.is_none_or(|u| now < u);
        self.promotional_price.filter(|_| started && running)
    }

    /// The moments after `now` at which the promotion starts or ends (a channel
    /// without windows of its own is told again then).
    pub fn window_edges_after(&self, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        if self.promotional_price.is_none() {
            return vec![];
        }
        [self.promotional_from, self.promotional_until]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .collect()
    }
}

/// A channel's price settings. Flat keys among its settings, validated here for every
/// platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSettings {
    /// Push prices to the channel.
    #[serde(default)]
    pub send_prices: bool,
    /// The channel's markup on every price, in percent with up to two decimals
    /// (`12` = +12%, `-5.5` = 5.5% off); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_markup_percent: Option<f64>,
    /// The `price_check` task pushes again the prices it finds drifted (off: it only
    /// reports them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub price_check_fix: bool,
}

/// The settings keys that belong to prices.
pub const KEYS: [&str; 3] = ["send_prices", "price_markup_percent", "price_check_fix"];

/// Invalid price settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PriceSettingsError(pub String);

impl PriceSettings {
    /// Splits a settings object into the price settings and the other keys.
    pub fn split(
        settings: &serde_json::Value,
    ) -> Result<(PriceSettings, serde_json::Value), PriceSettingsError> {
        let Some(obj) = settings.as_object() else {
            return Err(PriceSettingsError("settings must be a JSON object".into()));
        };
        let (mine, rest): (serde_json::Map<_, _>, serde_json::Map<_, _>) = obj
            .clone()
            .into_iter()
            .partition(|(k, _)| KEYS.contains(&k.as_str()));
        let s: PriceSettings = serde_json::from_value(serde_json::Value::Object(mine))
            .map_err(|e| PriceSettingsError(e.to_string()))?;
        s.markup_bp()?;
        Ok((s, serde_json::Value::Object(rest)))
    }

    /// The markup in basis points (refused beyond two decimals, at or below -100%, or
    /// above +1000%).
    pub fn markup_bp(&self) -> Result<i64, PriceSettingsError> {
        let Some(pct) = self.price_markup_percent else {
            return Ok(0);
        };
        let bp = (pct * BP_PER_PERCENT as f64).round();
        let bad = || {
            PriceSettingsError(
                "price_markup_percent must be above -100 and at most 1000, with up to two decimals"
                    .into(),
            )
        };
        if !pct.is_finite() || (bp - pct * BP_PER_PERCENT as f64).abs() > 1e-6 {
            return Err(bad());
        }
        if bp <= -10_000.0 || bp > 100_000.0 {
            return Err(bad());
        }
        // In range: the conversion is exact.
        Ok(bp as i64)
    }

    /// Adds the price keys to a settings object.
    pub fn merge_into(&self, settings: &mut serde_json::Value) {
        if let (Some(obj), Ok(serde_json::Value::Object(mine))) =
            (settings.as_object_mut(), serde_json::to_value(self))
        {
            obj.extend(mine);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn value(price: i64, promo: Option<i64>) -> PriceValue {
        PriceValue {
            price,
            promotional_price: promo,
            promotional_from: None,
            promotional_until: None,
        }
    }

    #[test]
    fn rules_name_the_first_problem() {
        assert_eq!(value(1990, Some(1790)).check(), Ok(()));
        assert_eq!(value(0, None).check(), Ok(()));
        assert_eq!(value(-1, None).check(), Err(PriceProblem::NegativePrice));
        assert_eq!(
            value(100, Some(-1)).check(),
            Err(PriceProblem::NegativePrice)
        );
        assert_eq!(
            value(100, Some(101)).check(),
            Err(PriceProblem::PromotionalAboveRegular)
        );
        let mut w = value(100, Some(90));
        w.promotional_from = Some(at(10));
        w.promotional_until = Some(at(9));
        assert_eq!(w.check(), Err(PriceProblem::InvalidWindow));
        w.promotional_until = Some(at(10));
        assert_eq!(w.check(), Err(PriceProblem::InvalidWindow));
        w.promotional_until = Some(at(11));
        assert_eq!(w.check(), Ok(()));
        w.promotional_price = None;
        assert_eq!(w.check(), Err(PriceProblem::InvalidWindow));
        assert_eq!(
            PriceProblem::InvalidWindow.code(),
            ErrorCode::InvalidPromotionalWindow
        );
    }

    #[test]
    fn markup_rounds_half_away_from_zero() {
        let v = value(1990, Some(1795));
        let m = v.with_markup(1200);
        assert_eq!((m.price, m.promotional_price), (2229, Some(2010)));
        assert_eq!(value(5, None).with_markup(1000).price, 6);
        assert_eq!(value(1000, None).with_markup(-550).price, 945);
        assert_eq!(value(1990, None).with_markup(0), value(1990, None));
    }

    #[test]
    fn a_window_is_in_force_between_its_edges() {
        let mut w = value(100, Some(90));
        w.promotional_from = Some(at(10));
        w.promotional_until = Some(at(12));
        assert_eq!(w.promotion_at(at(9)), None);
        assert_eq!(w.promotion_at(at(10)), Some(90));
        assert_eq!(w.promotion_at(at(12)), None);
        assert_eq!(w.window_edges_after(at(11)), vec![at(12)]);
        assert!(value(100, None).window_edges_after(at(1)).is_empty());
    }

    #[test]
    fn settings_split_and_check_the_markup() {
        let s = serde_json::json!({"send_prices": true, "price_markup_percent": 12.5, "x": 1});
        let (p, rest) = PriceSettings::split(&s).unwrap_or_default();
        assert!(p.send_prices);
        assert_eq!(p.markup_bp(), Ok(1250));
        assert_eq!(rest, serde_json::json!({"x": 1}));
        for bad in [
            serde_json::json!({"price_markup_percent": 1.234}),
            serde_json::json!({"price_markup_percent": -100}),
            serde_json::json!({"price_markup_percent": "12"}),
        ] {
            assert!(PriceSettings::split(&bad).is_err(), "{bad}");
        }
    }
}
