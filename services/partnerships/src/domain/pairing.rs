//! Who may contract with whom (rules 2-4): the kind of a contract follows from its two
//! schools; each school's standing (its signed contracts in the year) limits what it may
//! still sign.

use super::PartnershipError;
use super::year::Contracted;

/// Whether a school is on the List of innovative schools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchoolKind {
    /// On the List.
    Innovative,
    /// Not on it.
    NonInnovative,
}

/// What a contract joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContractKind {
    /// Two innovative schools (rule 2).
    InnovativePair,
    /// An innovative school and a non-innovative school that declared interest in its
    /// innovation (rule 3).
    InnovativeAndNonInnovative,
}

impl ContractKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractKind::InnovativePair => "INNOVATIVE_PAIR",
            ContractKind::InnovativeAndNonInnovative => "INNOVATIVE_AND_NON_INNOVATIVE",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "INNOVATIVE_PAIR" => Some(ContractKind::InnovativePair),
            "INNOVATIVE_AND_NON_INNOVATIVE" => Some(ContractKind::InnovativeAndNonInnovative),
            _ => None,
        }
    }
}

/// A school as a party to a contract in a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// The school's ID.
    pub school: String,
    /// On the List or not.
    pub kind: SchoolKind,
    /// The modules it applied for this year.
    pub modules: Vec<u8>,
}

/// A school's signed contracts in a year, each by its resource name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    /// For an innovative school: its contract with its innovative partner.
    pub innovative_partner: Option<String>,
    /// For an innovative school: its contract with its non-innovative partner.
    pub non_innovative_partner: Option<String>,
    /// For a non-innovative school: its contract.
    pub contracted_with: Option<String>,
}

impl Standing {
    /// Whether the school is in any signed contract (and so counts against a cap).
    pub fn is_contracted(&self) -> bool {
        self.innovative_partner.is_some()
            || self.non_innovative_partner.is_some()
            || self.contracted_with.is_some()
    }
}

/// The modules both schools applied for, ascending.
pub fn shared_modules(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut shared: Vec<u8> = a.iter().copied().filter(|m| b.contains(m)).collect();
    shared.sort_unstable();
    shared.dedup();
    shared
}

/// The kind of a contract between `a` and `b`, with the innovative school first for a
/// mixed one; refused when it joins a school with itself or no innovative school.
pub fn kind_of<'a>(
    a: &'a Party,
    b: &'a Party,
) -> Result<(ContractKind, &'a Party, &'a Party), PartnershipError> {
    if a.school == b.school {
        return Err(PartnershipError::SameSchool);
    }
    let kinds = (a.kind, b.kind);
    if kinds == (SchoolKind::NonInnovative, SchoolKind::NonInnovative) {
        return Err(PartnershipError::NoInnovativeSchool);
    }
    if shared_modules(&a.modules, &b.modules).is_empty() {
        return Err(PartnershipError::ModuleMismatch);
    }
    match kinds {
        (SchoolKind::Innovative, SchoolKind::Innovative) => {
            Ok((ContractKind::InnovativePair, a, b))
        }
        (SchoolKind::Innovative, SchoolKind::NonInnovative) => {
            Ok((ContractKind::InnovativeAndNonInnovative, a, b))
        }
        (SchoolKind::NonInnovative, SchoolKind::Innovative) => {
            Ok((ContractKind::InnovativeAndNonInnovative, b, a))
        }
        (SchoolKind::NonInnovative, SchoolKind::NonInnovative) => {
            Err(PartnershipError::NoInnovativeSchool)
        }
    }
}

/// Rules 2 and 3: whether `first` and `second` (as [`kind_of`] orders them, schools by
/// their resource names) may still be joined by a contract of `kind`, given their
/// standings.
pub fn ensure_may_pair(
    kind: ContractKind,
    first: (&str, &Standing),
    second: (&str, &Standing),
) -> Result<(), PartnershipError> {
    match kind {
        ContractKind::InnovativePair => {
            for (school, standing) in [first, second] {
                if let Some(contract) = &standing.innovative_partner {
                    return Err(PartnershipError::AlreadyHasInnovativePartner {
                        school: school.to_string(),
                        contract: contract.clone(),
                    });
                }
            }
        }
        ContractKind::InnovativeAndNonInnovative => {
            let ((innovative, innovative_standing), (other, other_standing)) = (first, second);
            if let Some(contract) = &innovative_standing.non_innovative_partner {
                return Err(PartnershipError::AlreadyHasNonInnovativePartner {
                    school: innovative.to_string(),
                    contract: contract.clone(),
                });
            }
            if let Some(contract) = &other_standing.contracted_with {
                return Err(PartnershipError::NonInnovativeAlreadyContracted {
                    school: other.to_string(),
                    contract: contract.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Rule 6: the schools a signature adds to the counts (those in no signed contract yet).
pub fn newly_contracted(parties: [(&Party, &Standing); 2]) -> Contracted {
    let mut adding = Contracted::default();
    for (party, standing) in parties {
        if !standing.is_contracted() {
            match party.kind {
                SchoolKind::Innovative => adding.innovative += 1,
                SchoolKind::NonInnovative => adding.non_innovative += 1,
            }
        }
    }
    adding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(id: &str, kind: SchoolKind) -> Party {
        Party {
            school: id.into(),
            kind,
            modules: vec![1],
        }
    }

    #[test]
    fn the_kind_follows_from_the_schools() {
        let a = party("a", SchoolKind::Innovative);
        let b = party("b", SchoolKind::Innovative);
        let n = party("n", SchoolKind::NonInnovative);
        let m = party("m", SchoolKind::NonInnovative);
        assert_eq!(
            kind_of(&a, &b).map(|k| k.0),
            Ok(ContractKind::InnovativePair)
        );
        let (kind, first, _) = kind_of(&n, &a).expect("mixed");
        assert_eq!(
            (kind, first.school.as_str()),
            (ContractKind::InnovativeAndNonInnovative, "a")
        );
        assert_eq!(
            kind_of(&n, &m).map(|k| k.0),
            Err(PartnershipError::NoInnovativeSchool)
        );
        assert_eq!(
            kind_of(&a, &a).map(|k| k.0),
            Err(PartnershipError::SameSchool)
        );
        let mut other_module = party("c", SchoolKind::Innovative);
        other_module.modules = vec![2];
        assert_eq!(
            kind_of(&a, &other_module).map(|k| k.0),
            Err(PartnershipError::ModuleMismatch)
        );
    }

    #[test]
    fn a_second_innovative_partner_is_refused() {
        let taken = Standing {
            innovative_partner: Some("c1".into()),
            ..Default::default()
        };
        assert_eq!(
            ensure_may_pair(
                ContractKind::InnovativePair,
                ("a", &taken),
                ("c", &Standing::default()),
            ),
            Err(PartnershipError::AlreadyHasInnovativePartner {
                school: "a".into(),
                contract: "c1".into()
            })
        );
    }

    #[test]
    fn a_mixed_contract_needs_free_parties() {
        let free = Standing::default();
        assert!(
            ensure_may_pair(
                ContractKind::InnovativeAndNonInnovative,
                ("a", &free),
                ("n", &free),
            )
            .is_ok()
        );
        let has_one = Standing {
            non_innovative_partner: Some("c2".into()),
            ..Default::default()
        };
        assert_eq!(
            ensure_may_pair(
                ContractKind::InnovativeAndNonInnovative,
                ("a", &has_one),
                ("n", &free),
            ),
            Err(PartnershipError::AlreadyHasNonInnovativePartner {
                school: "a".into(),
                contract: "c2".into()
            })
        );
        let contracted = Standing {
            contracted_with: Some("c3".into()),
            ..Default::default()
        };
        assert_eq!(
            ensure_may_pair(
                ContractKind::InnovativeAndNonInnovative,
                ("a", &free),
                ("n", &contracted),
            ),
            Err(PartnershipError::NonInnovativeAlreadyContracted {
                school: "n".into(),
                contract: "c3".into()
            })
        );
    }

    #[test]
    fn only_schools_without_a_signed_contract_add_to_the_counts() {
        let a = party("a", SchoolKind::Innovative);
        let n = party("n", SchoolKind::NonInnovative);
        let partnered = Standing {
            innovative_partner: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(
            newly_contracted([(&a, &partnered), (&n, &Standing::default())]),
            Contracted {
                innovative: 0,
                non_innovative: 1
            }
        );
    }
}
