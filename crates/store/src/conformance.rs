//! The conformance suite: behaviour every backend must show. Backends call
//! [`run_all`] from a test with a factory that makes an empty, migrated store.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::*;
use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};
use ponte_core::import::ImportPolicy;
use ponte_core::order::*;
use ponte_core::{ChannelId, DeliveryId, OrderStatus, TenantId};
use std::time::Duration;

/// The first page of up to `limit` items.
pub(crate) fn page_of(limit: u32) -> PageRequest {
    PageRequest {
        cursor: None,
        limit,
    }
}

/// The suite's clock: every scenario's times are offsets of it.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

/// Expands to one `#[tokio::test]` per scenario of the suite, so that a failure names
/// its scenario and backend. `$fresh` is an async fn of the calling test crate that
/// returns `(guard, store)`: a fresh, migrated store and what must live as long as it
/// (a temporary directory, a scratch database).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:ident) => {
        $crate::conformance_scenarios!(
            $fresh,
            [],
            channels_round_trip,
            credentials_refusal_until_replaced,
            deliveries_coalesce_jobs,
            a_run_settles_the_deliveries_received_before_its_read,
            order_upsert_is_idempotent,
            stale_and_backward_snapshots,
            paid_only_skip_then_import,
            pagination,
            orders_are_found_by_search_and_period,
            rate_buckets
        );
        mod access {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [access],
                tenants_have_plans_and_states,
                a_disabled_tenants_tasks_wait,
                tokens_are_found_by_hash_and_revoked,
                a_bootstrap_token_replaces_the_previous_one,
                people_have_unique_emails,
                the_audit_trail_filters_and_pages
            );
        }
        mod jobs {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [jobs],
                claim_is_exclusive,
                lease_expiry_and_guarded_completion,
                heartbeat_keeps_only_its_owners_leases,
                running_twins_release_to_one,
                retries_and_releases_fold_into_a_pending_twin,
                retry_backoff_run_at
            );
        }
        mod tasks {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [tasks],
                tasks_are_created_once_and_edited,
                due_runs_fire_once_and_never_overlap,
                runs_finish_under_lease_and_move_the_cursor,
                polled_orders_import_without_jobs,
                sweeps_and_tenant_settings
            );
        }
        mod mappings {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [mappings],
                tables_are_kept_per_channel_and_kind,
                orders_group_by_platform_values
            );
        }
        mod stock {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [stock],
                catalogue,
                movements_targets_and_pushes
            );
        }
        mod prices {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [prices],
                bulk_writes_are_all_or_nothing_and_mark_targets,
                scheduled_prices_fire_once_and_cancel,
                pushes_claim_whole_products_and_settle_targets,
                window_edges_push_again_where_the_platform_keeps_none,
                resyncs_push_every_priced_listing_again,
                drift_is_noted_and_pushed_again_only_when_asked
            );
        }
        mod catalog {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [catalog],
                writes_are_all_or_nothing_and_mark_only_carrying_channels,
                pushes_claim_whole_products_and_settle_targets,
                a_call_never_recorded_makes_the_next_send_every_field
            );
        }
        mod order_stock {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [order_stock],
                orders_reserve_debit_and_release,
                order_stock_effects_follow_status,
                two_actions_on_one_order_in_one_batch_move_stock_once,
                a_product_created_while_its_orders_arrive_reserves_for_each
            );
        }
        mod sends {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [sends],
                actions_are_decided_and_recorded,
                sends_go_out_in_order_and_record_attempts,
                attempts_failures_block_and_resend,
                crashes_and_leases,
                listing_filters_and_pages,
                one_worker_per_order,
                actions_commit_in_batches
            );
        }
        mod send_jobs {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [send_jobs],
                an_action_writes_the_order_document_send_and_job,
                a_batch_mixes_outcomes_and_lost_leases,
                retries_count_and_waits_do_not,
                a_failure_blocks_the_order_until_resent,
                lost_leases_and_crashes,
                a_claim_budgets_and_begins,
                a_finish_charges_its_extra_calls,
                an_action_batch_starts_its_sends
            );
        }
        mod events {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [events],
                order_changes_write_events_in_order,
                status_sends_write_events_when_they_end,
                a_failed_subscription_is_an_event_once,
                erp_actions_write_the_order_as_the_api_shows_it
            );
        }
        mod webhooks {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [webhooks],
                endpoints_round_trip,
                deliveries_queue_claim_in_order_and_finish,
                a_round_finishes_queues_and_claims,
                a_busy_endpoint_claims_only_its_share,
                a_lost_lease_interrupts_and_a_410_disables,
                endpoint_deliveries_count_pending_and_last_attempts,
                old_messages_and_events_go_unless_still_needed
            );
        }
        mod carriers {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [carriers],
                carrier_accounts_round_trip,
                tracking_events_are_recorded_once
            );
        }
        mod tickets {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [tickets],
                tickets_converge_and_link_their_order,
                answers_are_sends_and_local_tickets_refuse_them
            );
        }
        mod retention {
            use super::*;
            $crate::conformance_scenarios!(
                $fresh,
                [retention],
                old_deliveries_go_in_batches_and_timelines_stay,
                only_old_succeeded_sends_lose_their_attempts,
                finished_runs_go_but_each_tasks_latest_and_gap_totals_stay,
                old_stock_pushes_go_with_their_skus,
                a_sweep_deletes_in_batches_and_can_stop
            );
        }
    };
}

/// One test per named scenario of `ponte_store::conformance[::$module]` (used by
/// [`conformance_tests!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! conformance_scenarios {
    ($fresh:ident, [], $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_guard, store) = $fresh().await;
                $crate::conformance::$name(&store).await;
            }
        )*
    };
    ($fresh:ident, [$module:ident], $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_guard, store) = $fresh().await;
                $crate::conformance::$module::$name(&store).await;
            }
        )*
    };
}

pub mod access;
pub mod carriers;
pub mod catalog;
pub mod events;
pub mod jobs;
pub mod mappings;
pub mod order_stock;
pub mod prices;
pub mod retention;
pub mod send_jobs;
pub mod sends;
pub mod stock;
pub mod tasks;
pub mod tickets;
pub mod webhooks;

/// The default tenant and a new enabled channel of it.
pub async fn setup(s: &impl Store) -> (TenantId, ChannelId) {
    let t = s.default_tenant(t0()).await.unwrap();
    let c = Channel {
        id: ChannelId::new(),
        tenant_id: t,
        platform: "nuvemshop".into(),
        name: "Loja".into(),
        settings: serde_json::json!({"store_id": "1"}),
        credentials: vec![1, 2, 3],
        enabled: true,
        created_at: t0(),
        updated_at: t0(),
    };
    s.insert_channel(&c).await.unwrap();
    (t, c.id)
}

/// A webhook delivery of order `ext` received at `at`, with its import job (keyed by
/// order, due at `at`).
pub fn delivery(t: TenantId, c: ChannelId, ext: &str, at: DateTime<Utc>) -> NewDelivery {
    NewDelivery {
        id: DeliveryId::new(),
        tenant_id: t,
        channel_id: c,
        received_at: at,
        event: "order/paid".into(),
        resource_id: Some(ext.into()),
        body: br#"{"id":1}"#.to_vec(),
        state: DeliveryState::Received,
        note: None,
        job: Some(NewJob {
            kind: "import_order".into(),
            payload: serde_json::json!({"channel_id": c, "external_id": ext}),
            unique_key: Some(import_job_key(c, ext)),
            run_at: at,
        }),
    }
}

/// Order `ext` as a platform reports it: one line (SKU-1, 2 units), updated at `updated`.
pub fn mapped(ext: &str, status: OrderStatus, updated: DateTime<Utc>) -> MappedOrder {
    MappedOrder {
        data: OrderData {
            external_id: ext.into(),
            number: Some(ext.into()),
            status,
            payment: Payment::default(),
            items: vec![OrderItem {
                sku: Some("SKU-1".into()),
                name: Some("Camiseta".into()),
                quantity: 2,
                unit_price_cents: Some(1990),
                product_id: Some("10".into()),
                variant_id: Some("11".into()),
                barcode: None,
            }],
            customer: Customer::default(),
            billing_address: None,
            shipping_address: None,
            shipping: Shipping::default(),
            totals: Totals {
                total_cents: Some(3980),
                ..Totals::default()
            },
            currency: Some("BRL".into()),
            placed_at: Some(updated),
            platform_updated_at: Some(updated),
            paid_at: None,
            cancelled_at: None,
            platform_status: PlatformStatus::default(),
            platform_flags: vec![],
        },
        closed_at_platform: false,
        raw: serde_json::json!({"id": ext}),
    }
}

pub(crate) async fn claim_one(s: &impl Store, owner: &str, now: DateTime<Utc>) -> Vec<Job> {
    s.claim_jobs(owner, &["import_order"], 100, now, Duration::from_secs(30))
        .await
        .unwrap()
}

/// An import result committed under `job`'s lease, its platform read begun at `read_at`.
pub fn commit(
    job: &Job,
    t: TenantId,
    c: ChannelId,
    ext: &str,
    read_at: DateTime<Utc>,
    result: ImportResult,
) -> ImportCommit {
    ImportCommit {
        lease: Some(JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        }),
        tenant_id: t,
        channel_id: c,
        external_id: ext.into(),
        call: CallRecord {
            request: "GET /orders/1".into(),
            status: Some(200),
            duration_ms: 1,
            error: None,
        },
        read_at,
        result,
    }
}

/// A fetched order, imported under `policy`.
pub fn fetched(o: MappedOrder, policy: ImportPolicy) -> ImportResult {
    ImportResult::Fetched {
        order: Box::new(o),
        policy,
    }
}

async fn import(
    s: &impl Store,
    t: TenantId,
    c: ChannelId,
    o: MappedOrder,
    at: DateTime<Utc>,
) -> ImportApplied {
    let ext = o.data.external_id.clone();
    s.accept_deliveries(&[delivery(t, c, &ext, at)])
        .await
        .unwrap();
    let jobs = claim_one(s, "w1", at).await;
    assert_eq!(jobs.len(), 1, "one job per order");
    let out = s
        .apply_imports(
            vec![commit(
                &jobs[0],
                t,
                c,
                &ext,
                at,
                fetched(o, ImportPolicy::All),
            )],
            at,
        )
        .await
        .unwrap();
    out[0].clone()
}

pub async fn channels_round_trip(s: &impl Store) {
    let (t, c) = setup(s).await;
    let mut ch = s.channel(c).await.unwrap().unwrap();
    assert_eq!(ch.credentials, vec![1, 2, 3]);
    ch.enabled = false;
    ch.name = "Outra".into();
    s.update_channel(&ch).await.unwrap();
    let list = s.channels(t).await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(!list[0].enabled);
    assert_eq!(list[0].name, "Outra");
    assert!(s.channel(ChannelId::new()).await.unwrap().is_none());
    // Credentials replaced by compare-and-set: the first swap wins, a stale one loses.
    let at = chrono::DateTime::from_timestamp(1_700_000_100, 0).unwrap();
    assert!(s
        .swap_channel_credentials(t, c, &[1, 2, 3], &[4, 5], at)
        .await
        .unwrap());
    assert!(!s
        .swap_channel_credentials(t, c, &[1, 2, 3], &[6], at)
        .await
        .unwrap());
    assert!(!s
        .swap_channel_credentials(TenantId::new(), c, &[4, 5], &[6], at)
        .await
        .unwrap());
    let ch = s.channel(c).await.unwrap().unwrap();
    assert_eq!(ch.credentials, vec![4, 5]);
    assert_eq!(ch.updated_at, at);
    // The push subscription, replaced as a whole.
    assert_eq!(s.subscription(c).await.unwrap(), None);
    let mut sub = Subscription {
        state: SubscriptionState::Active,
        url: Some("https://ponte.example/webhooks/x".into()),
        registered: vec!["order/paid".into()],
        changes: vec!["created order/paid".into()],
        reason: None,
        checked_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    };
    s.set_subscription(t, c, &sub).await.unwrap();
    assert_eq!(s.subscription(c).await.unwrap().as_ref(), Some(&sub));
    sub.state = SubscriptionState::Failed;
    sub.reason = Some("HTTP 401".into());
    s.set_subscription(t, c, &sub).await.unwrap();
    assert_eq!(s.subscription(c).await.unwrap(), Some(sub.clone()));
    assert!(matches!(
        s.set_subscription(TenantId::new(), c, &sub).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn credentials_refusal_until_replaced(s: &impl Store) {
    let (t, c) = setup(s).await;
    assert_eq!(s.credentials_problem(c).await.unwrap(), None);
    let first = CredentialsProblem {
        message: "platform_auth_failed: invalid_grant".into(),
        since: t0(),
    };
    s.hold_credentials(t, c, &first).await.unwrap();
    // A later refusal keeps the first one's time; another tenant's changes nothing.
    let later = CredentialsProblem {
        message: "again".into(),
        since: t0() + CDuration::seconds(60),
    };
    s.hold_credentials(t, c, &later).await.unwrap();
    s.hold_credentials(TenantId::new(), c, &later)
        .await
        .unwrap();
    assert_eq!(
        s.credentials_problem(c).await.unwrap().as_ref(),
        Some(&first)
    );
    // One event, for the first refusal.
    let held = || async {
        let q = EventQuery {
            after: 0,
            types: vec![ponte_core::event::EventType::ChannelCredentialsHeld],
            limit: 10,
        };
        s.events(t, &q).await.unwrap()
    };
    let ev = held().await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].event.channel_id, Some(c));
    assert_eq!(ev[0].event.data["action"], "reconnect");
    // Other changes keep it; other credentials clear it.
    let mut ch = s.channel(c).await.unwrap().unwrap();
    ch.name = "Renomeado".into();
    s.update_channel(&ch).await.unwrap();
    assert_eq!(
        s.credentials_problem(c).await.unwrap().as_ref(),
        Some(&first)
    );
    ch.credentials = vec![9, 9];
    s.update_channel(&ch).await.unwrap();
    assert_eq!(s.credentials_problem(c).await.unwrap(), None);
    // A renewed rotating token clears it too.
    s.hold_credentials(t, c, &later).await.unwrap();
    assert_eq!(
        s.credentials_problem(c).await.unwrap().as_ref(),
        Some(&later)
    );
    assert_eq!(held().await.len(), 2, "refused again after a change");
    assert!(s
        .swap_channel_credentials(t, c, &[9, 9], &[8], t0())
        .await
        .unwrap());
    assert_eq!(s.credentials_problem(c).await.unwrap(), None);
}

pub async fn deliveries_coalesce_jobs(s: &impl Store) {
    let (t, c) = setup(s).await;
    let batch: Vec<_> = (0..5)
        .map(|_| delivery(t, c, "42", t0()))
        .chain([delivery(t, c, "43", t0())])
        .collect();
    s.accept_deliveries(&batch).await.unwrap();
    s.accept_deliveries(&[delivery(t, c, "42", t0())])
        .await
        .unwrap();
    let page = s
        .deliveries(t, &DeliveryFilter::default(), &page_of(100))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 7, "every delivery is stored");
    assert_eq!(
        s.job_counts().await.unwrap().pending,
        2,
        "one pending job per order"
    );
    // Once claimed, a new delivery gets a new job (the order may have changed since the fetch).
    let jobs = claim_one(s, "w1", t0()).await;
    assert_eq!(jobs.len(), 2);
    s.accept_deliveries(&[delivery(t, c, "42", t0() + CDuration::seconds(1))])
        .await
        .unwrap();
    let counts = s.job_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 2));
}

/// A run settles the deliveries received before its platform read began, even one
/// received after the claim's clock reading (it merged into the job before the lease
/// was taken); one received after the read keeps its own job and stays `received`.
pub async fn a_run_settles_the_deliveries_received_before_its_read(s: &impl Store) {
    let (t, c) = setup(s).await;
    let sec = CDuration::seconds(1);
    s.accept_deliveries(&[delivery(t, c, "42", t0())])
        .await
        .unwrap();
    s.accept_deliveries(&[delivery(t, c, "42", t0() + sec * 5)])
        .await
        .unwrap();
    let jobs = claim_one(s, "w1", t0() + sec).await;
    assert_eq!(
        jobs.len(),
        1,
        "the second delivery merged into the first's job"
    );
    s.accept_deliveries(&[delivery(t, c, "42", t0() + sec * 10)])
        .await
        .unwrap();
    let o = mapped("42", OrderStatus::Approved, t0());
    let read = fetched(o, ImportPolicy::All);
    let batch = vec![commit(&jobs[0], t, c, "42", t0() + sec * 6, read)];
    s.apply_imports(batch, t0() + sec * 7).await.unwrap();
    let page = s
        .deliveries(t, &DeliveryFilter::default(), &page_of(10))
        .await
        .unwrap();
    let mut states: Vec<_> = page
        .items
        .iter()
        .map(|d| (d.received_at - t0(), d.state))
        .collect();
    states.sort_by_key(|(at, _)| *at);
    let (p, r) = (DeliveryState::Processed, DeliveryState::Received);
    assert_eq!(
        states,
        [(CDuration::zero(), p), (sec * 5, p), (sec * 10, r)]
    );
    let counts = s.job_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.running),
        (1, 0),
        "the late one's job waits"
    );
}

pub async fn order_upsert_is_idempotent(s: &impl Store) {
    let (t, c) = setup(s).await;
    let o = mapped("100", OrderStatus::Approved, t0());
    let first = import(s, t, c, o.clone(), t0()).await;
    let ImportApplied::Created(id) = first else {
        panic!("{first:?}")
    };
    assert_eq!(
        import(s, t, c, o.clone(), t0()).await,
        ImportApplied::Unchanged(id)
    );
    let newer = mapped("100", OrderStatus::Shipped, t0() + CDuration::minutes(1));
    assert_eq!(
        import(s, t, c, newer, t0()).await,
        ImportApplied::Updated(id)
    );
    let stored = s.order(t, id).await.unwrap().unwrap();
    assert_eq!(stored.data.status, OrderStatus::Shipped);
    assert_eq!(stored.data.items[0].unit_price_cents, Some(1990));
    let page = s
        .orders(
            t,
            &OrderFilter {
                external_id: Some("100".into()),
                ..Default::default()
            },
            &page_of(10),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let tl = s.timeline(t, c, "100").await.unwrap();
    let kinds: Vec<_> = tl.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "imported").count(), 1);
    assert!(kinds.contains(&"delivery_received"));
    assert!(kinds.contains(&"status_changed"));
    let all = s
        .deliveries(t, &DeliveryFilter::default(), &page_of(10))
        .await
        .unwrap();
    assert!(all
        .items
        .iter()
        .all(|d| d.state == DeliveryState::Processed));
}

pub async fn stale_and_backward_snapshots(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ImportApplied::Created(id) =
        import(s, t, c, mapped("5", OrderStatus::Shipped, t0()), t0()).await
    else {
        panic!()
    };
    assert_eq!(
        import(
            s,
            t,
            c,
            mapped("5", OrderStatus::Approved, t0() - CDuration::minutes(1)),
            t0()
        )
        .await,
        ImportApplied::Stale
    );
    // A newer snapshot that reports an earlier status keeps the furthest status.
    import(
        s,
        t,
        c,
        mapped("5", OrderStatus::Approved, t0() + CDuration::minutes(1)),
        t0(),
    )
    .await;
    assert_eq!(
        s.order(t, id).await.unwrap().unwrap().data.status,
        OrderStatus::Shipped
    );
    import(
        s,
        t,
        c,
        mapped("5", OrderStatus::Cancelled, t0() + CDuration::minutes(2)),
        t0(),
    )
    .await;
    import(
        s,
        t,
        c,
        mapped("5", OrderStatus::Delivered, t0() + CDuration::minutes(3)),
        t0(),
    )
    .await;
    assert_eq!(
        s.order(t, id).await.unwrap().unwrap().data.status,
        OrderStatus::Cancelled,
        "cancelled is final"
    );
}

pub async fn paid_only_skip_then_import(s: &impl Store) {
    let (t, c) = setup(s).await;
    s.accept_deliveries(&[delivery(t, c, "77", t0())])
        .await
        .unwrap();
    let jobs = claim_one(s, "w", t0()).await;
    let o = mapped("77", OrderStatus::AwaitingPayment, t0());
    let r = s
        .apply_imports(
            vec![commit(
                &jobs[0],
                t,
                c,
                "77",
                t0(),
                fetched(o, ImportPolicy::PaidOnly),
            )],
            t0(),
        )
        .await
        .unwrap();
    assert!(matches!(r[0], ImportApplied::Skipped(_)));
    let d = s
        .deliveries(t, &DeliveryFilter::default(), &page_of(10))
        .await
        .unwrap();
    assert_eq!(d.items[0].state, DeliveryState::Processed);
    assert!(d.items[0]
        .error
        .as_deref()
        .unwrap_or("")
        .contains("awaiting_payment_paid_only"));
    let paid = mapped("77", OrderStatus::Approved, t0() + CDuration::minutes(1));
    assert!(matches!(
        import(s, t, c, paid, t0()).await,
        ImportApplied::Created(_)
    ));
}

pub async fn pagination(s: &impl Store) {
    let (t, c) = setup(s).await;
    for i in 0..7 {
        import(
            s,
            t,
            c,
            mapped(&format!("p{i}"), OrderStatus::Approved, t0()),
            t0(),
        )
        .await;
    }
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let p = s
            .orders(
                t,
                &OrderFilter::default(),
                &PageRequest {
                    cursor: cursor.clone(),
                    limit: 3,
                },
            )
            .await
            .unwrap();
        seen.extend(p.items.iter().map(|o| o.data.external_id.clone()));
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
    let other = s
        .orders(TenantId::new(), &OrderFilter::default(), &page_of(10))
        .await
        .unwrap();
    assert!(other.items.is_empty(), "tenants are isolated");
}

/// The order list's search box and period: number, CPF/CNPJ, e-mail (any case), the
/// start of a customer's name (any case), and when the order was placed; within the
/// tenant only, and a later update keeps the placing date.
pub async fn orders_are_found_by_search_and_period(s: &impl Store) {
    let (t, c) = setup(s).await;
    let customers = [
        (
            "s1",
            "Maria da Silva",
            "maria@example.com",
            "529.982.247-25",
            1,
        ),
        (
            "s2",
            "Mário Souza",
            "MARIO@Example.com",
            "11.222.333/0001-81",
            2,
        ),
        ("s3", "João Pereira", "joao@example.com", "", 3),
    ];
    let mut ids = std::collections::HashMap::new();
    for (ext, name, email, doc, day) in customers {
        let placed = t0() + chrono::Duration::days(day);
        let mut m = mapped(ext, OrderStatus::Approved, placed);
        m.data.number = Some(format!("#{ext}"));
        m.data.customer = Customer {
            name: Some(name.into()),
            email: Some(email.into()),
            phone: None,
            document: (!doc.is_empty()).then(|| ponte_core::document::TaxDocument::parse(doc)),
            ..Customer::default()
        };
        let id = match import(s, t, c, m, placed).await {
            ImportApplied::Created(id) => id,
            other => panic!("{other:?}"),
        };
        ids.insert(ext, id);
    }
    let find = |q: &str| OrderFilter {
        search: OrderSearch::parse(q),
        ..OrderFilter::default()
    };
    let found = |f: OrderFilter| async move {
        let mut v: Vec<String> = s
            .orders(t, &f, &page_of(10))
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|o| o.data.external_id)
            .collect();
        v.sort();
        v
    };
    assert_eq!(found(find("52998224725")).await, ["s1"]);
    assert_eq!(found(find("529.982.247-25")).await, ["s1"]);
    assert_eq!(found(find("11222333000181")).await, ["s2"]);
    assert_eq!(found(find("mario@example.COM")).await, ["s2"]);
    assert_eq!(found(find("#s3")).await, ["s3"]);
    assert_eq!(found(find("MARIA")).await, ["s1"]);
    assert_eq!(found(find("maria da s")).await, ["s1"]);
    assert_eq!(found(find("M")).await, ["s1", "s2"]);
    assert!(
        found(find("Silva")).await.is_empty(),
        "names match from the start"
    );
    assert!(found(find("nobody@example.com")).await.is_empty());
    let period = OrderFilter {
        placed_from: Some(t0() + chrono::Duration::days(2)),
        placed_to: Some(t0() + chrono::Duration::days(3)),
        ..OrderFilter::default()
    };
    assert_eq!(found(period.clone()).await, ["s2"]);
    // A later snapshot keeps the order where it was placed.
    let later = t0() + chrono::Duration::days(30);
    let mut m = mapped("s2", OrderStatus::Shipped, later);
    m.data.placed_at = None;
    m.data.customer.name = Some("Mário Souza".into());
    assert_eq!(
        import(s, t, c, m, later).await,
        ImportApplied::Updated(ids["s2"])
    );
    assert_eq!(found(period).await, ["s2"]);
    let other = s
        .orders(TenantId::new(), &find("maria"), &page_of(10))
        .await
        .unwrap();
    assert!(other.items.is_empty(), "tenants are isolated");
}

pub async fn rate_buckets(s: &impl Store) {
    let t = s.default_tenant(t0()).await.unwrap();
    let g = s.take_tokens(t, "ch", 50, 40.0, 2.0, t0()).await.unwrap();
    assert_eq!(g.granted, 40, "a new bucket starts full");
    let g = s.take_tokens(t, "ch", 5, 40.0, 2.0, t0()).await.unwrap();
    assert_eq!(g.granted, 0);
    assert!(g.retry_after > Duration::ZERO && g.retry_after <= Duration::from_millis(500));
    let g = s
        .take_tokens(t, "ch", 5, 40.0, 2.0, t0() + CDuration::seconds(2))
        .await
        .unwrap();
    assert_eq!(g.granted, 4, "refilled at 2 per second");
    let g = s.take_tokens(t, "other", 1, 40.0, 2.0, t0()).await.unwrap();
    assert_eq!(g.granted, 1, "buckets are independent");
    // Calls already made are charged even into debt; takers wait it out.
    let at = t0() + CDuration::seconds(2);
    s.spend_tokens(t, "other", 45, 40.0, 2.0, at).await.unwrap();
    let g = s.take_tokens(t, "other", 1, 40.0, 2.0, at).await.unwrap();
    assert_eq!(
        g.granted, 0,
        "in debt after spending more than the bucket held"
    );
    assert!(
        g.retry_after >= Duration::from_secs(2) && g.retry_after <= Duration::from_millis(3001)
    );
    let g = s
        .take_tokens(t, "other", 1, 40.0, 2.0, at + CDuration::seconds(3))
        .await
        .unwrap();
    assert_eq!(g.granted, 1, "the debt refills");
}
