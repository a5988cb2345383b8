//! Beginning status sends (SQLite) with a constant number of statements per batch:
//! read the batch's jobs and the heads of their orders once, decide with
//! `ponte_store::send_plan`, then write each table once.

use crate::codec::{col, json};
use crate::db_err;
use crate::sends::{block_after, delete_jobs, json_rows, write_sends, SEND_COLUMNS};
use crate::timeline::write_notes;
use chrono::{DateTime, Utc};
use ponte_core::{JobId, OrderId, TenantId};
use ponte_store::send_plan::{
    begin_live, plan_begin, BeginPlan, HeadSend, HeldJob, INTERRUPTED, INTERRUPTED_TEXT,
};
use ponte_store::{send_job_key, JobLease, SendBegin, SendJob, StoreResult};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use std::collections::{HashMap, HashSet};

/// The batch's jobs whose lease holds, and the keys running jobs outside the batch hold.
type Running = (HashMap<JobId, HeldJob>, HashSet<(TenantId, String)>);

/// Reads the running jobs that are the batch's or hold one of its orders' keys.
async fn running_jobs(
    conn: &mut SqliteConnection,
    jobs: &[(JobLease, SendJob)],
) -> StoreResult<Running> {
    let ids: Vec<Value> = jobs.iter().map(|(l, _)| json!(l.job_id)).collect();
    let keys: Vec<Value> = jobs
        .iter()
        .map(|(_, j)| json!(send_job_key(j.channel_id, j.order_id)))
        .collect();
    let rows = sqlx::query(
        "SELECT tenant_id, id, lease_owner, unique_key FROM jobs WHERE state = 'running' \
         AND (id IN (SELECT value FROM json_each(?1)) OR unique_key IN (SELECT value FROM json_each(?2)))",
    )
    .bind(json_rows(ids))
    .bind(json_rows(keys))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let owners: HashMap<JobId, &str> = jobs
        .iter()
        .map(|(l, _)| (l.job_id, l.owner.as_str()))
        .collect();
    let (mut held, mut busy) = (HashMap::new(), HashSet::new());
    for r in &rows {
        let tenant: TenantId = crate::codec::id(col(r, "tenant_id")?)?;
        let job: JobId = crate::codec::id(col(r, "id")?)?;
        let key: Option<String> = col(r, "unique_key")?;
        match owners.get(&job) {
            Some(owner) => {
                if col::<Option<&str>>(r, "lease_owner")? == Some(*owner) {
                    held.insert(job, HeldJob { tenant, key });
                }
            }
            None => {
                if let Some(k) = key {
                    busy.insert((tenant, k));
                }
            }
        }
    }
    Ok((held, busy))
}

/// The head of each (tenant, order), with its attempts' numbers.
async fn heads(
    conn: &mut SqliteConnection,
    orders: &[(usize, TenantId, OrderId)],
) -> StoreResult<HashMap<(TenantId, OrderId), HeadSend>> {
    if orders.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = orders.iter().map(|(_, t, o)| json!([t, o])).collect();
    let rows = sqlx::query(&format!(
        "WITH v(t, o) AS (SELECT value->>0, value->>1 FROM json_each(?1)) \
         SELECT {SEND_COLUMNS}, \
           (SELECT MAX(a.n) FROM send_attempts a WHERE a.tenant_id = s.tenant_id AND a.send_id = s.id) AS max_n, \
           (SELECT json_group_array(a.n) FROM send_attempts a WHERE a.tenant_id = s.tenant_id \
              AND a.send_id = s.id AND a.outcome = 'started') AS started \
         FROM v JOIN status_sends s ON s.tenant_id = v.t AND s.order_id = v.o \
           AND s.seq = (SELECT MIN(x.seq) FROM status_sends x WHERE x.tenant_id = v.t \
                        AND x.order_id = v.o AND x.state != 'succeeded')"
    ))
    .bind(json_rows(rows))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let mut started: Vec<u32> = json(col(r, "started")?)?;
        started.sort_unstable();
        let send = crate::sends::decode_send(r)?;
        let max_n = col::<Option<i64>>(r, "max_n")?.unwrap_or(0);
        let head = HeadSend {
            max_n: u32::try_from(max_n).unwrap_or(0),
            started,
            send,
        };
        out.insert((head.send.tenant_id, head.send.order_id), head);
    }
    Ok(out)
}

/// Begins the batch inside the caller's transaction (see `SendStore::begin_sends`).
pub(crate) async fn begin_sends(
    conn: &mut SqliteConnection,
    jobs: &[(JobLease, SendJob)],
    now: DateTime<Utc>,
) -> StoreResult<Vec<SendBegin>> {
    let (held, busy) = running_jobs(conn, jobs).await?;
    let start = begin_live(jobs, &held, &busy);
    let heads = heads(conn, &start.live).await?;
    let plan = plan_begin(start, jobs, &heads, now);
    write(conn, &plan, now).await?;
    Ok(plan.out)
}

/// Writes what beginning the batch changed.
async fn write(
    conn: &mut SqliteConnection,
    plan: &BeginPlan,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if !plan.interrupted.is_empty() {
        let rows = plan
            .interrupted
            .iter()
            .map(|(t, s)| json!([t, s]))
            .collect();
        sqlx::query(
            "UPDATE send_attempts SET outcome = 'interrupted', error_code = ?2, error = ?3 \
             WHERE outcome = 'started' \
             AND (tenant_id, send_id) IN (SELECT value->>0, value->>1 FROM json_each(?1))",
        )
        .bind(json_rows(rows))
        .bind(INTERRUPTED)
        .bind(INTERRUPTED_TEXT)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    write_sends(conn, &plan.sends).await?;
    block_after(conn, &plan.block_after, now).await?;
    if !plan.attempts.is_empty() {
        let rows = plan
            .attempts
            .iter()
            .map(|(t, s, n)| json!([t, s, n]))
            .collect();
        sqlx::query(
            "INSERT INTO send_attempts (tenant_id, send_id, n, started_at, outcome) \
             SELECT value->>0, value->>1, value->>2, ?2, 'started' FROM json_each(?1)",
        )
        .bind(json_rows(rows))
        .bind(crate::codec::ts(now))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    delete_jobs(conn, &plan.done).await?;
    write_notes(conn, &plan.notes).await
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::SqliteStore;
    use chrono::{DateTime, TimeZone, Utc};
    use ponte_core::{ChannelId, JobId, OrderId, SendId, TenantId};
    use ponte_store::*;
    use tempfile::TempDir;

    /// A store with one order, its two pending sends and `jobs` running send jobs.
    pub(crate) async fn seed(
        jobs: usize,
    ) -> (
        TempDir,
        SqliteStore,
        DateTime<Utc>,
        [SendId; 2],
        Vec<(JobLease, (TenantId, SendJob))>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db")).await.unwrap();
        let (t, c, o) = (TenantId::new(), ChannelId::new(), OrderId::new());
        let sends = [SendId::new(), SendId::new()];
        let action = r#"{"action":"separation","kind":"separation"}"#;
        let mut sql = String::new();
        for (seq, id) in sends.iter().enumerate() {
            sql += &format!("INSERT INTO status_sends (tenant_id, id, channel_id, order_id, external_id, \
                seq, kind, action, state, max_attempts, created_at, updated_at) VALUES ('{t}', '{id}', \
                '{c}', '{o}', 'e', {seq} + 1, 'separation', '{action}', 'pending', 3, 0, 0);");
        }
        let job = SendJob {
            order_id: o,
            channel_id: c,
        };
        let (key, payload) = (send_job_key(c, o), serde_json::to_string(&job).unwrap());
        let leases: Vec<_> = (0..jobs)
            .map(|_| JobLease {
                job_id: JobId::new(),
                owner: "w".into(),
            })
            .collect();
        for l in &leases {
            sql += &format!("INSERT INTO jobs (tenant_id, id, kind, payload, unique_key, state, run_at, \
                created_at, lease_owner) VALUES ('{t}', '{}', '{SEND_JOB_KIND}', '{payload}', '{key}', \
                'running', 0, 0, 'w');", l.job_id);
        }
        sqlx::raw_sql(&sql).execute(&s.writer).await.unwrap();
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        (
            dir,
            s,
            now,
            sends,
            leases.into_iter().map(|l| (l, (t, job))).collect(),
        )
    }

    /// One column of a query's rows.
    pub(crate) async fn strings(s: &SqliteStore, sql: &str) -> Vec<String> {
        sqlx::query_scalar(sql).fetch_all(&s.writer).await.unwrap()
    }

    /// Of two jobs of one batch on one order, the first works.
    #[tokio::test]
    async fn a_batch_begins_in_order() {
        let (_dir, s, now, [s1, _], jobs) = seed(2).await;
        let jobs: Vec<_> = jobs.into_iter().map(|(l, (_, j))| (l, j)).collect();
        // The first takes the head; the second has nothing to do and ends.
        let b = s.begin_sends(&jobs, now).await.unwrap();
        let SendBegin::Started(first) = &b[0] else {
            panic!("{b:?}")
        };
        assert_eq!(
            (&b[1], first.id, first.attempts[0].n),
            (&SendBegin::Idle, s1, 1)
        );
        let left = strings(&s, "SELECT id FROM jobs").await;
        assert_eq!(left, [jobs[0].0.job_id.to_string()]);
    }
}
