//! The benchmark suite's quick mode, run with the tests so the bench code cannot rot:
//! every scenario on SQLite and PostgreSQL at small sizes, each checking its own
//! results (a wrong answer fails the run). Numbers from a debug build under a parallel
//! test run mean nothing and are not checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn every_scenario_runs_and_checks_itself_in_quick_mode() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ponte-bench"))
        .args(["all", "--quick"])
        .current_dir(dir.path())
        .env("PONTE_LOG", "error")
        .output()
        .expect("run ponte-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ponte-bench all --quick failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for scenario in [
        "ingest",
        "e2e",
        "sends",
        "poll",
        "stock",
        "vtex",
        "retention",
        "jobs",
    ] {
        assert!(
            stdout.contains(&format!("== {scenario} (")),
            "{scenario} did not run:\n{stdout}"
        );
    }
    assert!(!stdout.contains("correctness check: FAILED"), "{stdout}");
    let summary = std::fs::read_to_string(dir.path().join("bench-results/summary.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(doc["machine"]["profile"], "debug");
    assert!(doc["targets"].as_array().is_some_and(|t| !t.is_empty()));
}
