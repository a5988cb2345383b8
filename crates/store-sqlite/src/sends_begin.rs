//! Beginning status sends (SQLite) with a constant number of statements per batch:
//! read the batch's jobs and the heads of their orders once, decide in memory as if
//! the jobs ran one after another in batch order, then write each table once.

use crate::codec::{col, ts};
use crate::db_err;
use crate::sends::{
    attempt_note, delete_jobs, json_rows, u32_of, write_notes, write_sends, SendRow, INTERRUPTED,
    INTERRUPTED_TEXT, SEND_COLUMNS,
};
use chrono::{DateTime, Utc};
use ponte_store::{
    send_job_key, AttemptOutcome, JobLease, SendAttempt, SendBegin, SendError, SendJob, SendState,
    StoreResult,
};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use std::collections::{HashMap, HashSet};

/// An attempt of a head send left `started`.
enum Open {
    /// Stored before this batch (all of a send's go `interrupted` together).
    Stored(i64),
    /// Recorded by this batch: an index into the new attempts.
    New(usize),
}

/// An order's first send that has not succeeded, as the batch leaves it.
struct Head {
    row: SendRow,
    /// The highest attempt number.
    max_n: i64,
    /// Attempts still `started`, by n.
    open: Vec<Open>,
}

/// An attempt to insert.
struct NewAttempt {
    tenant: String,
    send: String,
    n: i64,
    /// Interrupted by a later job of the same batch.
    interrupted: bool,
}

/// Running jobs by id, as (tenant, lease owner); and by (tenant, unique key).
type Running = (
    HashMap<String, (String, Option<String>)>,
    HashMap<(String, String), Vec<String>>,
);

/// Every running job that is one of the batch or holds one of its orders' keys.
async fn running_jobs(
    conn: &mut SqliteConnection,
    jobs: &[(JobLease, SendJob)],
) -> StoreResult<Running> {
    let ids: Vec<Value> = jobs
        .iter()
        .map(|(l, _)| json!(l.job_id.to_string()))
        .collect();
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
    let mut by_id = HashMap::with_capacity(rows.len());
    let mut by_key: HashMap<(String, String), Vec<String>> = HashMap::new();
    for r in &rows {
        let tenant: String = col(r, "tenant_id")?;
        let id: String = col(r, "id")?;
        if let Some(key) = col::<Option<String>>(r, "unique_key")? {
            by_key
                .entry((tenant.clone(), key))
                .or_default()
                .push(id.clone());
        }
        by_id.insert(id, (tenant, col(r, "lease_owner")?));
    }
    Ok((by_id, by_key))
}

/// The head of each (tenant, order), with its attempts' numbers.
async fn heads(
    conn: &mut SqliteConnection,
    orders: HashSet<(String, String)>,
) -> StoreResult<HashMap<(String, String), Head>> {
    if orders.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = orders.into_iter().map(|(t, o)| json!([t, o])).collect();
    let rows = sqlx::query(&format!(
        "WITH v(t, o) AS (SELECT value->>0, value->>1 FROM json_each(?1)) \
         SELECT v.t AS v_t, v.o AS v_o, {SEND_COLUMNS}, \
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
        let started: String = col(r, "started")?;
        let mut started: Vec<i64> = crate::codec::json(&started)?;
        started.sort_unstable();
        let key = (col(r, "v_t")?, col(r, "v_o")?);
        let head = Head {
            row: SendRow::decode(r)?,
            max_n: col::<Option<i64>>(r, "max_n")?.unwrap_or(0),
            open: started.into_iter().map(Open::Stored).collect(),
        };
        out.insert(key, head);
    }
    Ok(out)
}

/// Begins the batch inside the caller's transaction (see `SendStore::begin_sends`).
pub(crate) async fn begin_sends(
    conn: &mut SqliteConnection,
    jobs: &[(JobLease, SendJob)],
    now: DateTime<Utc>,
) -> StoreResult<Vec<SendBegin>> {
    let (running, by_key) = running_jobs(conn, jobs).await?;
    let orders: HashSet<(String, String)> = jobs
        .iter()
        .filter_map(|(lease, job)| {
            let (tenant, _) = running.get(&lease.job_id.to_string())?;
            Some((tenant.clone(), job.order_id.to_string()))
        })
        .collect();
    let mut heads = heads(conn, orders).await?;
    let interrupted = SendError {
        code: INTERRUPTED.into(),
        message: INTERRUPTED_TEXT.into(),
    };
    let mut out = Vec::with_capacity(jobs.len());
    // Sends whose stored `started` attempts become interrupted.
    let mut lost: Vec<Value> = Vec::new();
    let mut attempts: Vec<NewAttempt> = Vec::new();
    // Failed heads as (tenant, order, seq): the order's later pending sends are blocked.
    let mut blocked: Vec<Value> = Vec::new();
    // Jobs finished (deleted) by the batch.
    let mut ended: HashSet<String> = HashSet::new();
    let mut notes: Vec<Value> = Vec::new();
    for (lease, job) in jobs {
        let job_id = lease.job_id.to_string();
        let Some(tenant) = running
            .get(&job_id)
            .filter(|(_, owner)| owner.as_deref() == Some(lease.owner.as_str()))
            .filter(|_| !ended.contains(&job_id))
            .map(|(tenant, _)| tenant.clone())
        else {
            out.push(SendBegin::LeaseLost);
            continue;
        };
        // A job enqueued while the order's job was running is a twin: the running one
        // picks up the new send when it finishes, so this one just ends.
        let twin_running = by_key
            .get(&(tenant.clone(), send_job_key(job.channel_id, job.order_id)))
            .is_some_and(|ids| ids.iter().any(|id| *id != job_id && !ended.contains(id)));
        let head = heads
            .get_mut(&(tenant.clone(), job.order_id.to_string()))
            .filter(|h| !twin_running && h.row.send.state == SendState::Pending);
        let Some(head) = head else {
            ended.insert(job_id);
            out.push(SendBegin::Idle);
            continue;
        };
        let mut send = head.row.send.clone();
        if !head.open.is_empty() {
            let k = head.open.len() as i64;
            for open in head.open.drain(..) {
                let n = match open {
                    Open::Stored(n) => n,
                    Open::New(i) => {
                        attempts[i].interrupted = true;
                        attempts[i].n
                    }
                };
                let detail = json!({"send_id": send.id, "kind": send.kind(), "n": n, "outcome": "interrupted"});
                notes.push(attempt_note(&send, &detail));
            }
            lost.push(json!([tenant, send.id.to_string()]));
            send.attempts_used = send.attempts_used.saturating_add(u32_of(k));
            if send.attempts_used >= send.max_attempts {
                head.row.set(SendState::Failed, k, Some(&interrupted), now);
                blocked.push(json!([tenant, send.order_id.to_string(), send.seq]));
                ended.insert(job_id);
                out.push(SendBegin::Idle);
                continue;
            }
            head.row.set(SendState::Pending, k, Some(&interrupted), now);
            send.last_error = Some(interrupted.clone());
        }
        head.max_n += 1;
        head.open.push(Open::New(attempts.len()));
        attempts.push(NewAttempt {
            tenant,
            send: send.id.to_string(),
            n: head.max_n,
            interrupted: false,
        });
        send.attempts = vec![SendAttempt {
            n: u32_of(head.max_n),
            started_at: now,
            outcome: AttemptOutcome::Started,
            request: None,
            http_status: None,
            response: None,
            duration_ms: None,
            error_code: None,
            error: None,
        }];
        out.push(SendBegin::Started(Box::new(send)));
    }
    write(
        conn,
        lost,
        heads.values().map(|h| &h.row),
        blocked,
        &attempts,
        now,
    )
    .await?;
    let ended = ended
        .into_iter()
        .filter_map(|id| Some((running.get(&id)?.0.clone(), id)));
    delete_jobs(conn, ended.collect()).await?;
    write_notes(conn, notes, now).await?;
    Ok(out)
}

/// Writes the attempts and sends the batch changed.
async fn write<'a>(
    conn: &mut SqliteConnection,
    lost: Vec<Value>,
    sends: impl Iterator<Item = &'a SendRow>,
    blocked: Vec<Value>,
    attempts: &[NewAttempt],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if !lost.is_empty() {
        sqlx::query(
            "UPDATE send_attempts SET outcome = 'interrupted', error_code = ?2, error = ?3 \
             WHERE outcome = 'started' \
             AND (tenant_id, send_id) IN (SELECT value->>0, value->>1 FROM json_each(?1))",
        )
        .bind(json_rows(lost))
        .bind(INTERRUPTED)
        .bind(INTERRUPTED_TEXT)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    write_sends(conn, sends, now).await?;
    if !blocked.is_empty() {
        sqlx::query(
            "UPDATE status_sends SET state = 'blocked', updated_at = ?2 \
             FROM (SELECT value->>0 AS t, value->>1 AS o, value->>2 AS seq FROM json_each(?1)) AS v \
             WHERE status_sends.tenant_id = v.t AND status_sends.order_id = v.o \
             AND status_sends.seq > v.seq AND status_sends.state = 'pending'",
        )
        .bind(json_rows(blocked))
        .bind(ts(now))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    if !attempts.is_empty() {
        let rows = attempts
            .iter()
            .map(|a| {
                let (outcome, code, error) = if a.interrupted {
                    (
                        AttemptOutcome::Interrupted,
                        Some(INTERRUPTED),
                        Some(INTERRUPTED_TEXT),
                    )
                } else {
                    (AttemptOutcome::Started, None, None)
                };
                json!([a.tenant, a.send, a.n, outcome.as_str(), code, error])
            })
            .collect();
        sqlx::query(
            "INSERT INTO send_attempts (tenant_id, send_id, n, started_at, outcome, error_code, error) \
             SELECT value->>0, value->>1, value->>2, ?2, value->>3, value->>4, value->>5 FROM json_each(?1)",
        )
        .bind(json_rows(rows))
        .bind(ts(now))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
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

    /// Two jobs of one batch on one order act one after the other.
    #[tokio::test]
    async fn a_batch_begins_in_order() {
        let (_dir, s, now, [s1, _], jobs) = seed(2).await;
        let jobs: Vec<_> = jobs.into_iter().map(|(l, (_, j))| (l, j)).collect();
        // The first sees the second running and ends; the second takes the head.
        let b = s.begin_sends(&jobs, now).await.unwrap();
        let SendBegin::Started(first) = &b[1] else {
            panic!("{b:?}")
        };
        assert_eq!(
            (&b[0], first.id, first.attempts[0].n),
            (&SendBegin::Idle, s1, 1)
        );
        let left = strings(&s, "SELECT id FROM jobs").await;
        assert_eq!(left, [jobs[1].0.job_id.to_string()]);
    }
}
