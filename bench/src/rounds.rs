//! Sides of one comparison, run in alternating rounds and measured alike: each side warms up
//! unmeasured, then the sides take turns for [`ROUNDS`] rounds, so that a change in the
//! machine's load during the run falls on every side, and each round's CPU per process (and,
//! where asked, statements sent to Postgres) is added to its side's sums.

use std::future::Future;
use std::pin::Pin;

use sqlx::PgPool;

use edu_devstack::suite::Suite;

use super::drive::Driven;
use super::measure::{CpuMeter, StatementTally, Statements, add_tallies, per_call};

/// Rounds per side.
pub const ROUNDS: usize = 4;

/// Seconds of each side's unmeasured warm-up before the rounds (at most one round's): the
/// first round used to be the lowest every time (caches, connections and the planner's
/// statistics warming up weigh on whichever side runs first), which a ratio should not count.
const WARM_UP_SECONDS: f64 = 3.0;

/// A side's run: its calls from the given first index, for the given seconds.
type Run<'a> = Box<dyn Fn(usize, f64) -> Pin<Box<dyn Future<Output = Driven> + Send + 'a>> + 'a>;

/// One side: runs its calls for the given seconds, the first call's index given (a side that
/// writes must not repeat the objects of its earlier rounds).
pub struct Side<'a> {
    run: Run<'a>,
    /// The Postgres role whose statements are counted for this side, if any.
    statements_of: Option<String>,
}

impl std::fmt::Debug for Side<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Side")
            .field("statements_of", &self.statements_of)
            .finish_non_exhaustive()
    }
}

impl<'a> Side<'a> {
    /// A side that runs `run(first, seconds)`.
    pub fn new<F, Fut>(run: F) -> Self
    where
        F: Fn(usize, f64) -> Fut + 'a,
        Fut: Future<Output = Driven> + Send + 'a,
    {
        Side {
            run: Box::new(move |first, seconds| Box::pin(run(first, seconds))),
            statements_of: None,
        }
    }

    /// Counts the statements `role` sends during this side.
    pub fn counting_statements_of(mut self, role: impl Into<String>) -> Self {
        self.statements_of = Some(role.into());
        self
    }
}

/// What one side did over all its rounds.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Its calls.
    pub driven: Driven,
    /// Calls per second of each round.
    pub round_rates: Vec<f64>,
    /// CPU milliseconds per completed call, per process (the driver, the gateway, each
    /// service, Postgres).
    pub cpu_ms: Vec<(String, f64)>,
    /// Statements per completed call of the counted role, when counted.
    pub statements: Option<f64>,
    /// The counted role's statements by kind, most execution time first.
    pub statement_times: Vec<StatementTime>,
}

/// Statements of one kind per completed call.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementTime {
    /// The statement's first line.
    pub label: String,
    /// How many per completed call.
    pub count: f64,
    /// Postgres's execution milliseconds per completed call.
    pub exec_ms: f64,
}

impl Measured {
    /// The CPU milliseconds per call of the named processes only.
    pub fn cpu_of(&self, names: &[&str]) -> Vec<(String, f64)> {
        self.cpu_ms
            .iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .cloned()
            .collect()
    }
}

/// Where the rounds are measured: the suite's processes and the bench's database.
#[derive(Debug, Clone, Copy)]
pub struct Meter<'a> {
    /// The suite whose processes are measured.
    pub suite: &'a Suite,
    /// The administrator's pool of the bench's database.
    pub admin: &'a PgPool,
    /// The bench's database.
    pub database: &'a str,
    /// The statement counter.
    pub statements: &'a Statements,
}

/// Runs `sides` in alternating rounds for `seconds` each in all, after a warm-up of each.
pub async fn alternate(meter: Meter<'_>, sides: &[Side<'_>], seconds: f64) -> Vec<Measured> {
    let round_seconds = seconds / ROUNDS as f64;
    let warm_up = WARM_UP_SECONDS.min(round_seconds);
    let mut next: Vec<usize> = Vec::with_capacity(sides.len());
    for side in sides {
        next.push(1 + (side.run)(1, warm_up).await.calls());
    }
    let mut measured = vec![Measured::default(); sides.len()];
    let mut cpu_seconds: Vec<Vec<(String, f64)>> = vec![Vec::new(); sides.len()];
    let mut tallies: Vec<Option<Vec<StatementTally>>> = vec![Some(Vec::new()); sides.len()];
    for _ in 0..ROUNDS {
        for (i, side) in sides.iter().enumerate() {
            if side.statements_of.is_some() {
                meter.statements.reset(meter.admin).await;
            }
            let cpu = CpuMeter::start(meter.suite, meter.admin, meter.database).await;
            let round = (side.run)(next[i], round_seconds).await;
            add_seconds(
                &mut cpu_seconds[i],
                cpu.stop(meter.admin, meter.database).await,
            );
            if let Some(role) = &side.statements_of {
                let counted = meter
                    .statements
                    .tally(meter.admin, meter.database, role)
                    .await;
                tallies[i] = match (tallies[i].take(), counted) {
                    (Some(mut sums), Some(round)) => {
                        add_tallies(&mut sums, round);
                        Some(sums)
                    }
                    _ => None,
                };
            }
            next[i] += round.calls();
            measured[i].round_rates.push(round.rate());
            measured[i].driven.merge(round);
        }
    }
    for (i, side) in measured.iter_mut().enumerate() {
        let completed = side.driven.completed();
        side.cpu_ms = per_call(&cpu_seconds[i], completed);
        let per_call = |n: f64| n / completed.max(1) as f64;
        if let (Some(_), Some(sums)) = (&sides[i].statements_of, &tallies[i]) {
            side.statements = Some(per_call(sums.iter().map(|t| t.calls as f64).sum()));
            let mut times: Vec<StatementTime> = sums
                .iter()
                .map(|t| StatementTime {
                    label: t.label.clone(),
                    count: per_call(t.calls as f64),
                    exec_ms: per_call(t.exec_ms),
                })
                .collect();
            times.sort_by(|a, b| b.exec_ms.total_cmp(&a.exec_ms));
            side.statement_times = times;
        }
    }
    measured
}

/// `a / b` of each round.
pub fn round_ratios(a: &Measured, b: &Measured) -> Vec<f64> {
    a.round_rates
        .iter()
        .zip(&b.round_rates)
        .map(|(a, b)| ratio(*a, *b))
        .collect()
}

/// `a / b`, zero without a `b`.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Adds one round's CPU seconds per process to the sums.
fn add_seconds(sums: &mut Vec<(String, f64)>, round: Vec<(String, f64)>) {
    for (name, seconds) in round {
        match sums.iter_mut().find(|(n, _)| *n == name) {
            Some((_, sum)) => *sum += seconds,
            None => sums.push((name, seconds)),
        }
    }
}
