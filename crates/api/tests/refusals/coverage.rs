//! The tests above cover exactly the client errors (4xx) the OpenAPI document says each
//! operation can answer (its `x-error-codes`, from `route_codes.rs`): a code added to a
//! route without a test fails here, and so does a test of a code the route does not
//! declare. Server errors are not covered: `storage_error` (the database failed) and,
//! on `/api` routes, `shutting_down` (only when the action committer is gone) need an
//! internal failure; `shutting_down` on the webhook route is covered anyway.

use crate::harness::{operations, Covered};
use ponte_core::ErrorCode;
use std::collections::BTreeSet;

/// Every refusal some test asserts.
fn covered() -> BTreeSet<(String, String, String)> {
    let all: Vec<Covered> = [
        crate::access::covers(),
        crate::actions::covers(),
        crate::admin::covers(),
        crate::auth::covers(),
        crate::bodies::covers(),
        crate::carriers::covers(),
        crate::channels::covers(),
        crate::events::covers(),
        crate::invoices::covers(),
        crate::lists::covers(),
        crate::mappings::covers(),
        crate::missing::covers(),
        crate::people::covers(),
        crate::prices::covers(),
        crate::product_data::covers(),
        crate::stock::covers(),
        crate::tasks::covers(),
        crate::tickets::covers(),
        crate::webhooks::covers(),
    ]
    .concat();
    all.into_iter()
        .map(|(m, p, c)| (m, p, c.as_str().to_owned()))
        .collect()
}

fn is_client_error(code: &str) -> bool {
    let c = ErrorCode::ALL
        .iter()
        .find(|c| c.as_str() == code)
        .unwrap_or_else(|| panic!("{code} is not in the code table"));
    c.http_status().is_some_and(|s| (400..500).contains(&s))
}

#[test]
fn every_declared_client_error_has_a_test_and_every_test_is_declared() {
    let covered = covered();
    let mut declared = BTreeSet::new();
    for (m, p, codes) in operations() {
        for c in codes.into_iter().filter(|c| is_client_error(c)) {
            declared.insert((m.clone(), p.clone(), c));
        }
    }
    let untested: Vec<_> = declared.difference(&covered).collect();
    let undeclared: Vec<_> = covered
        .iter()
        .filter(|(m, p, _)| !p.ends_with("openapi.json") || m != "get")
        .filter(|t| !declared.contains(*t))
        .collect();
    assert!(
        untested.is_empty(),
        "declared in route_codes.rs without a test: {untested:#?}"
    );
    assert!(
        undeclared.is_empty(),
        "answered (a test asserts it) but not declared in route_codes.rs: {undeclared:#?}"
    );
}
