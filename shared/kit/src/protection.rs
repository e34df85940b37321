//! Protection of a process from its callers (the gateway's item 3): a ceiling of calls being
//! handled at once, beyond which calls are shed, and a rate limit per caller (the token's
//! subject, else the peer's address), so that one system calling in a loop cannot take the
//! capacity every other caller shares. Both answer `RESOURCE_EXHAUSTED` with a
//! `google.rpc.RetryInfo` saying when to try again, and both run inside the call pipeline,
//! so a refused call is counted in the per-RPC metrics like any other answer.
//!
//! The rate limit is GCRA (the `governor` crate): a caller may spend `burst` calls at once
//! and then `per_second` calls a second; one caller's state is a few bytes, and callers
//! not seen for a while are forgotten by [`Protection::forget_idle`].

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ErrorKind, Reason};

/// The reasons of this module's refusals.
pub mod reason {
    use super::Reason;

    /// The caller made more calls than its rate allows.
    pub const RATE_LIMITED: Reason =
        Reason::new("RATE_LIMITED", "Слишком много запросов; повторите позже.");
    /// The process is handling as many calls as it takes at once.
    pub const OVERLOADED: Reason =
        Reason::new("OVERLOADED", "Служба перегружена; повторите запрос позже.");
}

/// How long a shed caller is told to wait: the time a typical call takes to finish.
const SHED_RETRY: Duration = Duration::from_millis(100);

/// A caller as the rate limit counts it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallerKey {
    /// A verified token's subject.
    Subject(String),
    /// An anonymous caller's address (see [`CallerKey::peer`]).
    Peer(IpAddr),
    /// An anonymous caller whose address is unknown (all such share one allowance).
    Unknown,
}

impl CallerKey {
    /// The key of a peer address: an IPv4 address as it is, an IPv6 address by its /64
    /// prefix, the block one site is given, so that rotating through it does not buy a
    /// fresh allowance per address.
    pub fn peer(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => CallerKey::Peer(addr),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => CallerKey::Peer(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    CallerKey::Peer(IpAddr::V6(prefix.into()))
                }
            },
        }
    }
}

/// Callers remembered before idle ones are forgotten at once rather than at the next
/// minute's sweep: memory stays bounded whatever a flood of new keys does.
const REMEMBERED_CALLERS: usize = 100_000;

/// The limits, as configured (`EDU_MAX_CALLS_IN_FLIGHT`, `EDU_RATE_LIMIT_PER_SECOND`,
/// `EDU_RATE_LIMIT_BURST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectionLimits {
    /// Calls handled at once before further ones are shed; 0 for no ceiling.
    pub max_calls_in_flight: usize,
    /// Calls a second per caller; 0 for no rate limit.
    pub rate_per_second: u32,
    /// Calls a caller may make at once before the rate applies (at least 1).
    pub rate_burst: u32,
}

/// The ceiling and the rate limit of one process; cheap to clone.
#[derive(Clone)]
pub struct Protection {
    in_flight: Option<Arc<Semaphore>>,
    rate: Option<Arc<DefaultKeyedRateLimiter<CallerKey>>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protection")
            .field("ceiling", &self.in_flight.is_some())
            .field("rate_limit", &self.rate.is_some())
            .finish()
    }
}

/// A call admitted under the ceiling: the place is given back when this is dropped.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Protection {
    /// Protection with `limits`.
    pub fn new(limits: ProtectionLimits) -> Self {
        let in_flight = (limits.max_calls_in_flight > 0)
            .then(|| Arc::new(Semaphore::new(limits.max_calls_in_flight)));
        let rate = NonZeroU32::new(limits.rate_per_second).map(|per_second| {
            let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(per_second);
            Arc::new(RateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ))
        });
        Protection {
            in_flight,
            rate,
            clock: DefaultClock::default(),
        }
    }

    /// No limits at all.
    pub fn none() -> Self {
        Protection::new(ProtectionLimits {
            max_calls_in_flight: 0,
            rate_per_second: 0,
            rate_burst: 0,
        })
    }

    /// Whether a rate limit is set (the process then forgets idle callers periodically).
    pub fn limits_rate(&self) -> bool {
        self.rate.is_some()
    }

    /// Takes a place under the ceiling, or sheds the call with `OVERLOADED`.
    pub fn enter(&self) -> Result<Admitted, ApiError> {
        match &self.in_flight {
            None => Ok(Admitted(None)),
            Some(places) => match Arc::clone(places).try_acquire_owned() {
                Ok(permit) => Ok(Admitted(Some(permit))),
                Err(_) => Err(ApiError::new(
                    ErrorKind::ResourceExhausted,
                    reason::OVERLOADED,
                    "the service is handling as many calls as it takes at once; retry shortly",
                )
                .with_retry_after(SHED_RETRY)),
            },
        }
    }

    /// Counts a call of `caller` against its rate, or refuses it with `RATE_LIMITED` and
    /// the time until its next call is allowed.
    pub fn check_rate(&self, caller: &CallerKey) -> Result<(), ApiError> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        if rate.len() > REMEMBERED_CALLERS {
            rate.retain_recent();
        }
        rate.check_key(caller).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::new(
                ErrorKind::ResourceExhausted,
                reason::RATE_LIMITED,
                format!(
                    "this caller's rate limit is spent; retry in {} ms",
                    wait.as_millis().max(1)
                ),
            )
            .with_retry_after(wait.max(Duration::from_millis(1)))
        })
    }

    /// Forgets callers whose allowance is full again, keeping memory bounded by the
    /// callers of the last moments.
    pub fn forget_idle(&self) {
        if let Some(rate) = &self.rate {
            rate.retain_recent();
            rate.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_calls_in_flight: usize, rate_per_second: u32, rate_burst: u32) -> Protection {
        Protection::new(ProtectionLimits {
            max_calls_in_flight,
            rate_per_second,
            rate_burst,
        })
    }

    #[test]
    fn calls_beyond_the_ceiling_are_shed_until_a_place_is_given_back() {
        let protection = limits(2, 0, 0);
        let first = protection.enter().expect("first");
        let _second = protection.enter().expect("second");
        let shed = protection.enter().expect_err("third");
        assert_eq!(shed.reason.code(), "OVERLOADED");
        assert_eq!(shed.kind, ErrorKind::ResourceExhausted);
        drop(first);
        protection.enter().expect("a place is free again");
    }

    #[test]
    fn a_caller_over_its_burst_is_refused_with_the_wait_and_others_are_not() {
        let protection = limits(0, 1, 3);
        let busy = CallerKey::Subject("system-a".into());
        for _ in 0..3 {
            protection.check_rate(&busy).expect("within the burst");
        }
        let refused = protection.check_rate(&busy).expect_err("over the burst");
        assert_eq!(refused.reason.code(), "RATE_LIMITED");
        let status = tonic::Status::from(refused);
        let retry = tonic_types::StatusExt::get_details_retry_info(&status)
            .and_then(|info| info.retry_delay)
            .expect("a retry delay");
        assert!(
            retry > Duration::ZERO && retry <= Duration::from_secs(1),
            "{retry:?}"
        );
        protection
            .check_rate(&CallerKey::Subject("system-b".into()))
            .expect("another caller has its own allowance");
        protection
            .check_rate(&CallerKey::peer("10.0.0.7".parse().expect("ip")))
            .expect("and so has an address");
    }

    #[test]
    fn an_ipv6_caller_is_one_caller_across_its_64_block() {
        let a = CallerKey::peer("2001:db8:1:2:aaaa::1".parse().expect("ip"));
        let b = CallerKey::peer("2001:db8:1:2:ffff:1:2:3".parse().expect("ip"));
        let other = CallerKey::peer("2001:db8:1:3::1".parse().expect("ip"));
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(
            CallerKey::peer("::ffff:10.0.0.7".parse().expect("ip")),
            CallerKey::peer("10.0.0.7".parse().expect("ip")),
            "an IPv4 caller over IPv6 is the IPv4 caller"
        );
    }

    #[test]
    fn without_limits_everything_passes() {
        let protection = Protection::none();
        let _held: Vec<Admitted> = (0..1000)
            .map(|_| protection.enter().expect("no ceiling"))
            .collect();
        for _ in 0..1000 {
            protection.check_rate(&CallerKey::Unknown).expect("no rate");
        }
        protection.forget_idle();
    }
}
