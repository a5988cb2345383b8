//! `price_check` (issue 21): reads back a sample of a channel's pushed prices through
//! its connector and compares them with what ponte last pushed. A difference is
//! drift: it is noted on the (channel, SKU) price target (its `last_error`, shown by
//! `GET /api/v1/prices/{sku}` and the console's Preços page) and counted in the run
//! (`seen` prices read, `unchanged` matching, `flagged` drifted, `enqueued` pushed
//! again, `unreadable` reads that failed); with the channel's `price_check_fix` on the
//! drifted prices are pushed again. The task is created when a channel sends prices.

use crate::task_run::Ran;
use crate::Engine;
use chrono::{DateTime, Utc};
use ponte_channels::{PlatformErrorKind, PriceItem, ShownPrice};
use ponte_core::price::{PriceSettings, PriceValue};
use ponte_store::{PriceTarget, RunCounts, TaskRun};
use tokio::sync::watch;

/// Prices read back per run.
const SAMPLE: u32 = 50;

/// What the channel should show for a pushed price: the regular price and the
/// promotion (a platform without windows of its own shows the one in force `now`).
fn expected(v: &PriceValue, windowless: bool, now: DateTime<Utc>) -> ShownPrice {
    ShownPrice {
        price: Some(v.price),
        promotional_price: if windowless {
            v.promotion_at(now)
        } else {
            v.promotional_price
        },
    }
}

fn text(p: &ShownPrice) -> String {
    let cents = |c: Option<i64>| c.map_or_else(|| "none".to_owned(), |c| c.to_string());
    format!(
        "price {} promotional {}",
        cents(p.price),
        cents(p.promotional_price)
    )
}

impl Engine {
    /// `price_check` (rules in the module documentation).
    pub(crate) async fn run_price_check(&self, run: &TaskRun, stop: &watch::Receiver<bool>) -> Ran {
        let mut counts = RunCounts::default();
        let tenant = run.tenant_id;
        let Some(channel) = run.channel_id else {
            return Ran::ok(counts);
        };
        let fix = match self.store.channel(channel).await {
            Ok(Some(c)) => PriceSettings::split(&c.settings)
                .map(|(s, _)| s.price_check_fix)
                .unwrap_or(false),
            Ok(None) => return Ran::ok(counts),
            Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
        };
        let ready = match self.cached_channel(channel).await {
            Ok(r) if r.enabled => r,
            Ok(_) => return Ran::ok(counts),
            Err(e) => return Ran::failed(counts, format!("{}: {e}", e.code())),
        };
        let windowless = self
            .platform(&ready.platform)
            .map(|p| !p.keeps_price_windows())
            .unwrap_or(true);
        let sample: Vec<PriceTarget> =
            match self.store.price_check_sample(tenant, channel, SAMPLE).await {
                Ok(s) => s,
                Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
            };
        let mut drifts = vec![];
        for t in sample {
            if *stop.borrow() {
                return Ran::Stopped;
            }
            let Some(pushed) = t.pushed.clone() else {
                continue;
            };
            if let Err(wait) = self.tokens_or_wait(&ready, tenant, 1).await {
                tokio::time::sleep(wait).await;
            }
            let item = PriceItem {
                sku: t.sku.clone(),
                product_id: t.product_id.clone(),
                variant_id: t.variant_id.clone(),
                price: pushed.clone(),
            };
            let now = self.clock.now();
            for read in ready
                .connector
                .read_prices(std::slice::from_ref(&item))
                .await
            {
                counts.calls += u64::from(read.info.status.is_some());
                match read.result {
                    Ok(shown) => {
                        counts.seen += 1;
                        let want = expected(&pushed, windowless, now);
                        if shown == want {
                            counts.unchanged += 1;
                        } else {
                            counts.flagged += 1;
                            let note = format!(
                                "drift: the channel shows {}, ponte pushed {}",
                                text(&shown),
                                text(&want)
                            );
                            tracing::info!(sku = %read.item.sku, %note, "price drift");
                            drifts.push((read.item.sku, note));
                        }
                    }
                    Err(e) if e.kind == PlatformErrorKind::Auth => {
                        self.note_refusal(tenant, channel, &e).await;
                        return Ran::failed(counts, e.to_string());
                    }
                    Err(_) => counts.unreadable += 1,
                }
            }
        }
        match self
            .store
            .note_price_drift(tenant, channel, &drifts, fix, self.clock.now())
            .await
        {
            Ok(n) => {
                counts.enqueued = n;
                if n > 0 {
                    self.wake_workers();
                }
                Ran::ok(counts)
            }
            Err(e) => Ran::failed(counts, format!("storage_error: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_windowless_platform_shows_the_promotion_in_force() {
        let now = chrono::DateTime::UNIX_EPOCH;
        let v = PriceValue {
            price: 1000,
            promotional_price: Some(900),
            promotional_from: Some(now + chrono::Duration::hours(1)),
            promotional_until: None,
        };
        assert_eq!(expected(&v, true, now).promotional_price, None);
        assert_eq!(expected(&v, false, now).promotional_price, Some(900));
        assert_eq!(
            text(&expected(&v, false, now)),
            "price 1000 promotional 900"
        );
    }
}
