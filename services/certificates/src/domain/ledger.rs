//! Rules 3 and 7: every money movement of a certificate in a period is a ledger entry, and
//! its balance is derived from the entries, never stored beside them.
//!
//! - a **credit** puts the period's nominal on a funded certificate, once;
//! - a **reserve** sets aside the remaining months of an enrolment when the provider accepts
//!   it, only if the available balance covers it (otherwise nothing is reserved);
//! - a **charge** moves one approved month from the enrolment's reservation to spent, never
//!   twice for the same month and never beyond what is reserved;
//! - a **release** returns what is still reserved when an enrolment ends.
//!
//! So: reserved (outstanding) = reserves − releases − charges, available = credits − charges
//! − reserved, and both stay at or above zero.

use std::collections::BTreeSet;

use super::money::MoneyOverflow;
use super::period::YearMonth;
use super::{CertificateError, Money, Transition};

/// What moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// The period's nominal, credited.
    Credit,
    /// Set aside for an enrolment.
    Reserve {
        /// The enrolment.
        enrolment: String,
    },
    /// Returned from an enrolment's reservation.
    Release {
        /// The enrolment.
        enrolment: String,
    },
    /// One month of an enrolment, spent.
    Charge {
        /// The enrolment.
        enrolment: String,
        /// The month delivered.
        month: YearMonth,
    },
}

/// One movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What moved.
    pub kind: EntryKind,
    /// How much; always positive.
    pub amount: Money,
}

/// A certificate's money in one period, as the sums a statement shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    /// Credited.
    pub credited: Money,
    /// Still set aside for enrolments.
    pub reserved: Money,
    /// Spent on delivered months.
    pub charged: Money,
    /// Returned from reservations over the period.
    pub released: Money,
    /// What new enrolments may use: credited − charged − reserved.
    pub available: Money,
}

/// The totals of a ledger's entries by kind, as a query that sums them returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sums {
    /// Credited.
    pub credits: Money,
    /// Ever reserved.
    pub reserves: Money,
    /// Ever released.
    pub releases: Money,
    /// Ever charged.
    pub charges: Money,
}

impl Balance {
    /// The balance from the totals: reserved (outstanding) = reserves − releases − charges,
    /// available = credits − charges − reserved.
    pub fn from_sums(sums: Sums) -> Result<Balance, MoneyOverflow> {
        let reserved = sums.reserves.minus(sums.releases)?.minus(sums.charges)?;
        Ok(Balance {
            credited: sums.credits,
            reserved,
            charged: sums.charges,
            released: sums.releases,
            available: sums.credits.minus(sums.charges)?.minus(reserved)?,
        })
    }
}

/// The ledger of one certificate in one period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ledger {
    entries: Vec<Entry>,
}

impl Ledger {
    /// A ledger holding `entries`, as stored.
    pub fn from_entries(entries: Vec<Entry>) -> Self {
        Ledger { entries }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The sums, derived from the entries.
    pub fn balance(&self) -> Result<Balance, MoneyOverflow> {
        let mut sums = Sums::default();
        for entry in &self.entries {
            let sum = match entry.kind {
                EntryKind::Credit => &mut sums.credits,
                EntryKind::Reserve { .. } => &mut sums.reserves,
                EntryKind::Release { .. } => &mut sums.releases,
                EntryKind::Charge { .. } => &mut sums.charges,
            };
            *sum = sum.plus(entry.amount)?;
        }
        Balance::from_sums(sums)
    }

    /// What is still reserved for one enrolment.
    pub fn reserved_for(&self, enrolment: &str) -> Result<Money, MoneyOverflow> {
        self.entries
            .iter()
            .try_fold(Money::ZERO, |reserved, e| match &e.kind {
                EntryKind::Reserve { enrolment: id } if id == enrolment => reserved.plus(e.amount),
                EntryKind::Release { enrolment: id } | EntryKind::Charge { enrolment: id, .. }
                    if id == enrolment =>
                {
                    reserved.minus(e.amount)
                }
                _ => Ok(reserved),
            })
    }

    /// The months charged to one enrolment.
    pub fn charged_months(&self, enrolment: &str) -> BTreeSet<YearMonth> {
        self.entries
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Charge {
                    enrolment: id,
                    month,
                } if id == enrolment => Some(*month),
                _ => None,
            })
            .collect()
    }

    fn push(&mut self, kind: EntryKind, amount: Money) -> Result<(), CertificateError> {
        if !amount.is_positive() {
            return Err(CertificateError::NonPositiveAmount(amount));
        }
        self.entries.push(Entry { kind, amount });
        Ok(())
    }

    /// Rule 2: credits the period's nominal, once per period.
    pub fn credit(&mut self, nominal: Money) -> Result<Transition, CertificateError> {
        if self.entries.iter().any(|e| e.kind == EntryKind::Credit) {
            return Ok(Transition::Unchanged);
        }
        self.push(EntryKind::Credit, nominal)?;
        Ok(Transition::Changed)
    }

    /// Rule 5: reserves an enrolment's cost, or refuses with nothing reserved when the
    /// available balance is short. A free programme reserves nothing.
    pub fn reserve(&mut self, enrolment: &str, cost: Money) -> Result<(), CertificateError> {
        if cost == Money::ZERO {
            return Ok(());
        }
        let available = self.balance()?.available;
        if cost > available {
            return Err(CertificateError::InsufficientBalance {
                available,
                needed: cost,
            });
        }
        self.push(
            EntryKind::Reserve {
                enrolment: enrolment.into(),
            },
            cost,
        )
    }

    /// Rules 6 and 7: charges one delivered month from the enrolment's reservation; a month
    /// already charged is a no-op, a charge beyond the reservation is refused.
    pub fn charge(
        &mut self,
        enrolment: &str,
        month: YearMonth,
        price: Money,
    ) -> Result<Transition, CertificateError> {
        if self.charged_months(enrolment).contains(&month) {
            return Ok(Transition::Unchanged);
        }
        let reserved = self.reserved_for(enrolment)?;
        if price > reserved {
            return Err(CertificateError::NoReservation {
                reserved,
                charge: price,
            });
        }
        self.push(
            EntryKind::Charge {
                enrolment: enrolment.into(),
                month,
            },
            price,
        )?;
        Ok(Transition::Changed)
    }

    /// Rule 6: ending an enrolment releases what is still reserved for it; returns the
    /// amount (zero when nothing was left).
    pub fn release(&mut self, enrolment: &str) -> Result<Money, MoneyOverflow> {
        self.release_beyond(enrolment, Money::ZERO)
    }

    /// Rule 6: releases what is reserved for an enrolment beyond `keep` (the delivered
    /// months still to be charged); returns the amount released.
    pub fn release_beyond(&mut self, enrolment: &str, keep: Money) -> Result<Money, MoneyOverflow> {
        let left = self.reserved_for(enrolment)?.minus(keep)?;
        if !left.is_positive() {
            return Ok(Money::ZERO);
        }
        self.entries.push(Entry {
            kind: EntryKind::Release {
                enrolment: enrolment.into(),
            },
            amount: left,
        });
        Ok(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn month(m: i8) -> YearMonth {
        YearMonth {
            year: 2025,
            month: m,
        }
    }

    fn rub(r: i64) -> Money {
        Money::from_kopecks(r * 100)
    }

    #[test]
    fn rule_2_a_period_is_credited_once() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.credit(rub(6_000)), Ok(Transition::Changed));
        assert_eq!(ledger.credit(rub(6_000)), Ok(Transition::Unchanged));
        assert_eq!(ledger.balance().expect("in range").credited, rub(6_000));
    }

    #[test]
    fn rule_5_a_reservation_the_balance_cannot_cover_reserves_nothing() {
        let mut ledger = Ledger::default();
        ledger.credit(rub(6_000)).expect("credited");
        ledger.reserve("chess", rub(4_000)).expect("covered");
        assert_eq!(
            ledger.reserve("robotics", rub(2_500)),
            Err(CertificateError::InsufficientBalance {
                available: rub(2_000),
                needed: rub(2_500)
            })
        );
        assert_eq!(ledger.entries().len(), 2, "nothing reserved");
        assert_eq!(
            ledger.reserve("choir", Money::ZERO),
            Ok(()),
            "a free programme"
        );
    }

    #[test]
    fn rules_6_and_7_a_month_is_charged_once_from_the_reservation_and_the_rest_released() {
        let mut ledger = Ledger::default();
        ledger.credit(rub(6_000)).expect("credited");
        ledger
            .reserve("chess", rub(1_500))
            .expect("three months at 500");
        assert_eq!(
            ledger.charge("chess", month(6), rub(500)),
            Ok(Transition::Changed)
        );
        assert_eq!(
            ledger.charge("chess", month(6), rub(500)),
            Ok(Transition::Unchanged)
        );
        assert_eq!(
            ledger.charge("robotics", month(6), rub(500)),
            Err(CertificateError::NoReservation {
                reserved: Money::ZERO,
                charge: rub(500)
            })
        );
        assert_eq!(ledger.release("chess"), Ok(rub(1_000)));
        assert_eq!(
            ledger.release("chess"),
            Ok(Money::ZERO),
            "nothing left to release"
        );
        assert_eq!(
            ledger.balance().expect("in range"),
            Balance {
                credited: rub(6_000),
                reserved: Money::ZERO,
                charged: rub(500),
                released: rub(1_000),
                available: rub(5_500),
            }
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Reserve(u8, i64),
        Charge(u8, i8, i64),
        Release(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, 0i64..3_000).prop_map(|(e, r)| Op::Reserve(e, r)),
            (0u8..6, 1i8..13, 1i64..800).prop_map(|(e, m, r)| Op::Charge(e, m, r)),
            (0u8..6).prop_map(Op::Release),
        ]
    }

    proptest! {
        /// Rules 3 and 7 under any sequence of operations: the balance identity holds,
        /// nothing goes negative, no month is charged twice, no charge exceeds what was
        /// reserved for its enrolment.
        #[test]
        fn rules_3_and_7_hold_after_every_operation(
            nominal in 0i64..20_000,
            ops in proptest::collection::vec(op(), 0..60),
        ) {
            let mut ledger = Ledger::default();
            if nominal > 0 {
                ledger.credit(rub(nominal)).expect("credited");
            }
            for op in ops {
                let before = ledger.entries().len();
                let refused = match op {
                    Op::Reserve(e, r) => ledger.reserve(&format!("e{e}"), rub(r)).is_err(),
                    Op::Charge(e, m, r) => ledger.charge(&format!("e{e}"), month(m), rub(r)).is_err(),
                    Op::Release(e) => ledger.release(&format!("e{e}")).is_err(),
                };
                if refused {
                    prop_assert_eq!(ledger.entries().len(), before, "a refusal writes nothing");
                }
                let b = ledger.balance().expect("bounded amounts stay in range");
                prop_assert_eq!(Ok(b.available), b.credited.minus(b.charged).and_then(|m| m.minus(b.reserved)));
                prop_assert!(b.available >= Money::ZERO, "{:?}", b);
                prop_assert!(b.reserved >= Money::ZERO, "{:?}", b);
                for e in 0..6 {
                    let id = format!("e{e}");
                    prop_assert!(ledger.reserved_for(&id).expect("in range") >= Money::ZERO);
                    let charges: Vec<YearMonth> = ledger.entries().iter().filter_map(|x| match &x.kind {
                        EntryKind::Charge { enrolment, month } if *enrolment == id => Some(*month),
                        _ => None,
                    }).collect();
                    let distinct: BTreeSet<_> = charges.iter().collect();
                    prop_assert_eq!(charges.len(), distinct.len(), "a month charged twice");
                }
            }
        }
    }
}
