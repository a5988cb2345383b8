//! Prometheus metrics.

use crate::figures::DbFigures;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabel {
    platform: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    kind: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabel {
    record: String,
}

struct Inner {
    registry: Registry,
    deliveries: Family<ResultLabel, Counter>,
    imports: Family<ResultLabel, Counter>,
    calls: Family<CallLabel, Counter>,
    jobs: Family<StateLabel, Gauge>,
    import_latency: Histogram,
    ingest_batch: Histogram,
    sends: Family<ResultLabel, Counter>,
    send_latency: Histogram,
    task_runs: Family<TaskLabel, Counter>,
    polled: Family<ResultLabel, Counter>,
    poll_gaps: Family<ChannelLabel, Counter>,
    database_bytes: Gauge,
    figures_read_at: Gauge<f64, AtomicU64>,
    retention_deleted: Family<RecordLabel, Counter>,
    panics: Family<KindLabel, Counter>,
}

/// ponte's metrics, cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ponte");
        let deliveries = Family::<ResultLabel, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Inbound webhooks by result",
            deliveries.clone(),
        );
        let imports = Family::<ResultLabel, Counter>::default();
        registry.register("imports", "Import job results", imports.clone());
        let calls = Family::<CallLabel, Counter>::default();
        registry.register(
            "platform_calls",
            "Calls to platforms by HTTP status",
            calls.clone(),
        );
        let jobs = Family::<StateLabel, Gauge>::default();
        registry.register("jobs", "Jobs by state", jobs.clone());
        let import_latency = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "import_latency_seconds",
            "From webhook accepted to order stored",
            import_latency.clone(),
        );
        let ingest_batch = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register(
            "ingest_batch_size",
            "Deliveries per inbox commit",
            ingest_batch.clone(),
        );
        let sends = Family::<ResultLabel, Counter>::default();
        registry.register(
            "status_send_attempts",
            "Status send attempts by outcome",
            sends.clone(),
        );
        let send_latency = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "status_send_latency_seconds",
            "From ERP action to the platform's answer of the first attempt",
            send_latency.clone(),
        );
        let task_runs = Family::<TaskLabel, Counter>::default();
        registry.register(
            "task_runs",
            "Scheduled task runs by kind and result",
            task_runs.clone(),
        );
        let polled = Family::<ResultLabel, Counter>::default();
        registry.register(
            "polled_orders",
            "Orders read by polling and manual syncs, by import result",
            polled.clone(),
        );
        let poll_gaps = Family::<ChannelLabel, Counter>::default();
        registry.register(
            "poll_gaps",
            "Orders polling created or changed that no webhook had announced",
            poll_gaps.clone(),
        );
        let database_bytes = Gauge::default();
        registry.register(
            "database_size_bytes",
            "Size of the database in bytes (as last read)",
            database_bytes.clone(),
        );
        let figures_read_at = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "database_figures_read_timestamp_seconds",
            "When the job counts and database size were last read (unix time)",
            figures_read_at.clone(),
        );
        let retention_deleted = Family::<RecordLabel, Counter>::default();
        registry.register(
            "retention_deleted",
            "Records deleted by the retention sweep",
            retention_deleted.clone(),
        );
        let panics = Family::<KindLabel, Counter>::default();
        registry.register(
            "panics",
            "Panics caught, by job kind or worker loop",
            panics.clone(),
        );
        Self(Arc::new(Inner {
            database_bytes,
            figures_read_at,
            retention_deleted,
            panics,
            task_runs,
            polled,
            poll_gaps,
            sends,
            send_latency,
            registry,
            deliveries,
            imports,
            calls,
            jobs,
            import_latency,
            ingest_batch,
        }))
    }

    /// Counts one inbound webhook by result.
    pub fn delivery(&self, result: &str) {
        self.0
            .deliveries
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    pub(crate) fn import(&self, result: &str, latency_secs: Option<f64>) {
        self.0
            .imports
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
        if let Some(l) = latency_secs {
            self.0.import_latency.observe(l);
        }
    }

    pub(crate) fn send(&self, outcome: &str, latency_secs: Option<f64>) {
        self.0
            .sends
            .get_or_create(&ResultLabel {
                result: outcome.into(),
            })
            .inc();
        if let Some(l) = latency_secs {
            self.0.send_latency.observe(l);
        }
    }

    pub(crate) fn call(&self, platform: &str, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
        self.0
            .calls
            .get_or_create(&CallLabel {
                platform: platform.into(),
                status,
            })
            .inc();
    }

    pub(crate) fn task_run(&self, kind: &str, result: &str) {
        self.0
            .task_runs
            .get_or_create(&TaskLabel {
                kind: kind.into(),
                result: result.into(),
            })
            .inc();
    }

    pub(crate) fn polled(&self, result: &str, n: u64) {
        self.0
            .polled
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc_by(n);
    }

    pub(crate) fn poll_gaps(&self, channel: &str, n: u64) {
        self.0
            .poll_gaps
            .get_or_create(&ChannelLabel {
                channel: channel.into(),
            })
            .inc_by(n);
    }

    pub(crate) fn panic(&self, kind: &str) {
        self.0
            .panics
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub(crate) fn ingest_batch(&self, n: usize) {
        self.0.ingest_batch.observe(n as f64);
    }

    pub(crate) fn retention_deleted(&self, record: &str, n: u64) {
        self.0
            .retention_deleted
            .get_or_create(&RecordLabel {
                record: record.into(),
            })
            .inc_by(n);
    }

    /// Sets the database gauges from the last figures read (none yet: left unset) and
    /// renders the text exposition format.
    pub(crate) fn render(&self, figures: Option<&DbFigures>) -> String {
        if let Some(f) = figures {
            for (state, n) in [
                ("pending", f.jobs.pending),
                ("running", f.jobs.running),
                ("failed", f.jobs.failed),
            ] {
                self.0
                    .jobs
                    .get_or_create(&StateLabel {
                        state: state.into(),
                    })
                    .set(n);
            }
            self.0
                .database_bytes
                .set(i64::try_from(f.database_bytes).unwrap_or(i64::MAX));
            self.0
                .figures_read_at
                .set(f.read_at.timestamp_millis() as f64 / 1000.0);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.0.registry).is_err() {
            out.clear();
        }
        out
    }
}
