use crate::codec::col;
use crate::codec::in_table;
use crate::listen::NOTIFY_FROM;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{JobId, TenantId};
use ponte_store::claim::{ClaimRequest, StartSends};
use ponte_store::job_outcome::{finish_leased, JobUpdate, KeptState, LeasedJob};
use ponte_store::job_queue::coalesce_jobs;
use ponte_store::lease_release::Leases;
use ponte_store::{
    Job, JobCounts, JobLease, JobOutcome, JobStore, NewJob, StoreError, StoreResult,
};
use sqlx::postgres::{PgArguments, PgConnection};
use sqlx::query::Query;
use sqlx::{Connection, Postgres};
use std::time::Duration;
use uuid::Uuid;

/// The NOTIFY channel that wakes workers when jobs are added.
pub(crate) const JOBS_CHANNEL: &str = "ponte_jobs";

/// Inserts jobs in one statement, coalescing by unique key: a key already pending (in
/// the table or earlier in this batch) only pulls the pending job's `run_at` earlier.
/// Notifies [`JOBS_CHANNEL`] in the same statement (delivered at commit).
pub(crate) async fn insert_jobs(
    conn: &mut PgConnection,
    jobs: &[(TenantId, &NewJob)],
) -> StoreResult<()> {
    // PostgreSQL refuses to update one row twice in one statement: the batch is
    // coalesced first.
    let mut rows = coalesce_jobs(jobs);
    if rows.is_empty() {
        return Ok(());
    }
    // Concurrent batches take the pending rows' locks in the same order: no deadlock.
    rows.sort_by(|a, b| (a.0, a.1.unique_key.as_deref()).cmp(&(b.0, b.1.unique_key.as_deref())));
    let tenants: Vec<Uuid> = rows.iter().map(|r| r.0 .0).collect();
    let ids: Vec<Uuid> = rows.iter().map(|_| JobId::new().0).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.1.kind.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = rows.iter().map(|r| &r.1.payload).collect();
    let keys: Vec<Option<&str>> = rows.iter().map(|r| r.1.unique_key.as_deref()).collect();
    let run_at: Vec<DateTime<Utc>> = rows.iter().map(|r| r.2).collect();
    sqlx::query(&format!(
        "WITH ins AS ( \
           INSERT INTO jobs (tenant_id, id, kind, payload, unique_key, state, run_at, created_at) \
           SELECT t, id, kind, payload, unique_key, 'pending', run_at, run_at \
           FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::text[], $6::timestamptz[]) \
             AS u (t, id, kind, payload, unique_key, run_at) \
           ON CONFLICT (tenant_id, unique_key) WHERE state = 'pending' AND unique_key IS NOT NULL \
           DO UPDATE SET run_at = LEAST(jobs.run_at, EXCLUDED.run_at) \
         ) SELECT pg_notify($7, {NOTIFY_FROM} || ' ' || \
             (SELECT string_agg(DISTINCT k, ',') FROM UNNEST($3::text[]) AS k))",
    ))
    .bind(tenants)
    .bind(ids)
    .bind(kinds)
    .bind(payloads)
    .bind(keys)
    .bind(run_at)
    .bind(JOBS_CHANNEL)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A leased job on a connection ([`ponte_store::job_outcome`]). `in_tx` says the
/// connection is inside a transaction, where a failed statement would abort everything:
/// a requeue (which may meet a pending twin) then runs under a savepoint.
struct PgLeasedJob<'a> {
    conn: &'a mut PgConnection,
    lease: &'a JobLease,
    in_tx: bool,
}

/// Writes `u` to the job `lease` holds; rows changed.
async fn update_leased(
    conn: &mut PgConnection,
    lease: &JobLease,
    u: &JobUpdate<'_>,
) -> StoreResult<u64> {
    let r = sqlx::query(
        "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), attempts = attempts + $3, \
         last_error = $4, lease_owner = NULL, lease_until = NULL \
         WHERE id = $5 AND state = 'running' AND lease_owner = $6",
    )
    .bind(u.state.as_str())
    .bind(u.run_at)
    .bind(u.attempts)
    .bind(u.error)
    .bind(lease.job_id.0)
    .bind(&lease.owner)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(r.rows_affected())
}

#[async_trait]
impl LeasedJob for PgLeasedJob<'_> {
    async fn delete(&mut self) -> StoreResult<u64> {
        let r = sqlx::query(
            "DELETE FROM jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(self.lease.job_id.0)
        .bind(&self.lease.owner)
        .execute(&mut *self.conn)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    async fn update(&mut self, u: &JobUpdate<'_>) -> StoreResult<u64> {
        if !self.in_tx || u.state != KeptState::Pending {
            return update_leased(self.conn, self.lease, u).await;
        }
        let mut sp = Connection::begin(&mut *self.conn).await.map_err(db_err)?;
        let r = update_leased(&mut sp, self.lease, u).await;
        match r {
            Ok(_) => sp.commit().await.map_err(db_err)?,
            Err(_) => sp.rollback().await.map_err(db_err)?,
        }
        r
    }
}

/// Leases due jobs inside an open transaction (see `JobStore::claim_jobs`).
pub(crate) async fn claim_in(
    conn: &mut PgConnection,
    req: &ClaimRequest<'_>,
) -> StoreResult<Vec<Job>> {
    let until = ponte_core::wait::after(req.now, req.lease);
    let rows = sqlx::query(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, started_at = $3 \
         WHERE (tenant_id, id) IN ( \
           SELECT tenant_id, id FROM jobs \
           WHERE state = 'pending' AND run_at <= $4 AND (cardinality($5::text[]) = 0 OR kind = ANY($5)) \
           ORDER BY run_at LIMIT $6 FOR UPDATE SKIP LOCKED) \
         RETURNING tenant_id, id, kind, payload, attempts, created_at",
    )
    .bind(req.owner)
    .bind(until)
    .bind(req.now)
    .bind(req.now)
    .bind(req.kinds)
    .bind(i64::from(req.limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    claimed(&rows, req.owner)
}

/// Leases the due pending jobs with the given unique keys, skipping those another
/// transaction holds (see `ponte_store::claim::ClaimTx::claim_keys`).
pub(crate) async fn claim_keys_in(
    conn: &mut PgConnection,
    keys: &[(TenantId, &str)],
    start: &StartSends<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Job>> {
    let rows = sqlx::query(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, started_at = $3 \
         WHERE (tenant_id, id) IN ( \
           SELECT j.tenant_id, j.id FROM jobs j \
           JOIN UNNEST($4::uuid[], $5::text[]) AS u (t, k) ON j.tenant_id = u.t AND j.unique_key = u.k \
           WHERE j.state = 'pending' AND j.run_at <= $3 \
           FOR UPDATE OF j SKIP LOCKED) \
         RETURNING tenant_id, id, kind, payload, attempts, created_at",
    )
    .bind(start.owner)
    .bind(ponte_core::wait::after(now, start.lease))
    .bind(now)
    .bind(keys.iter().map(|k| k.0 .0).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    claimed(&rows, start.owner)
}

/// Jobs a claim's `RETURNING` gave, leased to `owner`.
fn claimed(rows: &[sqlx::postgres::PgRow], owner: &str) -> StoreResult<Vec<Job>> {
    rows.iter()
        .map(|r| {
            in_table("jobs", || {
                Ok(Job {
                    tenant_id: TenantId(col(r, "tenant_id")?),
                    id: JobId(col(r, "id")?),
                    kind: col(r, "kind")?,
                    payload: col(r, "payload")?,
                    attempts: u32::try_from(col::<i32>(r, "attempts")?).unwrap_or(0),
                    created_at: col(r, "created_at")?,
                    lease_owner: owner.to_owned(),
                })
            })
        })
        .collect()
}

/// Finishes a job; false if the lease was lost. `in_tx` says `conn` is inside a
/// transaction (see [`PgLeasedJob`]).
pub(crate) async fn finish_in(
    conn: &mut PgConnection,
    lease: &JobLease,
    outcome: &JobOutcome,
    in_tx: bool,
) -> StoreResult<bool> {
    finish_leased(&mut PgLeasedJob { conn, lease, in_tx }, outcome).await
}

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue(&self, jobs: &[(TenantId, NewJob)]) -> StoreResult<()> {
        let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|(t, j)| (*t, j)).collect();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        insert_jobs(&mut conn, &refs).await
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        kinds: &[&str],
        limit: u32,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Vec<Job>> {
        let req = ClaimRequest {
            owner,
            kinds,
            limit,
            now,
            lease,
        };
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        claim_in(&mut conn, &req).await
    }

    async fn heartbeat(&self, owner: &str, until: DateTime<Utc>) -> StoreResult<u64> {
        // Rows an import transaction is completing right now are skipped (they are about
        // to go): waiting for them could deadlock with that transaction.
        let r = sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE (tenant_id, id) IN ( \
               SELECT tenant_id, id FROM jobs WHERE state = 'running' AND lease_owner = $2 \
               ORDER BY tenant_id, id FOR UPDATE SKIP LOCKED)",
        )
        .bind(until)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    async fn finish_job(
        &self,
        lease: &JobLease,
        outcome: &JobOutcome,
        _now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        finish_in(&mut conn, lease, outcome, false).await
    }

    async fn reap_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        release(self, Leases::ExpiredAt(now)).await
    }

    async fn release_leases(&self, owner: Option<&str>) -> StoreResult<u64> {
        match owner {
            Some(o) => release(self, Leases::Owner(o)).await,
            None => release(self, Leases::All).await,
        }
    }

    async fn job_counts(&self) -> StoreResult<JobCounts> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut c = JobCounts::default();
        for r in rows {
            c.add(col(&r, "state")?, col(&r, "n")?);
        }
        Ok(c)
    }

    async fn next_run_at(&self, kinds: &[&str]) -> StoreResult<Option<DateTime<Utc>>> {
        sqlx::query_scalar(
            "SELECT MIN(run_at) FROM jobs WHERE state = 'pending' \
             AND (cardinality($1::text[]) = 0 OR kind = ANY($1))",
        )
        .bind(kinds)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }
}

/// Restricts a release to rows no other transaction holds: a worker completing a job
/// right now keeps it (waiting for its row could deadlock with that transaction).
fn unlocked(which: &Leases<'_, DateTime<Utc>>, a: &str) -> String {
    format!(
        "({a}.tenant_id, {a}.id) IN (SELECT tenant_id, id FROM jobs l WHERE {} ORDER BY tenant_id, id FOR UPDATE SKIP LOCKED)",
        which.cond("l", "$1")
    )
}

/// Puts leased jobs back to pending ([`ponte_store::lease_release`]). Retried when a
/// twin appears concurrently.
async fn release(store: &PgStore, which: Leases<'_, DateTime<Utc>>) -> StoreResult<u64> {
    let mut attempt = 0;
    loop {
        match release_once(store, &which).await {
            Err(StoreError::Conflict(_)) if attempt < 3 => attempt += 1,
            other => return other,
        }
    }
}

/// Binds a release's one parameter.
fn bind<'q>(
    which: &Leases<'_, DateTime<Utc>>,
    q: Query<'q, Postgres, PgArguments>,
) -> Query<'q, Postgres, PgArguments> {
    match *which {
        Leases::ExpiredAt(t) => q.bind(t),
        Leases::Owner(o) => q.bind(o.to_owned()),
        Leases::All => q,
    }
}

async fn release_once(store: &PgStore, which: &Leases<'_, DateTime<Utc>>) -> StoreResult<u64> {
    let sql = which.sql("$1", |a| unlocked(which, a));
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    let dropped = bind(which, sqlx::query(&sql.drop))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    let requeued = bind(which, sqlx::query(&sql.requeue))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    if requeued > 0 {
        crate::listen::notify_jobs(&mut tx, None).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(dropped + requeued)
}
