//! The phases of `stock`: single changes on an idle channel, then many changes
//! propagated to several channels, with or without the platform's rate limit.

use super::hub::{limit_floor, prepare, Hub, Item, Shop, LEAK_PER_SEC, WAREHOUSE};
use crate::load::histogram;
use crate::scenarios::Target;
use crate::sends::probe::Cpu;
use anyhow::Context;
use hdrhistogram::Histogram;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Variants per product of the idle phase's catalogue.
pub const IDLE_VARIANTS: usize = 3;
/// How long one idle change may take to reach the simulator.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the idle phase measured.
pub struct Idle {
    /// Changes made.
    pub samples: usize,
    /// SKUs listed.
    pub skus: usize,
    /// From before the movement's POST to the simulator receiving the push, µs.
    pub to_platform: Histogram<u64>,
    /// The movement's POST, µs.
    pub api: Histogram<u64>,
    /// Push calls answered 2xx.
    pub calls: usize,
    /// What is wrong (empty: right).
    pub wrong: Vec<String>,
}

/// One channel, `products` × [`IDLE_VARIANTS`] listed SKUs, every value pushed; then
/// `samples` single movements, each once the queue is idle again, each followed until
/// the simulator shows its value.
pub async fn idle(
    target: &Target,
    products: usize,
    samples: usize,
    gap: Duration,
) -> anyhow::Result<Idle> {
    let shop = Shop::start(0, false).await?;
    let items = shop.catalogue(products, IDLE_VARIANTS);
    let (hub, _) = prepare(target, std::slice::from_ref(&shop), None, &items).await?;
    let out = idle_run(&hub, &shop, &items, samples, gap).await;
    if let Ok(out) = &out {
        eprintln!(
            "stock idle: {} changes, change -> push p99 {:.1} ms",
            out.samples,
            out.to_platform.value_at_quantile(0.99) as f64 / 1000.0
        );
    }
    hub.finish().await;
    out
}

async fn idle_run(
    hub: &Hub,
    shop: &Shop,
    items: &[Item],
    samples: usize,
    gap: Duration,
) -> anyhow::Result<Idle> {
    let mut out = Idle {
        samples,
        skus: items.len(),
        to_platform: histogram()?,
        api: histogram()?,
        calls: 0,
        wrong: vec![],
    };
    let mut shown: HashMap<usize, i64> = HashMap::new();
    let mut started: Vec<(u64, Instant)> = Vec::with_capacity(samples);
    let mut timeouts = 0;
    let products = products_of(items);
    for k in 0..samples {
        // Spread over products: consecutive changes hit different products.
        let i = (k * IDLE_VARIANTS + k / products) % items.len();
        let (p, v, sku) = &items[i];
        let value = k as i64 + 1;
        let t0 = Instant::now();
        hub.post(
            "/api/v1/stock/movements",
            &json!({"sku": sku, "warehouse": WAREHOUSE, "set": value, "reason": "bench"}),
        )
        .await?;
        out.api.record((t0.elapsed().as_micros() as u64).max(1))?;
        started.push((*p, t0));
        shown.insert(i, value);
        while shop.sim.variant_stock(*p, *v) != Some(value) {
            if t0.elapsed() > IDLE_TIMEOUT {
                timeouts += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        hub.jobs_idle(Duration::from_secs(30)).await?;
        tokio::time::sleep(gap).await;
    }
    let (pushes, other) = shop.pushes();
    let refused = pushes.iter().filter(|x| !ok(x.2)).count();
    out.calls = pushes.len() - refused;
    // Each change's push: the first 2xx push of its product after its POST, before
    // the next change's POST.
    let mut unmatched = 0;
    for (j, (p, t0)) in started.iter().enumerate() {
        let next = started.get(j + 1).map(|(_, t)| *t);
        let hit = pushes
            .iter()
            .filter(|(q, at, st)| q == p && ok(*st) && at >= t0 && next.is_none_or(|n| *at < n))
            .map(|(_, at, _)| *at)
            .min();
        match hit {
            Some(at) => out
                .to_platform
                .record((at.saturating_duration_since(*t0).as_micros() as u64).max(1))?,
            None => unmatched += 1,
        }
    }
    if timeouts > 0 {
        out.wrong.push(format!(
            "{timeouts} changes not shown within {IDLE_TIMEOUT:?}"
        ));
    }
    if unmatched > 0 {
        out.wrong.push(format!(
            "{unmatched} changes without a push of their product"
        ));
    }
    if out.calls != samples || refused > 0 || other > 0 {
        out.wrong.push(format!(
            "{} push calls for {samples} changes ({refused} refused, {other} other requests)",
            out.calls
        ));
    }
    let mismatched = items
        .iter()
        .enumerate()
        .filter(|(i, (p, v, _))| {
            shop.sim.variant_stock(*p, *v) != Some(shown.get(i).copied().unwrap_or(0))
        })
        .count();
    if mismatched > 0 {
        out.wrong.push(format!(
            "{mismatched} variants show another value at the end"
        ));
    }
    Ok(out)
}

fn ok(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Products in a catalogue.
fn products_of(items: &[Item]) -> usize {
    items
        .iter()
        .map(|(p, _, _)| *p)
        .collect::<BTreeSet<_>>()
        .len()
        .max(1)
}

/// The size of a propagation phase.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Products in each store.
    pub products: usize,
    /// Variants (SKUs) per product.
    pub variants: usize,
    /// Movements posted.
    pub changes: usize,
    /// Movements per request.
    pub batch: usize,
    /// Channels (one store each), all listing every SKU.
    pub channels: usize,
}

/// Movements over a catalogue and the value each SKU's channels must show after them.
struct Plan {
    /// The request bodies' rows.
    rows: Vec<Value>,
    /// Per SKU (catalogue order): what the channels show after the movements.
    shown: Vec<i64>,
    /// Products with a SKU whose shown value changed (from 0): the fewest calls a
    /// channel needs.
    minimum: usize,
}

/// `n` movements spread round-robin over the SKUs: a quarter inventory counts
/// (`set` 0..=500), the rest adjustments (`delta` -5..=10; a negative balance shows 0).
fn plan(items: &[Item], n: usize, seed: u64) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut physical = vec![0i64; items.len()];
    let mut rows = Vec::with_capacity(n);
    for k in 0..n {
        let i = k % items.len().max(1);
        let sku = &items[i].2;
        if rng.gen_range(0..4) == 0 {
            let set = rng.gen_range(0..=500);
            physical[i] = set;
            rows.push(json!({"sku": sku, "warehouse": WAREHOUSE, "set": set, "reason": "bench"}));
        } else {
            let delta = rng.gen_range(-5..=10);
            physical[i] += delta;
            rows.push(
                json!({"sku": sku, "warehouse": WAREHOUSE, "delta": delta, "reason": "bench"}),
            );
        }
    }
    let shown: Vec<i64> = physical.iter().map(|p| (*p).max(0)).collect();
    let minimum = items
        .iter()
        .zip(&shown)
        .filter(|(_, s)| **s != 0)
        .map(|((p, _, _), _)| *p)
        .collect::<BTreeSet<_>>()
        .len();
    Plan {
        rows,
        shown,
        minimum,
    }
}

/// One channel's side of a propagation.
pub struct ChannelRun {
    /// Push calls answered 2xx.
    pub calls: usize,
    /// Push calls answered otherwise (429 with the rate limit).
    pub refused: usize,
    /// Other requests the store received.
    pub other: usize,
    /// From the first POST to this store's first push (a channel waiting for a push
    /// worker starts late).
    pub first: Option<Duration>,
    /// From the first POST to this store's last 2xx push.
    pub last: Option<Duration>,
    /// Variants showing another value than the movements give.
    pub mismatched: usize,
    /// Values ponte lists as failed.
    pub failed: u64,
}

/// What a propagation measured.
pub struct Propagation {
    /// Platform rate limit on (simulator bucket and channel budget).
    pub limited: bool,
    /// The size.
    pub size: Size,
    /// Requests the movements took.
    pub requests: usize,
    /// The movement POSTs, one after the other.
    pub api: Duration,
    /// From the first POST to the last 2xx push any store received.
    pub wall: Duration,
    /// From the first POST to this client seeing nothing pending.
    pub observed: Duration,
    /// Fewest calls each channel needs (products with a changed value).
    pub minimum: usize,
    /// Per channel.
    pub channels: Vec<ChannelRun>,
    /// CPU used from the first POST to nothing pending.
    pub cpu: Cpu,
    /// Setting up (products, channels, listings, initial pushes).
    pub setup: Duration,
    /// Peak RSS of ponte, MiB.
    pub rss_mb: Option<u64>,
    /// What is wrong (empty: right).
    pub wrong: Vec<String>,
}

impl Propagation {
    /// The time the platform's limit allows at best: each store takes its calls
    /// beyond the bucket at the leak rate, the stores in parallel (0 without limit).
    pub fn floor(&self) -> Duration {
        if !self.limited {
            return Duration::ZERO;
        }
        limit_floor(self.minimum)
    }

    /// Most calls any channel made per call needed.
    pub fn worst_call_ratio(&self) -> f64 {
        self.channels
            .iter()
            .map(|c| c.calls as f64 / self.minimum.max(1) as f64)
            .fold(0.0, f64::max)
    }

    /// Every store's 2xx pushes per second over the wall time.
    pub fn calls_per_sec(&self) -> f64 {
        let calls: usize = self.channels.iter().map(|c| c.calls).sum();
        calls as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// `size.channels` stores with the same catalogue, a fresh ponte listing it on a
/// channel to each, every value pushed; then the movements, posted in requests of
/// `size.batch`, followed until nothing is pending; then every store checked.
pub async fn propagate(
    target: &Target,
    size: Size,
    limited: bool,
    seed: u64,
) -> anyhow::Result<Propagation> {
    let t_setup = Instant::now();
    let mut shops = Vec::with_capacity(size.channels);
    for n in 0..size.channels {
        shops.push(Shop::start(n, limited).await?);
    }
    let items = shops
        .first()
        .context("no channel")?
        .catalogue(size.products, size.variants);
    for shop in &shops[1..] {
        if shop.catalogue(size.products, size.variants) != items {
            anyhow::bail!("the simulated stores gave their catalogues different ids");
        }
    }
    let twins = if limited {
        let mut twins = Vec::with_capacity(size.channels);
        for n in 0..size.channels {
            let twin = Shop::start(n, false).await?;
            if twin.catalogue(size.products, size.variants) != items {
                anyhow::bail!("the twin store gave its catalogue different ids");
            }
            twins.push(twin);
        }
        Some(twins)
    } else {
        None
    };
    let (hub, channels) = prepare(target, &shops, twins.as_deref(), &items).await?;
    let setup = t_setup.elapsed();
    let plan = plan(&items, size.changes, seed);
    let out = run(&hub, &shops, &channels, &items, &plan, size, limited).await;
    let rss_mb = hub.rss_mb();
    hub.finish().await;
    let (requests, api, wall, observed, channel_runs, cpu) = out?;
    let mut wrong = vec![];
    for (n, c) in channel_runs.iter().enumerate() {
        if c.mismatched > 0 || c.failed > 0 {
            wrong.push(format!(
                "channel {n}: {} variants show another value, {} values failed",
                c.mismatched, c.failed
            ));
        }
        if c.other > 0 {
            wrong.push(format!(
                "channel {n}: {} requests other than pushes",
                c.other
            ));
        }
        if !limited && c.refused > 0 {
            wrong.push(format!("channel {n}: {} pushes refused", c.refused));
        }
    }
    Ok(Propagation {
        limited,
        size,
        requests,
        api,
        wall,
        observed,
        minimum: plan.minimum,
        channels: channel_runs,
        cpu,
        setup,
        rss_mb,
        wrong,
    })
}

type RunOut = (usize, Duration, Duration, Duration, Vec<ChannelRun>, Cpu);

async fn run(
    hub: &Hub,
    shops: &[Shop],
    channels: &[String],
    items: &[Item],
    plan: &Plan,
    size: Size,
    limited: bool,
) -> anyhow::Result<RunOut> {
    // Generous: the limit's own time for every channel one after the other, twice,
    // plus ten minutes.
    let timeout = if limited {
        let calls = (plan.minimum * size.channels) as f64;
        Duration::from_secs(600) + 2 * Duration::from_secs_f64(calls / LEAK_PER_SEC)
    } else {
        Duration::from_secs(900)
    };
    let every = Duration::from_millis(if limited { 200 } else { 50 });
    let cpu0 = hub.cpu();
    let t0 = Instant::now();
    let mut requests = 0;
    for chunk in plan.rows.chunks(size.batch.max(1)) {
        let r = hub
            .post("/api/v1/stock/movements", &json!({ "movements": chunk }))
            .await?;
        if r["recorded"].as_u64() != Some(chunk.len() as u64) {
            anyhow::bail!("movements: {r}");
        }
        requests += 1;
    }
    let api = t0.elapsed();
    let mut failed = vec![0; channels.len()];
    'wait: loop {
        for (n, ch) in channels.iter().enumerate() {
            let s = hub.summary(ch).await?;
            failed[n] = s.failed;
            if s.pending > 0 {
                if t0.elapsed() > timeout {
                    anyhow::bail!(
                        "channel {ch}: {} values pending after {timeout:?}",
                        s.pending
                    );
                }
                tokio::time::sleep(every).await;
                continue 'wait;
            }
        }
        break;
    }
    let observed = t0.elapsed();
    let cpu = hub.cpu().since(&cpu0);
    let mut runs = Vec::with_capacity(shops.len());
    let mut last_any = None;
    for (shop, failed) in shops.iter().zip(failed) {
        let (pushes, other) = shop.pushes();
        let refused = pushes.iter().filter(|x| !ok(x.2)).count();
        let last = pushes
            .iter()
            .filter(|x| ok(x.2))
            .map(|x| x.1.saturating_duration_since(t0))
            .max();
        let first = pushes
            .iter()
            .map(|x| x.1.saturating_duration_since(t0))
            .min();
        last_any = last_any.max(last);
        let mismatched = items
            .iter()
            .zip(&plan.shown)
            .filter(|((p, v, _), want)| shop.sim.variant_stock(*p, *v) != Some(**want))
            .count();
        runs.push(ChannelRun {
            calls: pushes.len() - refused,
            refused,
            other,
            first,
            last,
            mismatched,
            failed,
        });
    }
    Ok((
        requests,
        api,
        last_any.unwrap_or(observed),
        observed,
        runs,
        cpu,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_shows_the_last_count_plus_later_adjustments() {
        let items: Vec<Item> = (0..4).map(|i| (i / 2, i, format!("S{i}"))).collect();
        let p = plan(&items, 400, 7);
        assert_eq!(p.rows.len(), 400);
        let mut physical = [0i64; 4];
        for (k, r) in p.rows.iter().enumerate() {
            let i = k % 4;
            assert_eq!(r["sku"], items[i].2);
            match r["set"].as_i64() {
                Some(n) => physical[i] = n,
                None => physical[i] += r["delta"].as_i64().unwrap_or_default(),
            }
        }
        let shown: Vec<i64> = physical.iter().map(|p| (*p).max(0)).collect();
        assert_eq!(p.shown, shown);
        assert!(p.minimum <= 2);
    }
}
