//! Driving a side: `concurrency` callers calling one operation for a while, each call's
//! latency kept, and the percentiles of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How one call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Done,
    /// Refused by a rule: the work was done, the answer is no.
    Refused,
    /// Failed.
    Failed,
}

/// What a side did.
#[derive(Debug, Clone, Default)]
pub struct Driven {
    /// Latencies of the completed calls (done or refused), sorted.
    pub latencies: Vec<Duration>,
    /// Refusals among them.
    pub refusals: usize,
    /// Failures.
    pub failures: usize,
    /// How long the side ran.
    pub elapsed: Duration,
}

impl Driven {
    /// Completed calls per second.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.latencies.len() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The `p` quantile (0 to 1) of the latencies.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index.min(self.latencies.len() - 1)]
    }

    /// Completed calls.
    pub fn completed(&self) -> usize {
        self.latencies.len()
    }

    /// Calls made, completed or failed: each took one index.
    pub fn calls(&self) -> usize {
        self.latencies.len() + self.failures
    }

    /// Adds a later round of the same side.
    pub fn merge(&mut self, round: Driven) {
        self.latencies.extend(round.latencies);
        self.latencies.sort();
        self.refusals += round.refusals;
        self.failures += round.failures;
        self.elapsed += round.elapsed;
    }
}

/// Runs `concurrency` workers on `work(i)` for `seconds`, `i` counting from 1 up to `limit`
/// across all workers.
pub async fn drive<F, Fut>(concurrency: usize, seconds: f64, limit: usize, work: F) -> Driven
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Outcome> + Send,
{
    drive_from(1, concurrency, seconds, limit, work).await
}

/// [`drive`], with `i` counting from `first`: a later round of a side that must not repeat
/// the objects of the earlier ones.
pub async fn drive_from<F, Fut>(
    first: usize,
    concurrency: usize,
    seconds: f64,
    limit: usize,
    work: F,
) -> Driven
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Outcome> + Send,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(first));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let work = Arc::clone(&work);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut refusals, mut failures) = (0, 0);
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i > limit {
                        break;
                    }
                    let began = Instant::now();
                    match work(i).await {
                        Outcome::Done => latencies.push(began.elapsed()),
                        Outcome::Refused => {
                            latencies.push(began.elapsed());
                            refusals += 1;
                        }
                        Outcome::Failed => failures += 1,
                    }
                }
                (latencies, refusals, failures)
            })
        })
        .collect();
    let mut driven = Driven::default();
    for worker in workers {
        if let Ok((latencies, refusals, failures)) = worker.await {
            driven.latencies.extend(latencies);
            driven.refusals += refusals;
            driven.failures += failures;
        }
    }
    driven.elapsed = started.elapsed();
    driven.latencies.sort();
    driven
}

/// A deterministic pseudo-random index below `n` for the `i`-th call, so that both sides of a
/// comparison read the same objects.
pub fn pick(i: usize, n: usize) -> usize {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x % n.max(1) as u64) as usize
}
