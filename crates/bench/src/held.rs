//! What ponte holds after a run, and how it differs from what it should hold.

use crate::server::TOKEN;
use anyhow::Context;
use std::collections::HashMap;

/// Every order of the ponte at `base`: (platform id, status).
pub async fn orders(http: &reqwest::Client, base: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = vec![];
    let mut cursor = String::new();
    loop {
        let page: serde_json::Value = http
            .get(format!("{base}/api/v1/orders?limit=500{cursor}"))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for o in page["items"].as_array().context("items")? {
            let ext = o["external_id"].as_str().context("external_id")?;
            let status = o["status"].as_str().context("status")?;
            out.push((ext.to_owned(), status.to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return Ok(out),
        }
    }
}

/// Duplicates, missing and stray orders, and orders in another status than `expected`
/// (platform id -> status), in words; empty when `held` is exactly right.
pub fn differences(expected: &HashMap<String, String>, held: &[(String, String)]) -> Vec<String> {
    let by_ext: HashMap<&str, &str> = held.iter().map(|(e, s)| (e.as_str(), s.as_str())).collect();
    let mut wrong = vec![];
    if by_ext.len() != held.len() {
        wrong.push(format!("{} duplicate orders", held.len() - by_ext.len()));
    }
    let missing = expected
        .keys()
        .filter(|e| !by_ext.contains_key(e.as_str()))
        .count();
    let stray = by_ext
        .keys()
        .filter(|e| !expected.contains_key(**e))
        .count();
    let status = expected
        .iter()
        .filter(|(e, s)| by_ext.get(e.as_str()).is_some_and(|m| m != s))
        .count();
    if missing + stray + status > 0 {
        wrong.push(format!(
            "ponte holds {} orders: {missing} importable missing, {stray} not importable, {status} with another status",
            by_ext.len()
        ));
    }
    wrong
}
