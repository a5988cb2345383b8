//! Metafield, product/variant and webhook handlers.
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::catalogue::{self, Product, Variant, VariantPatch};
use super::fmt::ts;
use super::http::{error, json_pair, json_value, parse_body};
use super::resources::{self, field_errors, Metafield, NewMetafield, Webhook};
use super::routes::{ok_json, pair, product_not_found, AppState, Pairs};

pub(super) async fn post_metafield(State(st): State<AppState>, body: Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let m = match NewMetafield::parse(&b) {
        Ok(m) => m,
        Err(e) => return json_pair((422, e)),
    };
    let mut store = st.sim.write();
    let owner_exists = match m.owner_resource.as_str() {
        "Order" => store.orders.contains_key(&m.owner_id),
        "Product" => store.products.contains_key(&m.owner_id),
        "Product_Variant" => store.variant(m.owner_id).is_some(),
        _ => true,
    };
    if !owner_exists {
        return json_pair((422, field_errors(&[("owner_id", "is invalid")])));
    }
    // Assumption: one value per (owner, namespace, key); a second POST is 422
    // (update with PUT /metafields/{id}).
    let taken = store.metafields.values().any(|x| {
        x.owner_resource == m.owner_resource
            && x.owner_id == m.owner_id
            && x.namespace == m.namespace
            && x.key == m.key
    });
    if taken {
        return json_pair((422, field_errors(&[("key", "has already been taken")])));
    }
    let now = store.clock.tick();
    let id = store.next_metafield_id;
    store.next_metafield_id += 1;
    let mf = Metafield {
        id,
        namespace: m.namespace,
        key: m.key,
        value: m.value,
        description: m.description,
        owner_resource: m.owner_resource,
        owner_id: m.owner_id,
        created_at: now,
        updated_at: now,
    };
    let v = mf.render();
    store.metafields.insert(id, mf);
    json_value(StatusCode::CREATED, &v)
}

pub(super) async fn get_metafields(
    State(st): State<AppState>,
    Path((_, x)): Path<(String, String)>,
    Query(pairs): Pairs,
) -> Response {
    let store = st.sim.read();
    if let Ok(id) = x.parse::<u64>() {
        return match store.metafields.get(&id) {
            Some(m) => ok_json(&m.render()),
            None => error(404, "Metafield not found"),
        };
    }
    let Some((_, resource)) = resources::OWNER_RESOURCES
        .iter()
        .find(|(path, _)| *path == x)
    else {
        return error(404, "Resource not found");
    };
    let owner_id = pair(&pairs, "owner_id").and_then(|v| v.parse::<u64>().ok());
    let namespace = pair(&pairs, "namespace");
    let key = pair(&pairs, "key");
    let list: Vec<Value> = store
        .metafields
        .values()
        .filter(|m| {
            m.owner_resource == *resource
                && owner_id.is_none_or(|o| m.owner_id == o)
                && namespace.is_none_or(|n| m.namespace == n)
                && key.is_none_or(|k| m.key == k)
        })
        .map(Metafield::render)
        .collect();
    ok_json(&Value::Array(list))
}

pub(super) async fn put_metafield(
    State(st): State<AppState>,
    Path((_, x)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut store = st.sim.write();
    let now = store.clock.tick();
    let Some(m) = x
        .parse::<u64>()
        .ok()
        .and_then(|id| store.metafields.get_mut(&id))
    else {
        return error(404, "Metafield not found");
    };
    match b.get("value") {
        Some(Value::String(v)) if !v.is_empty() => m.value.clone_from(v),
        Some(Value::Number(n)) => m.value = n.to_string(),
        None => {}
        Some(_) => return json_pair((422, field_errors(&[("value", "can't be blank")]))),
    }
    if let Some(d) = b.get("description") {
        m.description = d.as_str().map(str::to_owned);
    }
    m.updated_at = now;
    ok_json(&m.render())
}

pub(super) async fn delete_metafield(
    State(st): State<AppState>,
    Path((_, x)): Path<(String, String)>,
) -> Response {
    let mut store = st.sim.write();
    match x
        .parse::<u64>()
        .ok()
        .and_then(|id| store.metafields.remove(&id))
    {
        Some(_) => ok_json(&json!({})),
        None => error(404, "Metafield not found"),
    }
}

// ---- products and variants --------------------------------------------------------

fn slug(s: &str) -> String {
    super::brdata::email_local(s).replace('.', "-")
}

fn render_product(p: &Product) -> Value {
    let created = p.variants.iter().map(|v| v.created_at).min();
    let updated = p.variants.iter().map(|v| v.updated_at).max();
    json!({
        "id": p.id,
        "name": {"pt": p.name},
        "description": {"pt": p.info.description},
        "handle": {"pt": slug(&p.name)},
        "attributes": [],
        "published": p.info.published,
        "free_shipping": false,
        "requires_shipping": true,
        "canonical_url": format!("https://loja-sim.lojavirtualnuvem.com.br/produtos/{}/", slug(&p.name)),
        "variants": p.variants.iter().map(Variant::render).collect::<Vec<_>>(),
        "images": [],
        "categories": [],
        "brand": p.info.brand,
        "tags": "",
        "created_at": created.map(ts),
        "updated_at": updated.map(ts),
    })
}

pub(super) async fn get_product(
    State(st): State<AppState>,
    Path((_, pid)): Path<(String, String)>,
) -> Response {
    let store = st.sim.read();
    match pid
        .parse::<u64>()
        .ok()
        .and_then(|id| store.products.get(&id))
    {
        Some(p) => ok_json(&render_product(p)),
        None => product_not_found(),
    }
}

pub(super) async fn put_product(
    State(st): State<AppState>,
    Path((_, pid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut store = st.sim.write();
    let Some(p) = pid
        .parse::<u64>()
        .ok()
        .and_then(|id| store.products.get_mut(&id))
    else {
        return product_not_found();
    };
    match catalogue::put_product(p, &b) {
        Ok(()) => ok_json(&render_product(p)),
        Err(e) => json_pair(e),
    }
}

pub(super) async fn get_product_by_sku(
    State(st): State<AppState>,
    Path((_, sku)): Path<(String, String)>,
) -> Response {
    let store = st.sim.read();
    let found = store.products.values().find(|p| {
        p.variants
            .iter()
            .any(|v| v.sku.as_deref() == Some(sku.as_str()))
    });
    match found {
        Some(p) => ok_json(&render_product(p)),
        None => product_not_found(),
    }
}

pub(super) async fn get_variants(
    State(st): State<AppState>,
    Path((_, pid)): Path<(String, String)>,
) -> Response {
    let store = st.sim.read();
    match pid
        .parse::<u64>()
        .ok()
        .and_then(|id| store.products.get(&id))
    {
        Some(p) => ok_json(&Value::Array(
            p.variants.iter().map(Variant::render).collect(),
        )),
        None => product_not_found(),
    }
}

pub(super) async fn patch_variants(
    State(st): State<AppState>,
    Path((_, pid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Ok(pid) = pid.parse::<u64>() else {
        return product_not_found();
    };
    let mut store = st.sim.write();
    let now = store.clock.tick();
    match catalogue::patch_variants(&mut store.products, pid, &b, now) {
        Ok(list) => ok_json(&Value::Array(list)),
        Err(e) => json_pair(e),
    }
}

pub(super) async fn get_variant(
    State(st): State<AppState>,
    Path((_, pid, vid)): Path<(String, String, String)>,
) -> Response {
    let store = st.sim.read();
    let v = pid
        .parse::<u64>()
        .ok()
        .and_then(|p| store.products.get(&p))
        .and_then(|p| {
            vid.parse::<u64>()
                .ok()
                .and_then(|v| p.variants.iter().find(|x| x.id == v))
        });
    match v {
        Some(v) => ok_json(&v.render()),
        None => error(404, "Variant not found"),
    }
}

pub(super) async fn put_variant(
    State(st): State<AppState>,
    Path((_, pid, vid)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Ok(pid), Ok(vid)) = (pid.parse::<u64>(), vid.parse::<u64>()) else {
        return error(404, "Variant not found");
    };
    let patch = match VariantPatch::parse(&b, Some(vid)) {
        Ok(p) => p,
        Err(e) => return json_pair(e),
    };
    let mut store = st.sim.write();
    let now = store.clock.tick();
    let Some(v) = store
        .products
        .get_mut(&pid)
        .and_then(|p| p.variants.iter_mut().find(|v| v.id == vid))
    else {
        return error(404, "Variant not found");
    };
    patch.apply(v, now);
    ok_json(&v.render())
}

// ---- webhooks ----------------------------------------------------------------------

pub(super) async fn list_webhooks(State(st): State<AppState>, Query(pairs): Pairs) -> Response {
    let store = st.sim.read();
    let event = pair(&pairs, "event");
    let url = pair(&pairs, "url");
    let since = pair(&pairs, "since_id").and_then(|s| s.parse::<u64>().ok());
    let list: Vec<Value> = store
        .webhooks
        .values()
        .filter(|w| {
            event.is_none_or(|e| w.event == e)
                && url.is_none_or(|u| w.url == u)
                && since.is_none_or(|s| w.id > s)
        })
        .map(Webhook::render)
        .collect();
    ok_json(&Value::Array(list))
}

pub(super) async fn post_webhook(State(st): State<AppState>, body: Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (event, url) = match resources::parse_webhook(&b) {
        Ok(p) => p,
        Err(e) => return json_pair((422, e)),
    };
    let mut store = st.sim.write();
    // Assumption: the same (event, url) cannot be registered twice.
    if store
        .webhooks
        .values()
        .any(|w| w.event == event && w.url == url)
    {
        return json_pair((422, field_errors(&[("url", "has already been taken")])));
    }
    let now = store.clock.tick();
    let id = store.next_webhook_id;
    store.next_webhook_id += 1;
    let w = Webhook {
        id,
        event,
        url,
        created_at: now,
        updated_at: now,
    };
    let v = w.render();
    store.webhooks.insert(id, w);
    json_value(StatusCode::CREATED, &v)
}

fn webhook_not_found() -> Response {
    error(404, "Webhook not found")
}

pub(super) async fn get_webhook(
    State(st): State<AppState>,
    Path((_, wid)): Path<(String, String)>,
) -> Response {
    let store = st.sim.read();
    match wid
        .parse::<u64>()
        .ok()
        .and_then(|id| store.webhooks.get(&id))
    {
        Some(w) => ok_json(&w.render()),
        None => webhook_not_found(),
    }
}

pub(super) async fn put_webhook(
    State(st): State<AppState>,
    Path((_, wid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut store = st.sim.write();
    let Some(id) = wid
        .parse::<u64>()
        .ok()
        .filter(|id| store.webhooks.contains_key(id))
    else {
        return webhook_not_found();
    };
    let (event, url) = {
        let w = &store.webhooks[&id];
        let merged = json!({
            "event": b.get("event").cloned().unwrap_or_else(|| json!(w.event)),
            "url": b.get("url").cloned().unwrap_or_else(|| json!(w.url)),
        });
        match resources::parse_webhook(&merged) {
            Ok(p) => p,
            Err(e) => return json_pair((422, e)),
        }
    };
    let now = store.clock.tick();
    let Some(w) = store.webhooks.get_mut(&id) else {
        return webhook_not_found();
    };
    w.event = event;
    w.url = url;
    w.updated_at = now;
    ok_json(&w.render())
}

pub(super) async fn delete_webhook(
    State(st): State<AppState>,
    Path((_, wid)): Path<(String, String)>,
) -> Response {
    let mut store = st.sim.write();
    match wid
        .parse::<u64>()
        .ok()
        .and_then(|id| store.webhooks.remove(&id))
    {
        Some(_) => ok_json(&json!({})),
        None => webhook_not_found(),
    }
}
