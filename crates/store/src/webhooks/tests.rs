//! [`plan_finish`]: what attempts do to their messages and endpoints.

use super::*;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn endpoint(t: TenantId) -> WebhookEndpoint {
    WebhookEndpoint {
        tenant_id: t,
        id: EndpointId::new(),
        url: "https://erp.example/hooks".into(),
        description: String::new(),
        event_types: None,
        channel_id: None,
        rate_limit_per_sec: None,
        secret: vec![1],
        old_secret: None,
        old_secret_until: None,
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn finish(ep: &WebhookEndpoint, seq: i64, outcome: DeliveryOutcome) -> DeliveryFinish {
    DeliveryFinish {
        tenant_id: ep.tenant_id,
        endpoint_id: ep.id,
        event_seq: seq,
        attempt: AttemptId::new(),
        owner: "w".into(),
        http_status: Some(500),
        response: None,
        duration_ms: 1,
        error: None,
        outcome,
    }
}

fn plan(ep: &WebhookEndpoint, batch: &[DeliveryFinish], now: i64) -> FinishPlan {
    let held = batch
        .iter()
        .map(|f| ((f.tenant_id, f.endpoint_id, f.event_seq), 2))
        .collect();
    let eps = HashMap::from([((ep.tenant_id, ep.id), ep.clone())]);
    plan_finish(batch, &held, eps, at(now))
}

#[test]
fn a_failure_marks_the_endpoint_failing_and_a_success_clears_it() {
    let ep = endpoint(TenantId::new());
    let p = plan(&ep, &[finish(&ep, 1, DeliveryOutcome::Retry(at(20)))], 10);
    assert_eq!(p.out, [true]);
    assert_eq!(p.attempts, [(0, "failed")]);
    assert_eq!(p.messages[0].state, "pending");
    assert_eq!(p.messages[0].attempts_used, 3);
    assert_eq!(p.messages[0].next_at, at(20));
    assert_eq!(p.endpoints[0].failing_since, Some(at(10)));
    let failing = p.endpoints[0].clone();
    let p = plan(
        &failing,
        &[finish(&failing, 1, DeliveryOutcome::Succeeded)],
        30,
    );
    assert_eq!(p.messages[0].state, "succeeded");
    assert_eq!(p.endpoints[0].failing_since, None);
    assert!(p.events.as_slice().is_empty());
}

#[test]
fn five_days_of_failures_or_a_410_disable_the_endpoint_with_an_event() {
    let mut ep = endpoint(TenantId::new());
    ep.failing_since = Some(at(0));
    let almost = DISABLE_AFTER.num_seconds() - 1;
    let p = plan(
        &ep,
        &[finish(&ep, 1, DeliveryOutcome::Retry(at(0)))],
        almost,
    );
    assert!(p.endpoints.is_empty(), "nothing changed yet");
    let p = plan(&ep, &[finish(&ep, 1, DeliveryOutcome::Failed)], almost + 1);
    assert_eq!(p.messages[0].state, "failed");
    assert!(!p.endpoints[0].enabled);
    assert_eq!(p.endpoints[0].disabled_reason.as_deref(), Some("failing"));
    let ev = p.events.as_slice();
    assert_eq!(ev[0].kind, EventType::EndpointDisabled);
    assert_eq!(ev[0].data["reason"], "failing");

    let ep = endpoint(TenantId::new());
    let p = plan(&ep, &[finish(&ep, 1, DeliveryOutcome::Gone)], 5);
    assert!(!p.endpoints[0].enabled);
    assert_eq!(p.endpoints[0].disabled_reason.as_deref(), Some("gone"));
    assert_eq!(p.events.as_slice().len(), 1);
}

#[test]
fn a_lost_lease_records_nothing_and_twins_count_once() {
    let ep = endpoint(TenantId::new());
    let f = finish(&ep, 1, DeliveryOutcome::Succeeded);
    let eps = HashMap::from([((ep.tenant_id, ep.id), ep.clone())]);
    let p = plan_finish(std::slice::from_ref(&f), &HeldMessages::new(), eps, at(1));
    assert_eq!(p.out, [false]);
    assert!(p.messages.is_empty() && p.attempts.is_empty());
    let p = plan(&ep, &[f.clone(), f], 1);
    assert_eq!(p.out, [true, false]);
}

#[test]
fn an_endpoint_wants_its_types_and_channel() {
    let t = TenantId::new();
    let mut ep = endpoint(t);
    let ch = ChannelId::new();
    let mut e = NewEvent {
        tenant_id: t,
        id: EventId::new(),
        kind: EventType::OrderCreated,
        at: at(0),
        channel_id: Some(ch),
        order_id: None,
        data: json!({}),
    };
    assert!(ep.wants(&e));
    ep.event_types = Some(vec![EventType::OrderCancelled]);
    assert!(!ep.wants(&e));
    e.kind = EventType::OrderCancelled;
    assert!(ep.wants(&e));
    ep.channel_id = Some(ChannelId::new());
    assert!(!ep.wants(&e));
    ep.channel_id = Some(ch);
    assert!(ep.wants(&e));
    e.tenant_id = TenantId::new();
    assert!(!ep.wants(&e));
    assert_eq!(order_key(&e), e.id.to_string());
}
