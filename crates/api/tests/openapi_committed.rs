//! The committed `docs/openapi.json` is the document the code generates.
//! Regenerate with `cargo run -p ponte -- openapi > docs/openapi.json`.

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = ponte_api::openapi_json();
    assert!(
        committed.trim() == generated.trim(),
        "docs/openapi.json is stale: run `cargo run -p ponte -- openapi > docs/openapi.json`"
    );
}
