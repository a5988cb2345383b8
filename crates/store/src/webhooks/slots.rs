//! How a claim shares an instance's delivery slots between endpoints, so a slow
//! endpoint holds only its share and the others keep going.

use ponte_core::{EndpointId, TenantId};
use std::collections::HashMap;

/// An instance's delivery slots when it claims.
#[derive(Debug, Clone, Default)]
pub struct DeliverySlots {
    /// All the instance's slots (its delivery concurrency).
    pub total: u32,
    /// Deliveries in flight per endpoint.
    pub in_flight: HashMap<EndpointId, u32>,
    /// Which endpoint is served first this round (rotates, so none always comes last).
    pub round: u64,
}

impl DeliverySlots {
    /// Free slots.
    pub fn free(&self) -> u32 {
        self.total.saturating_sub(self.in_flight.values().sum())
    }

    /// A delivery to `endpoint` ended: its slot is free again.
    pub fn release(&mut self, endpoint: EndpointId) {
        if let Some(n) = self.in_flight.get_mut(&endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(&endpoint);
            }
        }
    }

    /// Most deliveries one endpoint may have in flight when `endpoints` are enabled:
    /// an equal share, but never under a quarter of the slots (a lone endpoint gets
    /// them all; many endpoints each keep enough to stay fast).
    pub fn share(&self, endpoints: usize) -> u32 {
        let n = u32::try_from(endpoints.max(1)).unwrap_or(u32::MAX);
        (self.total / n).max(self.total / 4).max(1)
    }

    /// How many due messages each enabled endpoint may claim now, in the order to
    /// claim them (endpoints with nothing to claim are left out).
    pub fn allowances(
        &self,
        endpoints: &[(TenantId, EndpointId)],
    ) -> Vec<(TenantId, EndpointId, u32)> {
        let share = self.share(endpoints.len());
        let mut free = self.free();
        let start = usize::try_from(self.round % endpoints.len().max(1) as u64).unwrap_or(0);
        let mut out = Vec::new();
        for (t, e) in endpoints.iter().cycle().skip(start).take(endpoints.len()) {
            let busy = self.in_flight.get(e).copied().unwrap_or(0);
            let k = share.saturating_sub(busy).min(free);
            if k > 0 {
                free -= k;
                out.push((*t, *e, k));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps(n: usize) -> Vec<(TenantId, EndpointId)> {
        let t = TenantId::new();
        (0..n).map(|_| (t, EndpointId::new())).collect()
    }

    #[test]
    fn a_lone_endpoint_gets_every_slot_and_many_keep_a_quarter() {
        let s = DeliverySlots {
            total: 64,
            ..Default::default()
        };
        assert_eq!(s.share(1), 64);
        assert_eq!(s.share(2), 32);
        assert_eq!(s.share(3), 21);
        assert_eq!(s.share(10), 16);
        let zero = DeliverySlots::default();
        assert_eq!(zero.share(3), 1);
    }

    #[test]
    fn a_busy_endpoint_leaves_the_others_their_share() {
        let e = eps(2);
        let mut s = DeliverySlots {
            total: 64,
            ..Default::default()
        };
        s.in_flight.insert(e[0].1, 32);
        assert_eq!(s.allowances(&e), vec![(e[1].0, e[1].1, 32)]);
        s.in_flight.insert(e[1].1, 30);
        assert_eq!(s.allowances(&e), vec![(e[1].0, e[1].1, 2)]);
    }

    #[test]
    fn free_slots_go_round_the_endpoints() {
        let e = eps(3);
        let mut s = DeliverySlots {
            total: 8,
            ..Default::default()
        };
        // Share 2 each (a quarter of 8), so six of eight slots are asked for.
        let all: u32 = s.allowances(&e).iter().map(|a| a.2).sum();
        assert_eq!(all, 6);
        s.in_flight.insert(e[2].1, 1);
        s.in_flight.insert(e[1].1, 5);
        // Two slots free: the first in this round's order takes what it may.
        s.round = 2;
        assert_eq!(
            s.allowances(&e),
            vec![(e[2].0, e[2].1, 1), (e[0].0, e[0].1, 1)]
        );
    }
}
