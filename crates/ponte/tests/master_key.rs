//! The master key is checked at start: an instance whose key is not the one the
//! database's credentials were stored with stops with a clear message naming
//! `PONTE_MASTER_KEY` (never the key), on SQLite and PostgreSQL; PostgreSQL needs the
//! key to be given.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::pg::TestDb;
use common::{Ponte, Sim};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY_A: &str = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";
const KEY_B: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";

fn borrow<'a>(e: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    e.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Runs `ponte serve` expecting it to exit at start; returns its exit code and stderr.
fn refused(data_dir: &Path, env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ponte"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("PONTE_API_TOKEN", common::TOKEN)
        .env_remove("PONTE_MASTER_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("ponte kept running with a wrong or missing master key");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.code().unwrap_or(-1), err)
}

fn assert_names_the_key_not_its_value(err: &str) {
    assert!(err.contains("PONTE_MASTER_KEY"), "{err}");
    for k in [KEY_A, KEY_B] {
        assert!(!err.contains(k), "the key leaked: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_another_key_and_keeps_working_with_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Sim::unlimited()).await;
    let mut first = Ponte::start(dir.path(), &[("PONTE_MASTER_KEY", KEY_A)]);
    let (ch, _) = first.nuvemshop_channel(&sim, "all").await;
    first.terminate();

    let (code, err) = refused(dir.path(), &[("PONTE_MASTER_KEY", KEY_B)]);
    assert_ne!(code, 0);
    assert_names_the_key_not_its_value(&err);
    // Without PONTE_MASTER_KEY the data dir has no key file (A was given): a new one is
    // made, and it is not A either.
    let (code, err) = refused(dir.path(), &[]);
    assert_ne!(code, 0);
    assert_names_the_key_not_its_value(&err);
    std::fs::remove_file(dir.path().join("master.key")).unwrap();

    // The right key starts, and the channel's credentials still open.
    let again = Ponte::start(dir.path(), &[("PONTE_MASTER_KEY", KEY_A)]);
    let c = again.get(&format!("/api/v1/channels/{ch}")).await;
    assert_eq!(c["id"], ch.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_needs_the_key_and_every_instance_the_same_one() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = |key: Option<&'static str>| {
        let mut e = vec![
            ("PONTE_DATABASE_URL", db.url.clone()),
            ("PONTE_DATABASE_MAX_CONNECTIONS", "4".to_owned()),
        ];
        if let Some(k) = key {
            e.push(("PONTE_MASTER_KEY", k.to_owned()));
        }
        e
    };

    let no_key = env(None);
    let (code, err) = refused(dir.path(), &borrow(&no_key));
    assert_ne!(code, 0);
    assert!(err.contains("PONTE_MASTER_KEY is required"), "{err}");
    assert!(
        !dir.path().join("master.key").exists(),
        "no per-data-dir key on PostgreSQL"
    );

    let a = env(Some(KEY_A));
    let first = Ponte::start(dir.path(), &borrow(&a));
    let sim = Sim::start(Sim::unlimited()).await;
    first.nuvemshop_channel(&sim, "all").await;

    let other = tempfile::tempdir().unwrap();
    let b = env(Some(KEY_B));
    let (code, err) = refused(other.path(), &borrow(&b));
    assert_ne!(code, 0);
    assert_names_the_key_not_its_value(&err);
    assert!(err.contains("does not match"), "{err}");

    // A second instance with the same key joins.
    let second = Ponte::start(other.path(), &borrow(&a));
    let listed = second.get("/api/v1/channels").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
}
