//! The channel of each order met, remembered: an order never changes channel, so an
//! ERP action learns its channel's send plan without reading the order first.

use ponte_core::{ChannelId, OrderId, TenantId};
use ponte_store::ImportApplied;
use std::collections::HashMap;
use std::sync::Mutex;

/// Orders remembered at most (about 64 bytes each); the map starts again empty when
/// full.
const CAPACITY: usize = 200_000;

/// Order to channel, for the orders this instance imported or acted on.
#[derive(Default)]
pub(crate) struct OrderChannels(Mutex<HashMap<(TenantId, OrderId), ChannelId>>);

impl OrderChannels {
    /// The order's channel, when remembered.
    pub(crate) fn get(&self, tenant: TenantId, order: OrderId) -> Option<ChannelId> {
        self.0.lock().ok()?.get(&(tenant, order)).copied()
    }

    /// Remembers the order's channel.
    pub(crate) fn remember(&self, tenant: TenantId, order: OrderId, channel: ChannelId) {
        if let Ok(mut map) = self.0.lock() {
            insert(&mut map, (tenant, order), channel);
        }
    }

    /// Remembers the orders the imports stored, each of its channel.
    pub(crate) fn remember_imported<'a>(
        &self,
        imported: impl IntoIterator<Item = (TenantId, ChannelId, &'a ImportApplied)>,
    ) {
        let Ok(mut map) = self.0.lock() else {
            return;
        };
        for (tenant, channel, applied) in imported {
            if let ImportApplied::Created(order)
            | ImportApplied::Updated(order)
            | ImportApplied::Unchanged(order) = applied
            {
                insert(&mut map, (tenant, *order), channel);
            }
        }
    }
}

/// Inserts, starting again empty when the map is full.
fn insert(
    map: &mut HashMap<(TenantId, OrderId), ChannelId>,
    key: (TenantId, OrderId),
    channel: ChannelId,
) {
    if map.len() >= CAPACITY {
        map.clear();
    }
    map.insert(key, channel);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_orders_are_remembered_per_tenant() {
        let m = OrderChannels::default();
        let (t, c, o) = (TenantId::new(), ChannelId::new(), OrderId::new());
        m.remember_imported([
            (t, c, &ImportApplied::Created(o)),
            (t, c, &ImportApplied::Stale),
        ]);
        assert_eq!(m.get(t, o), Some(c));
        assert_eq!(m.get(TenantId::new(), o), None, "another tenant's key");
        let other = OrderId::new();
        m.remember(t, other, c);
        assert_eq!(m.get(t, other), Some(c));
    }
}
