//! `prices`: how fast price changes reach the platform, how late scheduled prices take
//! effect, and what a bulk of changes costs in calls. Three phases, each on a fresh
//! ponte and fresh simulated Nuvemshop stores (no rate limit):
//!
//! 1. **idle**: one channel, single price changes one at a time on an idle queue;
//!    latency from before the change's POST to the store receiving the push
//!    (`PATCH /products/{id}/variants`, the request log's arrival time).
//! 2. **scheduled**: prices scheduled a few seconds ahead, one per product, spread
//!    over a few seconds; lateness from each one's `effective_at` to the store
//!    receiving its push (the timer firing, the push job and the call).
//! 3. **window opens**: the same with promotional windows opening then (written with
//!    their price, pushed at once without the promotion): lateness from each
//!    `promotional_from` to the store receiving the push with the promotion.
//! 4. **bulk**: several channels listing the same catalogue, then many price changes
//!    in one request; time until every store got its last push, and calls per channel
//!    next to the coalesced minimum (one call per product).
//! 5. **limited**: the bulk again over a smaller catalogue, the stores keeping
//!    Nuvemshop's documented leaky bucket (40, 2/s) and the channels its budget: the
//!    time next to what the limit allows at best (`max(0, minimum - 40) / 2` s).
//!
//! Every store must show, for every variant, the last price written.

use crate::load::histogram;
use crate::report::{emit, Row};
use crate::scenarios::Target;
use crate::stock::hub::{limit_floor, prepare, Hub, Item, Shop};
use anyhow::{bail, Context};
use chrono::{SecondsFormat, Utc};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Change to push p99 at idle and scheduled lateness p99, µs.
const P99_US: u64 = 1_000_000;
/// Calls per coalesced minimum.
const CALLS_RATIO: f64 = 1.05;
/// Time per what the platform's limit allows.
const FLOOR_RATIO: f64 = 1.10;
/// Variants per product of the idle and scheduled phases.
const VARIANTS: usize = 3;
/// How long one change may take to reach the simulator.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Options of `prices`.
#[derive(Debug, clap::Args)]
pub struct PricesArgs {
    #[command(flatten)]
    pub target: Target,
    /// Idle phase: single changes, one at a time.
    #[arg(long, default_value_t = 200)]
    pub idle_samples: usize,
    /// Idle and scheduled phases: products listed (3 variants each).
    #[arg(long, default_value_t = 100)]
    pub idle_products: usize,
    /// Scheduled and window phases: prices scheduled, windows opening (one per
    /// product, at most `idle_products`).
    #[arg(long, default_value_t = 100)]
    pub scheduled: usize,
    /// Bulk phase: products in each store's catalogue.
    #[arg(long, default_value_t = 400)]
    pub products: usize,
    /// Bulk phase: variants (SKUs) per product.
    #[arg(long, default_value_t = 5)]
    pub variants: usize,
    /// Bulk phase: price rows in the one request (at most 100,000), spread over the SKUs.
    #[arg(long, default_value_t = 100_000)]
    pub changes: usize,
    /// Bulk phase: channels, one simulated store each.
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// Limited phase: products in each store's catalogue (the bulk again, with
    /// Nuvemshop's documented limit); 0 skips it.
    #[arg(long, default_value_t = 200)]
    pub limited_products: usize,
}

impl PricesArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        let mut a = Self {
            target,
            idle_samples: 200,
            idle_products: 100,
            scheduled: 100,
            products: 400,
            variants: 5,
            changes: 100_000,
            channels: 3,
            limited_products: 200,
        };
        if quick {
            a.idle_samples = 30;
            a.idle_products = 30;
            a.scheduled = 30;
            a.products = 50;
            a.changes = 5_000;
            a.limited_products = 0;
        }
        a
    }
}

/// `cents` as the simulator shows it (`"19.90"`).
fn decimal(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The variant's price as the simulator shows it.
fn shown(shop: &Shop, p: u64, v: u64) -> Option<String> {
    let v = shop.sim.variant(p, v)?;
    v["price"].as_str().map(str::to_owned)
}

/// Turns prices on for a channel (no markup).
async fn send_prices(hub: &Hub, channel: &str) -> anyhow::Result<()> {
    hub.patch(
        &format!("/api/v1/channels/{channel}"),
        &json!({"settings": {"send_prices": true}}),
    )
    .await?;
    Ok(())
}

/// Waits until none of the channels' prices is pending; fails if one failed.
async fn settled(hub: &Hub, channels: &[String], timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    for ch in channels {
        loop {
            let s = hub.get(&format!("/api/v1/channels/{ch}/prices")).await?;
            if s["failed"].as_u64() != Some(0) {
                bail!("channel {ch}: prices failed: {s}");
            }
            if s["pending"].as_u64() == Some(0) {
                break;
            }
            if start.elapsed() > timeout {
                bail!("channel {ch}: prices pending after {timeout:?}: {s}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    hub.jobs_idle(timeout.saturating_sub(start.elapsed())).await
}

/// The first 2xx push of `product` in `[from, until)`.
fn push_of(
    pushes: &[(u64, Instant, u16)],
    product: u64,
    from: Instant,
    until: Option<Instant>,
) -> Option<Instant> {
    pushes
        .iter()
        .filter(|(q, at, st)| {
            *q == product && (200..300).contains(st) && *at >= from && until.is_none_or(|u| *at < u)
        })
        .map(|(_, at, _)| *at)
        .min()
}

/// One store with `products` x [`VARIANTS`], every SKU priced and pushed.
async fn one_channel(target: &Target, products: usize) -> anyhow::Result<(Hub, Shop, Vec<Item>)> {
    let shop = Shop::start(0, false).await?;
    let items = shop.catalogue(products, VARIANTS);
    let (hub, channels) = prepare(target, std::slice::from_ref(&shop), None, &items).await?;
    let ready = async {
        let ch = channels.first().context("no channel")?;
        send_prices(&hub, ch).await?;
        let rows: Vec<Value> = items
            .iter()
            .map(|(_, _, sku)| json!({"sku": sku, "price_cents": 100}))
            .collect();
        hub.post("/api/v1/prices", &json!({ "prices": rows }))
            .await?;
        settled(&hub, &channels, Duration::from_secs(300)).await?;
        shop.sim.clear_requests();
        anyhow::Ok(())
    };
    match ready.await {
        Ok(()) => Ok((hub, shop, items)),
        Err(e) => {
            hub.finish().await;
            Err(e)
        }
    }
}

/// What the idle phase measured: change -> push, µs, and what is wrong.
async fn idle(a: &PricesArgs) -> anyhow::Result<(Histogram<u64>, Vec<String>)> {
    let (hub, shop, items) = one_channel(&a.target, a.idle_products).await?;
    let out = idle_run(&hub, &shop, &items, a.idle_samples).await;
    hub.finish().await;
    out
}

async fn idle_run(
    hub: &Hub,
    shop: &Shop,
    items: &[Item],
    samples: usize,
) -> anyhow::Result<(Histogram<u64>, Vec<String>)> {
    let mut h = histogram()?;
    let mut wrong = vec![];
    let mut started = Vec::with_capacity(samples);
    for k in 0..samples {
        // Consecutive changes hit different products.
        let i = (k * VARIANTS + k / (items.len() / VARIANTS).max(1)) % items.len();
        let (p, v, sku) = &items[i];
        let cents = 200 + k as i64;
        let t0 = Instant::now();
        hub.post("/api/v1/prices", &json!({"sku": sku, "price_cents": cents}))
            .await?;
        started.push((*p, t0));
        while shown(shop, *p, *v) != Some(decimal(cents)) {
            if t0.elapsed() > TIMEOUT {
                wrong.push(format!("change {k} not shown within {TIMEOUT:?}"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        hub.jobs_idle(Duration::from_secs(30)).await?;
    }
    let (pushes, other) = shop.pushes();
    for (j, (p, t0)) in started.iter().enumerate() {
        let next = started.get(j + 1).map(|(_, t)| *t);
        match push_of(&pushes, *p, *t0, next) {
            Some(at) => h.record((at.saturating_duration_since(*t0).as_micros() as u64).max(1))?,
            None => wrong.push(format!("change {j} without a push of its product")),
        }
    }
    if pushes.len() != samples || other > 0 {
        wrong.push(format!(
            "{} push calls for {samples} changes ({other} other requests)",
            pushes.len()
        ));
    }
    eprintln!(
        "prices idle: {samples} changes, change -> push p99 {:.1} ms",
        h.value_at_quantile(0.99) as f64 / 1000.0
    );
    Ok((h, wrong))
}

/// What a timer phase waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// A scheduled price taking effect (`effective_at`).
    Scheduled,
    /// A promotional window opening (`promotional_from`), written with the price.
    WindowOpens,
}

impl Timer {
    fn name(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::WindowOpens => "window",
        }
    }

    /// The row of `sku` due at `at`.
    fn row(self, sku: &str, at: &str) -> Value {
        match self {
            Self::Scheduled => json!({"sku": sku, "price_cents": 5000, "effective_at": at}),
            Self::WindowOpens => json!({"sku": sku, "price_cents": 5000,
                "promotional_price_cents": 4000, "promotional_from": at}),
        }
    }

    /// The variant shows the change (price, or promotional price).
    fn shown(self, shop: &Shop, p: u64, v: u64) -> bool {
        let Some(v) = shop.sim.variant(p, v) else {
            return false;
        };
        match self {
            Self::Scheduled => v["price"] == decimal(5000),
            Self::WindowOpens => v["promotional_price"] == decimal(4000),
        }
    }
}

/// What a timer phase measured: due time -> push, µs, and what is wrong.
async fn timers(a: &PricesArgs, timer: Timer) -> anyhow::Result<(Histogram<u64>, Vec<String>)> {
    let (hub, shop, items) = one_channel(&a.target, a.idle_products).await?;
    let out = timers_run(&hub, &shop, &items, a.scheduled, timer).await;
    hub.finish().await;
    out
}

/// `n` changes, one SKU per product, due 3 s from now and then every 30 ms; each one's
/// lateness is from its due time to the first push of its product at or after it.
async fn timers_run(
    hub: &Hub,
    shop: &Shop,
    items: &[Item],
    n: usize,
    timer: Timer,
) -> anyhow::Result<(Histogram<u64>, Vec<String>)> {
    let firsts: Vec<&Item> = items.iter().step_by(VARIANTS).take(n).collect();
    let (now, wall) = (Instant::now(), Utc::now());
    let due: Vec<(Instant, chrono::DateTime<Utc>)> = (0..firsts.len())
        .map(|k| {
            let after = Duration::from_secs(3) + Duration::from_millis(30 * k as u64);
            let at = wall + chrono::Duration::from_std(after).unwrap_or_default();
            // The store's clock is this process's: the instant `at` falls on.
            (now + after, at)
        })
        .collect();
    let rows: Vec<Value> = firsts
        .iter()
        .zip(&due)
        .map(|((_, _, sku), (_, at))| {
            timer.row(sku, &at.to_rfc3339_opts(SecondsFormat::Micros, true))
        })
        .collect();
    hub.post("/api/v1/prices", &json!({ "prices": rows }))
        .await?;
    let last = due.last().map(|d| d.0).unwrap_or(now);
    let mut wrong = vec![];
    while firsts.iter().any(|(p, v, _)| !timer.shown(shop, *p, *v)) {
        if Instant::now() > last + TIMEOUT {
            wrong.push(format!("{} changes not all shown", timer.name()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (pushes, _) = shop.pushes();
    let mut h = histogram()?;
    for ((p, _, _), (at, _)) in firsts.iter().zip(&due) {
        // A scheduled price is pushed once, at its time; a window's price at once
        // (no promotion yet), then again when the window opens.
        let from = match timer {
            Timer::Scheduled => now,
            Timer::WindowOpens => *at,
        };
        match push_of(&pushes, *p, from, None) {
            Some(first) if first < *at => {
                wrong.push(format!("product {p} pushed before its time"));
            }
            Some(first) => {
                h.record((first.saturating_duration_since(*at).as_micros() as u64).max(1))?;
            }
            None => wrong.push(format!("product {p}: no push")),
        }
    }
    eprintln!(
        "prices {}: {} changes, lateness p99 {:.1} ms",
        timer.name(),
        firsts.len(),
        h.value_at_quantile(0.99) as f64 / 1000.0
    );
    Ok((h, wrong))
}

/// What the bulk phase measured.
struct Bulk {
    /// Rows posted.
    changes: usize,
    /// SKUs per channel.
    skus: usize,
    /// The POST.
    api: Duration,
    /// From the POST to the last push any store received.
    wall: Duration,
    /// Fewest calls per channel (products with a written price).
    minimum: usize,
    /// Calls per channel.
    calls: Vec<usize>,
    wrong: Vec<String>,
}

/// A bulk of `a.changes` rows over `products` x `a.variants` SKUs on `a.channels`
/// stores; `limited`: the stores keep Nuvemshop's documented limit and the channels
/// its budget (set up on unlimited twins first, as `stock`'s limited phase).
async fn bulk(a: &PricesArgs, products: usize, limited: bool) -> anyhow::Result<Bulk> {
    let stores = |limited: bool| async move {
        let mut shops = Vec::with_capacity(a.channels);
        for n in 0..a.channels {
            shops.push(Shop::start(n, limited).await?);
        }
        anyhow::Ok(shops)
    };
    let shops = stores(limited).await?;
    let twins = if limited {
        Some(stores(false).await?)
    } else {
        None
    };
    let items = shops
        .first()
        .context("no channel")?
        .catalogue(products, a.variants);
    for shop in shops[1..].iter().chain(twins.iter().flatten()) {
        if shop.catalogue(products, a.variants) != items {
            bail!("the simulated stores gave their catalogues different ids");
        }
    }
    let (hub, channels) = prepare(&a.target, &shops, twins.as_deref(), &items).await?;
    let out = bulk_run(&hub, &shops, &channels, &items, a.changes, limited).await;
    hub.finish().await;
    out
}

async fn bulk_run(
    hub: &Hub,
    shops: &[Shop],
    channels: &[String],
    items: &[Item],
    changes: usize,
    limited: bool,
) -> anyhow::Result<Bulk> {
    for ch in channels {
        send_prices(hub, ch).await?;
    }
    // Round robin over the SKUs: the last row of each SKU wins.
    let mut last: BTreeMap<usize, i64> = BTreeMap::new();
    let rows: Vec<Value> = (0..changes)
        .map(|k| {
            let i = k % items.len();
            let cents = 1000 + k as i64;
            last.insert(i, cents);
            json!({"sku": items[i].2, "price_cents": cents})
        })
        .collect();
    let minimum = last
        .keys()
        .map(|i| items[*i].0)
        .collect::<BTreeSet<_>>()
        .len();
    // Generous: ten minutes beyond what the limit needs for every channel in turn.
    let timeout = Duration::from_secs(900)
        + if limited {
            limit_floor(minimum) * channels.len() as u32
        } else {
            Duration::ZERO
        };
    let t0 = Instant::now();
    hub.post("/api/v1/prices", &json!({ "prices": rows }))
        .await?;
    let api = t0.elapsed();
    settled(hub, channels, timeout).await?;
    let mut wrong = vec![];
    let mut calls = vec![];
    let mut end = t0;
    for (n, shop) in shops.iter().enumerate() {
        let (pushes, other) = shop.pushes();
        calls.push(pushes.len());
        end = pushes.iter().map(|x| x.1).fold(end, Instant::max);
        let mismatched = last
            .iter()
            .filter(|(i, c)| {
                let (p, v, _) = &items[**i];
                shown(shop, *p, *v) != Some(decimal(**c))
            })
            .count();
        if mismatched > 0 || other > 0 {
            wrong.push(format!(
                "channel {n}: {mismatched} variants show another price, {other} other requests"
            ));
        }
    }
    let wall = end.saturating_duration_since(t0);
    eprintln!(
        "prices bulk{}: {changes} changes over {} SKUs x {} channels in {:.1} s, calls/minimum {:.3}",
        if limited { " (limited)" } else { "" },
        items.len(),
        channels.len(),
        wall.as_secs_f64(),
        calls.iter().copied().max().unwrap_or(0) as f64 / minimum.max(1) as f64
    );
    Ok(Bulk {
        changes,
        skus: items.len(),
        api,
        wall,
        minimum,
        calls,
        wrong,
    })
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// Runs the scenario: prints the table, writes `bench-results/prices-<backend>.json`.
pub async fn prices(a: PricesArgs) -> anyhow::Result<Value> {
    if a.target.instances > 1 {
        bail!("prices measures one instance; drop --instances");
    }
    if a.changes == 0 || a.changes > 100_000 || a.channels == 0 {
        bail!("--changes must be 1 to 100,000 and --channels above 0");
    }
    if a.idle_products == 0 || a.products * a.variants == 0 || a.scheduled > a.idle_products {
        bail!("catalogues need products and variants; --scheduled at most --idle-products");
    }
    let (idle_h, mut wrong) = idle(&a).await?;
    let (late_h, w) = timers(&a, Timer::Scheduled).await?;
    wrong.extend(w);
    let (edge_h, w) = timers(&a, Timer::WindowOpens).await?;
    wrong.extend(w);
    let b = bulk(&a, a.products, false).await?;
    wrong.extend(b.wrong.iter().cloned());
    let limited = if a.limited_products > 0 {
        let l = bulk(&a, a.limited_products, true).await?;
        wrong.extend(l.wrong.iter().cloned());
        Some(l)
    } else {
        None
    };
    let worst = b.calls.iter().copied().max().unwrap_or(0);
    let ratio = worst as f64 / b.minimum.max(1) as f64;
    let (idle99, late99, edge99) = (
        idle_h.value_at_quantile(0.99),
        late_h.value_at_quantile(0.99),
        edge_h.value_at_quantile(0.99),
    );
    let mut rows = vec![
        Row {
            name: "idle: change -> push p50",
            value: ms(idle_h.value_at_quantile(0.5)),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "idle: change -> push p99",
            value: ms(idle99),
            target: ms(P99_US),
            ok: Some(idle99 <= P99_US),
        },
        Row {
            name: "scheduled: lateness p50",
            value: ms(late_h.value_at_quantile(0.5)),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "scheduled: lateness p99",
            value: ms(late99),
            target: ms(P99_US),
            ok: Some(late99 <= P99_US),
        },
        Row {
            name: "window opens: lateness p50",
            value: ms(edge_h.value_at_quantile(0.5)),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "window opens: lateness p99",
            value: ms(edge99),
            target: ms(P99_US),
            ok: Some(edge99 <= P99_US),
        },
        Row {
            name: "bulk: calls per channel / minimum",
            value: format!("{worst} / {} = {ratio:.3}", b.minimum),
            target: format!("<= {CALLS_RATIO}"),
            ok: Some(ratio <= CALLS_RATIO),
        },
        Row {
            name: "bulk: POST, then last push",
            value: format!(
                "{:.2} s, {:.2} s",
                b.api.as_secs_f64(),
                b.wall.as_secs_f64()
            ),
            target: String::new(),
            ok: None,
        },
    ];
    let limited = limited.map(|l| {
        let floor = limit_floor(l.minimum).as_secs_f64();
        let ratio = l.wall.as_secs_f64() / floor.max(1e-9);
        rows.push(Row {
            name: "limited: time / what the limit allows",
            value: format!("{:.1} s / {floor:.0} s = {ratio:.3}", l.wall.as_secs_f64()),
            target: format!("<= {FLOOR_RATIO:.2}"),
            ok: Some(ratio <= FLOOR_RATIO),
        });
        json!({"changes": l.changes, "skus": l.skus, "minimum_calls": l.minimum,
               "calls": l.calls, "wall_s": l.wall.as_secs_f64(), "floor_s": floor,
               "time_per_floor": ratio})
    });
    for w in &wrong {
        eprintln!("prices: {w}");
    }
    let figures = json!({
        "idle": {"samples": a.idle_samples, "skus": a.idle_products * VARIANTS,
                 "p50_ms": idle_h.value_at_quantile(0.5) as f64 / 1000.0,
                 "p99_ms": idle99 as f64 / 1000.0},
        "scheduled": {"prices": a.scheduled,
                      "p50_ms": late_h.value_at_quantile(0.5) as f64 / 1000.0,
                      "p99_ms": late99 as f64 / 1000.0},
        "window_opens": {"prices": a.scheduled,
                         "p50_ms": edge_h.value_at_quantile(0.5) as f64 / 1000.0,
                         "p99_ms": edge99 as f64 / 1000.0},
        "bulk": {"changes": b.changes, "skus": b.skus, "channels": b.calls.len(),
                 "minimum_calls": b.minimum, "calls": b.calls, "calls_ratio": ratio,
                 "api_s": b.api.as_secs_f64(), "wall_s": b.wall.as_secs_f64()},
        "limited": limited,
    });
    emit(
        "prices",
        &a.target.label(),
        &rows,
        figures.clone(),
        wrong.is_empty(),
    )?;
    Ok(figures)
}
