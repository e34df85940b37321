//! Amounts of money in whole kopecks (hundredths of a rouble), so that sums are exact.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Mul, Sub};

/// An amount in kopecks. Ledger amounts are positive; balances may be computed as any sign
/// and are checked by the rules that use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);

    /// `kopecks` kopecks.
    pub const fn from_kopecks(kopecks: i64) -> Self {
        Money(kopecks)
    }

    /// Whole roubles.
    pub const fn from_roubles(roubles: i64) -> Self {
        Money(roubles * 100)
    }

    /// The amount in kopecks.
    pub const fn kopecks(self) -> i64 {
        self.0
    }

    /// Whether the amount is above zero.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        Money(self.0 - other.0)
    }
}

impl Mul<u32> for Money {
    type Output = Money;
    fn mul(self, times: u32) -> Money {
        Money(self.0 * i64::from(times))
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl fmt::Display for Money {
    /// `1234.50`: roubles and kopecks, as statements print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_as_roubles_and_kopecks() {
        assert_eq!(Money::from_kopecks(123_450).to_string(), "1234.50");
        assert_eq!(Money::from_kopecks(-5).to_string(), "-0.05");
        assert_eq!(Money::from_roubles(600) * 3, Money::from_roubles(1800));
    }
}
