//! Printing results and writing `bench-results/<scenario>.json`.

use serde_json::{json, Value};

/// Facts about the machine, so numbers can be compared across machines.
pub fn machine() -> Value {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let os = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "cores": cores,
        "memory_gib": (mem_kb as f64 / 1_048_576.0 * 10.0).round() / 10.0,
        "os": format!("{} {}", std::env::consts::OS, os.trim()),
        "arch": std::env::consts::ARCH,
        "ponte_version": env!("CARGO_PKG_VERSION"),
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

/// One printed row: figure, value, target, and whether the target is met.
pub struct Row {
    /// What.
    pub name: &'static str,
    /// Measured.
    pub value: String,
    /// Budget.
    pub target: String,
    /// Met?
    pub ok: Option<bool>,
}

/// Prints the table and writes the JSON file.
pub fn emit(
    scenario: &str,
    backend: &str,
    rows: &[Row],
    figures: Value,
    correct: bool,
) -> anyhow::Result<()> {
    println!("\n== {scenario} ({backend}) ==");
    println!("{:<38} {:>16} {:>16}  ", "figure", "value", "target");
    for r in rows {
        let mark = match r.ok {
            Some(true) => "ok",
            Some(false) => "MISSED",
            None => "",
        };
        println!("{:<38} {:>16} {:>16}  {mark}", r.name, r.value, r.target);
    }
    println!(
        "correctness check: {}",
        if correct { "passed" } else { "FAILED" }
    );
    std::fs::create_dir_all("bench-results")?;
    let table: Vec<Value> = rows
        .iter()
        .map(|r| json!({"figure": r.name, "value": r.value, "target": r.target, "met": r.ok}))
        .collect();
    let doc = json!({
        "scenario": scenario,
        "backend": backend,
        "at": chrono::Utc::now().to_rfc3339(),
        "machine": machine(),
        "rows": table,
        "figures": figures,
        "correct": correct,
    });
    let path = format!("bench-results/{scenario}-{backend}.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    println!("wrote {path}");
    if !correct {
        anyhow::bail!("{scenario}: the results were wrong");
    }
    Ok(())
}

/// Prints every figure with a target from the results written since `since`, and
/// writes them to `bench-results/summary.json`; the number of targets missed.
pub fn summary(since: chrono::DateTime<chrono::Utc>) -> anyhow::Result<usize> {
    let mut docs: Vec<Value> = std::fs::read_dir("bench-results")?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(|d| {
            d["at"]
                .as_str()
                .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                .is_some_and(|t| t >= since)
        })
        .collect();
    docs.sort_by_key(|d| d["at"].as_str().map(str::to_owned));
    println!(
        "
== summary: every figure with a target =="
    );
    println!(
        "{:<10} {:<22} {:<44} {:>14} {:>12}",
        "scenario", "backend", "figure", "value", "target"
    );
    let mut missed = 0;
    let mut lines = vec![];
    for d in &docs {
        for r in d["rows"].as_array().into_iter().flatten() {
            let Some(met) = r["met"].as_bool() else {
                continue;
            };
            missed += usize::from(!met);
            println!(
                "{:<10} {:<22} {:<44} {:>14} {:>12}  {}",
                d["scenario"].as_str().unwrap_or_default(),
                d["backend"].as_str().unwrap_or_default(),
                r["figure"].as_str().unwrap_or_default(),
                r["value"].as_str().unwrap_or_default(),
                r["target"].as_str().unwrap_or_default(),
                if met { "ok" } else { "MISSED" }
            );
            lines.push(json!({"scenario": d["scenario"], "backend": d["backend"], "row": r}));
        }
    }
    println!("correctness: every scenario passed its checks; targets missed: {missed}");
    let doc = json!({"at": chrono::Utc::now().to_rfc3339(), "machine": machine(), "targets": lines, "missed": missed});
    std::fs::write(
        "bench-results/summary.json",
        serde_json::to_string_pretty(&doc)?,
    )?;
    println!("wrote bench-results/summary.json");
    Ok(missed)
}
