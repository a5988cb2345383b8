//! Stock: balances per SKU and warehouse, what moves them, the value each channel
//! shows, GTIN check digits and the per-channel stock settings. The one place where
//! available stock is computed.

use serde::{Deserialize, Serialize};

/// A SKU's balance in one warehouse. Either may go below zero (a marketplace that
/// oversold): that is shown, not hidden.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Units on the shelf.
    pub physical: i64,
    /// Units promised to orders not yet invoiced.
    pub reserved: i64,
}

impl Balance {
    /// Units that can still be sold: physical minus reserved.
    pub fn available(self) -> i64 {
        self.physical - self.reserved
    }

    /// The balance after a change.
    pub fn apply(self, change: Change) -> Balance {
        let Balance { physical, reserved } = self;
        match change {
            Change::Set(n) => Balance {
                physical: n,
                reserved,
            },
            Change::Delta(d) => Balance {
                physical: physical.saturating_add(d),
                reserved,
            },
            Change::Reserve(q) => Balance {
                physical,
                reserved: reserved.saturating_add(q),
            },
            Change::Release(q) => Balance {
                physical,
                reserved: reserved.saturating_sub(q),
            },
            Change::Debit(q) => Balance {
                physical: physical.saturating_sub(q),
                reserved: reserved.saturating_sub(q),
            },
            Change::Restore(q) => Balance {
                physical: physical.saturating_add(q),
                reserved,
            },
        }
    }
}

/// What moves a balance (every change is one ledger entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "quantity", rename_all = "snake_case")]
pub enum Change {
    /// Inventory count: physical becomes this.
    Set(i64),
    /// Adjustment: physical moves by this.
    Delta(i64),
    /// An imported order promises units.
    Reserve(i64),
    /// Its cancellation gives them back.
    Release(i64),
    /// Its invoice: the promised units leave the shelf.
    Debit(i64),
    /// A cancellation after the invoice: the units come back to the shelf.
    Restore(i64),
}

impl Change {
    /// Ledger name.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Set(_) => "set",
            Self::Delta(_) => "delta",
            Self::Reserve(_) => "reserve",
            Self::Release(_) => "release",
            Self::Debit(_) => "debit",
            Self::Restore(_) => "restore",
        }
    }

    /// The quantity it carries.
    pub fn quantity(self) -> i64 {
        match self {
            Self::Set(n)
            | Self::Delta(n)
            | Self::Reserve(n)
            | Self::Release(n)
            | Self::Debit(n)
            | Self::Restore(n) => n,
        }
    }
}

/// What an order's units of one SKU do to its warehouse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    /// Units reserved.
    pub reserved: i64,
    /// Units debited (left the shelf with the invoice).
    pub debited: i64,
}

/// What an order's units should do: nothing once cancelled, debited once invoiced,
/// reserved otherwise.
pub fn order_effect(cancelled: bool, invoiced: bool, quantity: i64) -> Effect {
    let quantity = quantity.max(0);
    match (cancelled, invoiced) {
        (true, _) => Effect::default(),
        (false, true) => Effect {
            reserved: 0,
            debited: quantity,
        },
        (false, false) => Effect {
            reserved: quantity,
            debited: 0,
        },
    }
}

/// The ledger changes that take an order's effect from `from` to `to` (none when
/// equal: replays change nothing).
pub fn moves(from: Effect, to: Effect) -> Vec<Change> {
    if from == to {
        return vec![];
    }
    // The usual path: the invoice turns the whole reservation into a debit.
    if from.debited == 0 && to.reserved == 0 && from.reserved == to.debited {
        return vec![Change::Debit(to.debited)];
    }
    let mut out = vec![];
    if from.reserved > 0 {
        out.push(Change::Release(from.reserved));
    }
    if from.debited > 0 {
        out.push(Change::Restore(from.debited));
    }
    if to.reserved > 0 {
        out.push(Change::Reserve(to.reserved));
    }
    if to.debited > 0 {
        out.push(Change::Reserve(to.debited));
        out.push(Change::Debit(to.debited));
    }
    out
}

/// The balance an effect leaves: the changes that build it from nothing.
pub fn effect_balance(e: Effect) -> Balance {
    moves(Effect::default(), e)
        .into_iter()
        .fold(Balance::default(), Balance::apply)
}

/// The stock a channel should show for a SKU: what is available in the warehouses that
/// feed it, minus the units held back; platforms take no negative stock.
pub fn channel_value(available_in_feeding_warehouses: i64, buffer: i64) -> i64 {
    available_in_feeding_warehouses
        .saturating_sub(buffer.max(0))
        .max(0)
}

/// Why a GTIN (EAN) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GTIN `{0}`: 8, 12, 13 or 14 digits with a valid check digit")]
pub struct InvalidGtin(pub String);

/// Checks a GTIN-8/12/13/14 (EAN/UPC) and its mod-10 check digit.
pub fn validate_gtin(code: &str) -> Result<(), InvalidGtin> {
    let bad = || InvalidGtin(code.to_owned());
    let digits: Vec<u32> = code
        .chars()
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    if ![8, 12, 13, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    // Weights 3,1,3,... from the digit next to the check digit leftwards.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    if (10 - sum % 10) % 10 == check[0] {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A channel's stock settings. Flat keys among its settings, validated here for every
/// platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockSettings {
    /// Push stock to the channel.
    #[serde(default)]
    pub send_stock: bool,
    /// Warehouse codes whose available stock this channel shows (summed).
    #[serde(default)]
    pub stock_warehouses: Vec<String>,
    /// Warehouse the channel's sales reserve and debit.
    #[serde(default)]
    pub debit_warehouse: Option<String>,
    /// Units held back from the channel.
    #[serde(default)]
    pub stock_buffer: i64,
}

/// The settings keys that belong to stock.
pub const KEYS: [&str; 4] = [
    "send_stock",
    "stock_warehouses",
    "debit_warehouse",
    "stock_buffer",
];

/// Invalid stock settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StockSettingsError(pub String);

impl StockSettings {
    /// Splits a settings object into the stock settings and the other keys.
    pub fn split(
        settings: &serde_json::Value,
    ) -> Result<(StockSettings, serde_json::Value), StockSettingsError> {
        let Some(obj) = settings.as_object() else {
            return Err(StockSettingsError("settings must be a JSON object".into()));
        };
        let (mine, rest): (serde_json::Map<_, _>, serde_json::Map<_, _>) = obj
            .clone()
            .into_iter()
            .partition(|(k, _)| KEYS.contains(&k.as_str()));
        let s: StockSettings = serde_json::from_value(serde_json::Value::Object(mine))
            .map_err(|e| StockSettingsError(e.to_string()))?;
        if s.stock_buffer < 0 {
            return Err(StockSettingsError(
                "stock_buffer must not be negative".into(),
            ));
        }
        if let Some(w) = s
            .stock_warehouses
            .iter()
            .enumerate()
            .find(|(i, w)| s.stock_warehouses[..*i].contains(w))
            .map(|(_, w)| w)
        {
            return Err(StockSettingsError(format!(
                "stock_warehouses lists `{w}` twice"
            )));
        }
        if s.send_stock && s.stock_warehouses.is_empty() {
            return Err(StockSettingsError(
                "send_stock needs stock_warehouses (the warehouse codes that feed this channel)"
                    .into(),
            ));
        }
        Ok((s, serde_json::Value::Object(rest)))
    }

    /// Adds the stock keys to a settings object.
    pub fn merge_into(&self, settings: &mut serde_json::Value) {
        if let (Some(obj), Ok(serde_json::Value::Object(mine))) =
            (settings.as_object_mut(), serde_json::to_value(self))
        {
            obj.extend(mine);
        }
    }

    /// Every warehouse code the settings name.
    pub fn warehouse_codes(&self) -> impl Iterator<Item = &str> {
        self.stock_warehouses
            .iter()
            .map(String::as_str)
            .chain(self.debit_warehouse.as_deref())
    }
}

#[cfg(test)]
mod tests;
