//! The one source of "now". Services never call `Timestamp::now()` themselves: they read the
//! instant a call arrived from its [`crate::context::CallContext`], which takes it from this
//! clock, so that tests can set time and deadlines can be tested to the minute.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

/// The metadata header that, in development mode only, sets the instant a call is judged at
/// (RFC 3339, for example `2025-01-31T23:59:00+03:00`). Production ignores it.
pub const CLOCK_OVERRIDE_HEADER: &str = "x-edu-clock";

/// A clock: the system's, or a manual one that tests set and advance.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that only moves when told to.
    Manual(Arc<Mutex<Timestamp>>),
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::System
    }

    /// A manual clock showing `at`.
    pub fn manual(at: Timestamp) -> Self {
        Clock::Manual(Arc::new(Mutex::new(at)))
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Manual(at) => *at.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Sets a manual clock; the system clock cannot be set and ignores this.
    pub fn set(&self, to: Timestamp) {
        if let Clock::Manual(at) = self {
            *at.lock().unwrap_or_else(|p| p.into_inner()) = to;
        }
    }

    /// Moves a manual clock forward (or back, for a negative span).
    pub fn advance(&self, by: SignedDuration) {
        if let Clock::Manual(at) = self {
            let mut at = at.lock().unwrap_or_else(|p| p.into_inner());
            *at = at.saturating_add(by).unwrap_or(*at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start: Timestamp = "2025-01-31T20:59:00Z".parse().expect("instant");
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_mins(1));
        assert_eq!(
            clock.now(),
            "2025-01-31T21:00:00Z"
                .parse::<Timestamp>()
                .expect("instant")
        );
        let shared = clock.clone();
        shared.set(start);
        assert_eq!(clock.now(), start, "clones share one clock");
    }
}
