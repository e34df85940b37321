//! Amounts of money in whole kopecks (hundredths of a rouble), so that sums are exact, with
//! arithmetic that cannot overflow silently: every operation is checked and says when it
//! would leave the range, and the amounts callers may send are bounded far below it
//! ([`MAX_MONTHLY_PRICE`], [`MAX_NOMINAL`]), so that no sum of a certificate's ledger comes
//! near it.

use std::fmt;

/// The highest monthly price of a programme: 1 000 000 ₽.
pub const MAX_MONTHLY_PRICE: Money = Money(100_000_000);
/// The highest nominal of a period: 10 000 000 ₽.
pub const MAX_NOMINAL: Money = Money(1_000_000_000);

/// An amount in kopecks. Ledger amounts are positive; balances may be computed as any sign
/// and are checked by the rules that use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// An operation on amounts whose result does not fit: a bug or out-of-range stored data,
/// never a value a caller could send (those are bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the amount is out of range")]
pub struct MoneyOverflow;

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);

    /// `kopecks` kopecks.
    pub const fn from_kopecks(kopecks: i64) -> Self {
        Money(kopecks)
    }

    /// Whole roubles, for amounts written in the code (demo data, tests); callers' amounts
    /// arrive in kopecks. Past the range it panics, at compile time in a constant.
    pub const fn from_roubles(roubles: i64) -> Self {
        match roubles.checked_mul(100) {
            Some(kopecks) => Money(kopecks),
            None => panic!("an amount of roubles beyond the range of kopecks"),
        }
    }

    /// The amount in kopecks.
    pub const fn kopecks(self) -> i64 {
        self.0
    }

    /// Whether the amount is above zero.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// `self + other`.
    pub fn plus(self, other: Money) -> Result<Money, MoneyOverflow> {
        self.0.checked_add(other.0).map(Money).ok_or(MoneyOverflow)
    }

    /// `self - other`.
    pub fn minus(self, other: Money) -> Result<Money, MoneyOverflow> {
        self.0.checked_sub(other.0).map(Money).ok_or(MoneyOverflow)
    }

    /// `self × times`: a monthly price over several months.
    pub fn times(self, times: u32) -> Result<Money, MoneyOverflow> {
        self.0
            .checked_mul(i64::from(times))
            .map(Money)
            .ok_or(MoneyOverflow)
    }

    /// The sum of `amounts`.
    pub fn total(amounts: impl IntoIterator<Item = Money>) -> Result<Money, MoneyOverflow> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |sum, amount| sum.plus(amount))
    }

    /// Whether the amount is between zero and `max`, inclusive.
    pub fn within(self, max: Money) -> bool {
        Money::ZERO <= self && self <= max
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
    use proptest::prelude::*;

    #[test]
    fn amounts_print_as_roubles_and_kopecks() {
        assert_eq!(Money::from_kopecks(123_450).to_string(), "1234.50");
        assert_eq!(Money::from_kopecks(-5).to_string(), "-0.05");
        assert_eq!(
            Money::from_roubles(600).times(3),
            Ok(Money::from_roubles(1800))
        );
    }

    #[test]
    fn the_issues_example_overflows_instead_of_reserving_two_kopecks() {
        // 2049638230412172402 × 9 wraps to 2 in unchecked i64 arithmetic.
        let price = Money::from_kopecks(2_049_638_230_412_172_402);
        assert_eq!(price.times(9), Err(MoneyOverflow));
        assert!(!price.within(MAX_MONTHLY_PRICE));
    }

    proptest! {
        /// Checked arithmetic agrees with exact (128-bit) arithmetic, or says it overflowed;
        /// it never wraps.
        #[test]
        fn checked_arithmetic_never_wraps(a in any::<i64>(), b in any::<i64>(), n in any::<u32>()) {
            let (x, y) = (Money::from_kopecks(a), Money::from_kopecks(b));
            let exact_sum = i128::from(a) + i128::from(b);
            match x.plus(y) {
                Ok(sum) => prop_assert_eq!(i128::from(sum.kopecks()), exact_sum),
                Err(MoneyOverflow) => prop_assert!(i64::try_from(exact_sum).is_err()),
            }
            let exact_difference = i128::from(a) - i128::from(b);
            match x.minus(y) {
                Ok(difference) => prop_assert_eq!(i128::from(difference.kopecks()), exact_difference),
                Err(MoneyOverflow) => prop_assert!(i64::try_from(exact_difference).is_err()),
            }
            let exact_product = i128::from(a) * i128::from(n);
            match x.times(n) {
                Ok(product) => prop_assert_eq!(i128::from(product.kopecks()), exact_product),
                Err(MoneyOverflow) => prop_assert!(i64::try_from(exact_product).is_err()),
            }
        }

        /// Within the bounds callers may send, a whole period of months at the highest
        /// price never overflows, nor does a certificate's ledger of many such enrolments.
        #[test]
        fn bounded_amounts_never_overflow(price in 0i64..=MAX_MONTHLY_PRICE.kopecks(), months in 1u32..=12, enrolments in 1usize..=1_000) {
            let cost = Money::from_kopecks(price).times(months);
            prop_assert!(cost.is_ok());
            let costs = std::iter::repeat_n(cost.unwrap_or_default(), enrolments);
            prop_assert!(Money::total(costs).is_ok());
        }
    }
}
