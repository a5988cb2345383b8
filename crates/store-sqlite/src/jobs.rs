use crate::codec::in_table;
use crate::codec::{col, from_ts, id, json, pow2_chunks, to_json, ts};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{JobId, TenantId};
use ponte_store::claim::{ClaimRequest, StartSends};
use ponte_store::job_outcome::{finish_leased, JobUpdate, LeasedJob};
use ponte_store::job_queue::coalesce_jobs;
use ponte_store::lease_release::Leases;
use ponte_store::{Job, JobCounts, JobLease, JobOutcome, JobStore, NewJob, StoreResult};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::time::Duration;

/// Inserts jobs, coalescing by unique key: a key already pending (in the table or
/// earlier in this batch) only pulls the pending job's `run_at` earlier.
pub(crate) async fn insert_jobs(
    conn: &mut SqliteConnection,
    jobs: &[(TenantId, &NewJob)],
) -> StoreResult<()> {
    let rows = coalesce_jobs(jobs);
    for chunk in pow2_chunks(&rows) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO jobs (tenant_id, id, kind, payload, unique_key, state, run_at, created_at) ");
        let payloads = chunk
            .iter()
            .map(|(_, j, _)| to_json(&j.payload))
            .collect::<StoreResult<Vec<_>>>()?;
        q.push_values(
            chunk.iter().zip(payloads),
            |mut b, ((t, j, run_at), payload)| {
                b.push_bind(t.to_string())
                    .push_bind(JobId::new().to_string())
                    .push_bind(&j.kind)
                    .push_bind(payload)
                    .push_bind(&j.unique_key)
                    .push_bind("pending")
                    .push_bind(ts(*run_at))
                    .push_bind(ts(*run_at));
            },
        );
        q.push(
            " ON CONFLICT (tenant_id, unique_key) WHERE state = 'pending' AND unique_key IS NOT NULL \
             DO UPDATE SET run_at = MIN(jobs.run_at, excluded.run_at)",
        );
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// A leased job inside an open transaction ([`ponte_store::job_outcome`]).
struct SqliteLeasedJob<'a> {
    conn: &'a mut SqliteConnection,
    lease: &'a JobLease,
}

#[async_trait]
impl LeasedJob for SqliteLeasedJob<'_> {
    async fn delete(&mut self) -> StoreResult<u64> {
        let r =
            sqlx::query("DELETE FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?")
                .bind(self.lease.job_id.to_string())
                .bind(&self.lease.owner)
                .execute(&mut *self.conn)
                .await
                .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    async fn update(&mut self, u: &JobUpdate<'_>) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE jobs SET state = ?, run_at = COALESCE(?, run_at), attempts = attempts + ?, \
             last_error = ?, lease_owner = NULL, lease_until = NULL \
             WHERE id = ? AND state = 'running' AND lease_owner = ?",
        )
        .bind(u.state.as_str())
        .bind(u.run_at.map(ts))
        .bind(u.attempts)
        .bind(u.error)
        .bind(self.lease.job_id.to_string())
        .bind(&self.lease.owner)
        .execute(&mut *self.conn)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected())
    }
}

/// Leases due jobs inside an open transaction (see `JobStore::claim_jobs`).
pub(crate) async fn claim_in(
    conn: &mut SqliteConnection,
    req: &ClaimRequest<'_>,
) -> StoreResult<Vec<Job>> {
    let until = ponte_core::wait::after(req.now, req.lease);
    let mut q: QueryBuilder<Sqlite> =
        QueryBuilder::new("UPDATE jobs SET state = 'running', lease_owner = ");
    q.push_bind(req.owner)
        .push(", lease_until = ")
        .push_bind(ts(until))
        .push(", started_at = ")
        .push_bind(ts(req.now))
        .push(" WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM jobs WHERE state = 'pending' AND run_at <= ")
        .push_bind(ts(req.now));
    if !req.kinds.is_empty() {
        q.push(" AND kind IN (");
        let mut sep = q.separated(", ");
        for k in req.kinds {
            sep.push_bind(*k);
        }
        q.push(")");
    }
    q.push(" ORDER BY run_at LIMIT ")
        .push_bind(i64::from(req.limit))
        .push(") RETURNING tenant_id, id, kind, payload, attempts, created_at");
    let rows = q.build().fetch_all(&mut *conn).await.map_err(db_err)?;
    claimed(&rows, req.owner)
}

/// Leases the due pending jobs with the given unique keys (see
/// `ponte_store::claim::ClaimTx::claim_keys`), searched by key.
pub(crate) async fn claim_keys_in(
    conn: &mut SqliteConnection,
    keys: &[(TenantId, &str)],
    start: &StartSends<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Job>> {
    let keys = crate::sends::json_rows(
        keys.iter()
            .map(|(t, k)| serde_json::json!([t, k]))
            .collect(),
    );
    let rows = sqlx::query(
        "UPDATE jobs SET state = 'running', lease_owner = ?1, lease_until = ?2, started_at = ?3 \
         WHERE rowid IN (SELECT j.rowid FROM json_each(?4) v JOIN jobs j \
           ON j.tenant_id = v.value->>0 AND j.unique_key = v.value->>1 \
           AND j.state = 'pending' AND j.unique_key IS NOT NULL \
           WHERE j.run_at <= ?3) \
         RETURNING tenant_id, id, kind, payload, attempts, created_at",
    )
    .bind(start.owner)
    .bind(ts(ponte_core::wait::after(now, start.lease)))
    .bind(ts(now))
    .bind(keys)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    claimed(&rows, start.owner)
}

/// Jobs a claim's `RETURNING` gave, leased to `owner`.
fn claimed(rows: &[sqlx::sqlite::SqliteRow], owner: &str) -> StoreResult<Vec<Job>> {
    rows.iter()
        .map(|r| {
            in_table("jobs", || {
                Ok(Job {
                    tenant_id: id(col(r, "tenant_id")?)?,
                    id: id(col(r, "id")?)?,
                    kind: col(r, "kind")?,
                    payload: json(col(r, "payload")?)?,
                    attempts: u32::try_from(col::<i64>(r, "attempts")?).unwrap_or(0),
                    created_at: from_ts(col(r, "created_at")?)?,
                    lease_owner: owner.to_owned(),
                })
            })
        })
        .collect()
}

/// Finishes a job inside an open transaction; false if the lease was lost.
pub(crate) async fn finish_in(
    conn: &mut SqliteConnection,
    lease: &JobLease,
    outcome: &JobOutcome,
) -> StoreResult<bool> {
    finish_leased(&mut SqliteLeasedJob { conn, lease }, outcome).await
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, jobs: &[(TenantId, NewJob)]) -> StoreResult<()> {
        let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|(t, j)| (*t, j)).collect();
        let mut conn = self.writer.acquire().await.map_err(db_err)?;
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
        let mut conn = self.writer.acquire().await.map_err(db_err)?;
        claim_in(&mut conn, &req).await
    }

    async fn heartbeat(&self, owner: &str, until: DateTime<Utc>) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_until = ? WHERE state = 'running' AND lease_owner = ?",
        )
        .bind(ts(until))
        .bind(owner)
        .execute(&self.writer)
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let ok = finish_in(&mut tx, lease, outcome).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(ok)
    }

    async fn reap_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        release(&self.writer, Leases::ExpiredAt(ts(now))).await
    }

    async fn release_leases(&self, owner: Option<&str>) -> StoreResult<u64> {
        match owner {
            Some(o) => release(&self.writer, Leases::Owner(o)).await,
            None => release(&self.writer, Leases::All).await,
        }
    }

    async fn job_counts(&self) -> StoreResult<JobCounts> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        let mut c = JobCounts::default();
        for r in rows {
            c.add(col(&r, "state")?, col(&r, "n")?);
        }
        Ok(c)
    }

    async fn next_run_at(&self, kinds: &[&str]) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(run_at) FROM jobs WHERE state = 'pending' \
             AND (json_array_length(?1) = 0 OR kind IN (SELECT value FROM json_each(?1)))",
        )
        .bind(to_json(&kinds)?)
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        v.map(from_ts).transpose()
    }
}

/// Puts leased jobs back to pending ([`ponte_store::lease_release`]).
async fn release(pool: &sqlx::SqlitePool, which: Leases<'_, i64>) -> StoreResult<u64> {
    let sql = which.sql("?1", |_| String::new());
    let mut tx = pool.begin().await.map_err(db_err)?;
    let dropped = bind(&which, sqlx::query(&sql.drop))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    let requeued = bind(&which, sqlx::query(&sql.requeue))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    tx.commit().await.map_err(db_err)?;
    Ok(dropped + requeued)
}

/// Binds a release's one parameter.
fn bind<'q>(which: &Leases<'_, i64>, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
    match *which {
        Leases::ExpiredAt(t) => q.bind(t),
        Leases::Owner(o) => q.bind(o.to_owned()),
        Leases::All => q,
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
