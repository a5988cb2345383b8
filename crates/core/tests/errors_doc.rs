//! The committed `docs/errors.md` is the table the code holds.
//! Regenerate with `cargo run -p ponte -- errors > docs/errors.md`.

#[test]
fn committed_error_table_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == ponte_core::ErrorCode::markdown(),
        "docs/errors.md is stale: run `cargo run -p ponte -- errors > docs/errors.md`"
    );
}
