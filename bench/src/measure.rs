//! What the benchmarks measure besides time: CPU seconds of each process (the driver, the
//! gateway, each service, and the Postgres backends serving the bench's database), resident
//! memory, and the statements Postgres executed (from `pg_stat_statements`, when the server
//! loads it, as the bench's own cluster does).

use sqlx::PgPool;

use edu_devstack::suite::Suite;

/// Clock ticks per second of `/proc` CPU times (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds a process has used (user and system), from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ") ".
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

/// Resident memory of a process, in KiB, from `/proc` (Linux).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The suite's processes: the gateway and each service.
pub fn suite_processes(suite: &Suite) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    if let Some(pid) = suite.gateway().pid() {
        out.push(("gateway".to_string(), pid));
    }
    for service in suite.services() {
        if let Some(pid) = service.pid() {
            out.push((service.name().to_string(), pid));
        }
    }
    out
}

/// Resident memory of the suite's processes now, in KiB.
pub fn suite_rss(suite: &Suite) -> Vec<(String, u64)> {
    suite_processes(suite)
        .into_iter()
        .map(|(name, pid)| (name, rss_kib(pid)))
        .collect()
}

async fn backends(admin: &PgPool, database: &str) -> Vec<u32> {
    sqlx::query_scalar::<_, i32>("SELECT pid FROM pg_stat_activity WHERE datname = $1")
        .bind(database)
        .fetch_all(admin)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

/// CPU used during a side, charged to the driver (this process), the gateway, each service
/// and Postgres: every backend serving the bench's database, those that connected during
/// the side included.
#[derive(Debug)]
pub struct CpuMeter {
    named: Vec<(String, u32, f64)>,
    postgres: std::collections::HashMap<u32, f64>,
}

impl CpuMeter {
    /// Starts counting.
    pub async fn start(suite: &Suite, admin: &PgPool, database: &str) -> CpuMeter {
        let mut named = vec![("driver".to_string(), std::process::id())];
        named.extend(suite_processes(suite));
        CpuMeter {
            named: named
                .into_iter()
                .map(|(name, pid)| (name, pid, cpu_seconds(pid)))
                .collect(),
            postgres: backends(admin, database)
                .await
                .into_iter()
                .map(|pid| (pid, cpu_seconds(pid)))
                .collect(),
        }
    }

    /// CPU seconds used since the start, per process.
    pub async fn stop(&self, admin: &PgPool, database: &str) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self
            .named
            .iter()
            .map(|(name, pid, before)| (name.clone(), cpu_seconds(*pid) - before))
            .collect();
        let postgres: f64 = backends(admin, database)
            .await
            .into_iter()
            .map(|pid| cpu_seconds(pid) - self.postgres.get(&pid).copied().unwrap_or(0.0))
            .sum();
        out.push(("postgres".to_string(), postgres));
        out
    }
}

/// CPU seconds per process as milliseconds per call.
pub fn per_call(cpu: &[(String, f64)], calls: usize) -> Vec<(String, f64)> {
    cpu.iter()
        .map(|(name, seconds)| (name.clone(), seconds * 1000.0 / calls.max(1) as f64))
        .collect()
}

/// Statements Postgres executed, per role, in the bench's database, from
/// `pg_stat_statements`; `None` where the server does not load it.
#[derive(Debug, Clone)]
pub struct Statements {
    available: bool,
}

impl Statements {
    /// Whether the server counts statements (the bench's own cluster loads the module).
    pub async fn detect(admin: &PgPool) -> Statements {
        let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(admin)
            .await;
        let available = sqlx::query("SELECT count(*) FROM pg_stat_statements")
            .execute(admin)
            .await
            .is_ok();
        Statements { available }
    }

    /// Forgets what was counted.
    pub async fn reset(&self, admin: &PgPool) {
        if self.available {
            let _ = sqlx::query("SELECT pg_stat_statements_reset()")
                .execute(admin)
                .await;
        }
    }

    /// Statements executed by `role` in `database` since the last reset, by their first line
    /// (a hot path's `-- hot path: …` marker, else the statement's beginning): how many, and
    /// the milliseconds Postgres spent executing them.
    pub async fn tally(
        &self,
        admin: &PgPool,
        database: &str,
        role: &str,
    ) -> Option<Vec<StatementTally>> {
        if !self.available {
            return None;
        }
        let rows: Vec<(String, i64, f64)> = sqlx::query_as(
            "SELECT left(split_part(btrim(s.query), E'\n', 1), 72) AS label,
                    sum(s.calls)::bigint, sum(s.total_exec_time)::float8
             FROM pg_stat_statements s
             JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid
             WHERE d.datname = $1 AND r.rolname = $2
             GROUP BY label",
        )
        .bind(database)
        .bind(role)
        .fetch_all(admin)
        .await
        .ok()?;
        Some(
            rows.into_iter()
                .map(|(label, calls, exec_ms)| StatementTally {
                    label,
                    calls,
                    exec_ms,
                })
                .collect(),
        )
    }
}

/// Statements of one kind (the same first line) and Postgres's time executing them.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementTally {
    /// The statement's first line.
    pub label: String,
    /// How many were executed (per call, once divided).
    pub calls: i64,
    /// Milliseconds Postgres spent executing them (parse, plan and network not included).
    pub exec_ms: f64,
}

/// Adds `round` to `sums`, statement by statement.
pub fn add_tallies(sums: &mut Vec<StatementTally>, round: Vec<StatementTally>) {
    for t in round {
        match sums.iter_mut().find(|s| s.label == t.label) {
            Some(sum) => {
                sum.calls += t.calls;
                sum.exec_ms += t.exec_ms;
            }
            None => sums.push(t),
        }
    }
}
