//! `jobs`: no-op jobs claimed and completed per second through the queue, on each
//! backend, with several concurrent workers (each claims a batch, then completes
//! its jobs one by one under their leases).

use crate::pg::TestDb;
use crate::report::{emit, Row};
use ponte_core::TenantId;
use ponte_store::{JobLease, JobOutcome, NewJob, Store};
use ponte_store_pg::PgStore;
use ponte_store_sqlite::SqliteStore;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `jobs`.
#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// Jobs per backend.
    #[arg(long, default_value_t = 50_000)]
    pub jobs: usize,
    /// Concurrent workers.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Jobs claimed per claim.
    #[arg(long, default_value_t = 50)]
    pub batch: u32,
}

impl JobsArgs {
    /// Defaults, or a smoke run.
    pub fn preset(quick: bool) -> Self {
        Self {
            jobs: if quick { 2_000 } else { 50_000 },
            workers: 8,
            batch: 50,
        }
    }
}

async fn run(store: Arc<dyn Store>, a: &JobsArgs) -> anyhow::Result<(f64, usize)> {
    let t = store.default_tenant(chrono::Utc::now()).await?;
    let now = chrono::Utc::now();
    let jobs: Vec<(TenantId, NewJob)> = (0..a.jobs)
        .map(|i| {
            (
                t,
                NewJob {
                    kind: "noop".into(),
                    payload: json!({ "i": i }),
                    unique_key: None,
                    run_at: now,
                },
            )
        })
        .collect();
    for chunk in jobs.chunks(5_000) {
        store.enqueue(chunk).await?;
    }
    let start = Instant::now();
    let mut tasks = vec![];
    for w in 0..a.workers {
        let store = store.clone();
        let batch = a.batch;
        tasks.push(tokio::spawn(async move {
            let owner = format!("bench-{w}");
            let mut done = 0usize;
            loop {
                let claimed = store
                    .claim_jobs(
                        &owner,
                        &["noop"],
                        batch,
                        chrono::Utc::now(),
                        Duration::from_secs(60),
                    )
                    .await?;
                if claimed.is_empty() {
                    return anyhow::Ok(done);
                }
                for j in claimed {
                    let lease = JobLease {
                        job_id: j.id,
                        owner: owner.clone(),
                    };
                    if store
                        .finish_job(&lease, &JobOutcome::Done, chrono::Utc::now())
                        .await?
                    {
                        done += 1;
                    }
                }
            }
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await??;
    }
    Ok((done as f64 / start.elapsed().as_secs_f64(), done))
}

/// Runs the scenario on SQLite and PostgreSQL.
pub async fn jobs(a: JobsArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("jobs.db")).await?);
    let (sqlite_rate, sqlite_done) = run(sqlite, &a).await?;
    let db = TestDb::create().await?;
    let pg = Arc::new(PgStore::connect(&db.url, (a.workers as u32 + 2).max(4)).await?);
    pg.migrate().await?;
    let (pg_rate, pg_done) = run(pg.clone(), &a).await?;
    pg.close().await;
    db.drop_db().await;
    let figures: Value = json!({
        "jobs": a.jobs, "workers": a.workers, "claim_batch": a.batch,
        "sqlite_jobs_per_sec": sqlite_rate, "postgres_jobs_per_sec": pg_rate,
    });
    emit(
        "jobs",
        "sqlite+postgres",
        &[
            Row {
                name: "no-op jobs/s, SQLite",
                value: format!("{sqlite_rate:.0}"),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "no-op jobs/s, PostgreSQL",
                value: format!("{pg_rate:.0}"),
                target: ">= 5000".into(),
                ok: Some(pg_rate >= 5000.0),
            },
        ],
        figures,
        sqlite_done == a.jobs && pg_done == a.jobs,
    )
}
