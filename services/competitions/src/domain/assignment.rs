//! Rule 5: experts are assigned per application, never with a conflict of interest (the
//! expert's own region, or a team the expert belongs to), and automatic assignment
//! balances the load between experts.
//!
//! The automatic assignment staffs the most constrained applications first (fewest
//! eligible experts), and gives each open slot to the eligible expert with the lowest
//! load, ties broken by the expert's ID, so that the same input always gives the same
//! assignment. Experts carry no capacity limit, so every application gets
//! min(wanted, eligible experts) reviewers: an application is understaffed only when there
//! are not enough experts free of conflicts for it.

use std::collections::{BTreeMap, BTreeSet};

use super::CompetitionError;

/// What the assignment needs to know about an expert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertProfile {
    /// The expert's ID in the contest.
    pub id: String,
    /// The expert's subject at the identity provider (team memberships are by subject).
    pub subject: String,
    /// The ISO 3166-2 code of the expert's region.
    pub region_code: String,
    /// Nominations the expert reviews; empty for all.
    pub nomination_ids: BTreeSet<String>,
}

/// What the assignment needs to know about an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationToStaff {
    /// The application's ID.
    pub id: String,
    /// Its nomination.
    pub nomination_id: String,
    /// The region of the team that submitted it.
    pub team_region_code: String,
    /// The subjects of the team's members.
    pub team_member_subjects: BTreeSet<String>,
    /// Experts already assigned to it.
    pub assigned_expert_ids: BTreeSet<String>,
}

/// Why an expert may not review an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The team is from the expert's region.
    SameRegion,
    /// The expert is a member of the team.
    TeamMember,
}

impl Conflict {
    /// The stable name in error metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::SameRegion => "SAME_REGION",
            Conflict::TeamMember => "TEAM_MEMBER",
        }
    }
}

/// Rule 5: the conflict of interest between an expert and an application, if any.
pub fn conflict_of_interest(
    expert: &ExpertProfile,
    application: &ApplicationToStaff,
) -> Option<Conflict> {
    if application.team_member_subjects.contains(&expert.subject) {
        Some(Conflict::TeamMember)
    } else if expert.region_code == application.team_region_code {
        Some(Conflict::SameRegion)
    } else {
        None
    }
}

/// Rule 5, for a manual assignment: refused when it conflicts.
pub fn ensure_no_conflict_of_interest(
    expert: &ExpertProfile,
    application: &ApplicationToStaff,
) -> Result<(), CompetitionError> {
    match conflict_of_interest(expert, application) {
        Some(conflict) => Err(CompetitionError::ConflictOfInterest { conflict }),
        None => Ok(()),
    }
}

/// Whether the expert reviews the application's nomination.
pub fn reviews_nomination(expert: &ExpertProfile, application: &ApplicationToStaff) -> bool {
    expert.nomination_ids.is_empty() || expert.nomination_ids.contains(&application.nomination_id)
}

/// The result of an automatic assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// New (application ID, expert ID) pairs, in the order they were made.
    pub created: Vec<(String, String)>,
    /// Applications left with fewer experts than wanted: not enough experts without a
    /// conflict of interest.
    pub understaffed: Vec<String>,
}

/// Rule 5, automatically: tops every application up to `experts_per_application`,
/// balancing the load (`load`: each expert's current number of assignments in the contest,
/// missing meaning none) and never creating a conflict of interest.
pub fn assign_automatically(
    experts: &[ExpertProfile],
    applications: &[ApplicationToStaff],
    experts_per_application: usize,
    load: &BTreeMap<String, usize>,
) -> Assignment {
    let mut load: BTreeMap<&str, usize> = experts
        .iter()
        .map(|e| (e.id.as_str(), load.get(&e.id).copied().unwrap_or(0)))
        .collect();
    let eligible = |application: &ApplicationToStaff| -> Vec<&ExpertProfile> {
        experts
            .iter()
            .filter(|e| {
                reviews_nomination(e, application)
                    && conflict_of_interest(e, application).is_none()
                    && !application.assigned_expert_ids.contains(&e.id)
            })
            .collect()
    };

    // Most constrained first; ties by ID, for determinism.
    let mut order: Vec<(usize, &ApplicationToStaff)> = applications
        .iter()
        .map(|a| (eligible(a).len(), a))
        .collect();
    order.sort_by(|(x, a), (y, b)| x.cmp(y).then_with(|| a.id.cmp(&b.id)));

    let mut result = Assignment::default();
    for (_, application) in order {
        let wanted = experts_per_application.saturating_sub(application.assigned_expert_ids.len());
        let mut candidates = eligible(application);
        for _ in 0..wanted {
            let Some(position) = candidates
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| {
                    load[a.id.as_str()]
                        .cmp(&load[b.id.as_str()])
                        .then_with(|| a.id.cmp(&b.id))
                })
                .map(|(i, _)| i)
            else {
                result.understaffed.push(application.id.clone());
                break;
            };
            let expert = candidates.swap_remove(position);
            *load
                .get_mut(expert.id.as_str())
                .expect("every expert has a load") += 1;
            result
                .created
                .push((application.id.clone(), expert.id.clone()));
        }
    }
    result.understaffed.sort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn expert(id: &str, subject: &str, region: &str) -> ExpertProfile {
        ExpertProfile {
            id: id.into(),
            subject: subject.into(),
            region_code: region.into(),
            nomination_ids: BTreeSet::new(),
        }
    }

    fn application(id: &str, region: &str, members: &[&str]) -> ApplicationToStaff {
        ApplicationToStaff {
            id: id.into(),
            nomination_id: "health".into(),
            team_region_code: region.into(),
            team_member_subjects: members.iter().map(|s| s.to_string()).collect(),
            assigned_expert_ids: BTreeSet::new(),
        }
    }

    #[test]
    fn rule_5_an_expert_of_the_teams_region_or_a_member_of_the_team_conflicts() {
        let altai = application("a1", "RU-ALT", &["ivan"]);
        assert_eq!(
            conflict_of_interest(&expert("e1", "olga", "RU-ALT"), &altai),
            Some(Conflict::SameRegion)
        );
        assert_eq!(
            conflict_of_interest(&expert("e2", "ivan", "RU-MOW"), &altai),
            Some(Conflict::TeamMember)
        );
        assert_eq!(
            conflict_of_interest(&expert("e3", "petr", "RU-MOW"), &altai),
            None
        );
        assert_eq!(
            ensure_no_conflict_of_interest(&expert("e1", "olga", "RU-ALT"), &altai),
            Err(CompetitionError::ConflictOfInterest {
                conflict: Conflict::SameRegion
            })
        );
    }

    #[test]
    fn rule_5_automatic_assignment_tops_up_and_reports_understaffed_applications() {
        let experts = [
            expert("e1", "s1", "RU-MOW"),
            expert("e2", "s2", "RU-SPE"),
            expert("e3", "s3", "RU-ALT"),
        ];
        let mut partly = application("a1", "RU-TAT", &[]);
        partly.assigned_expert_ids.insert("e1".into());
        let altai = application("a2", "RU-ALT", &[]);
        let load = BTreeMap::from([("e1".to_string(), 1)]);
        let result = assign_automatically(&experts, &[partly, altai], 3, &load);
        // Both have two eligible experts, so a1 goes first (by ID) and gets the two it
        // lacks; a2 (Altai) cannot have e3 (its region) and stays one short.
        assert_eq!(
            result.created,
            [
                ("a1".to_string(), "e2".to_string()),
                ("a1".to_string(), "e3".to_string()),
                ("a2".to_string(), "e1".to_string()),
                ("a2".to_string(), "e2".to_string()),
            ]
        );
        assert_eq!(result.understaffed, ["a2"]);
    }

    #[test]
    fn rule_5_experts_review_only_their_nominations() {
        let mut specialist = expert("e1", "s1", "RU-MOW");
        specialist.nomination_ids.insert("family".into());
        let result = assign_automatically(
            &[specialist],
            &[application("a1", "RU-ALT", &[])],
            1,
            &BTreeMap::new(),
        );
        assert!(result.created.is_empty());
        assert_eq!(result.understaffed, ["a1"]);
    }

    const REGIONS: [&str; 4] = ["RU-ALT", "RU-MOW", "RU-SPE", "RU-TAT"];

    fn experts_strategy() -> impl Strategy<Value = Vec<ExpertProfile>> {
        prop::collection::vec((0..REGIONS.len(), 0..12usize), 0..12).prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (region, subject))| {
                    expert(&format!("e{i:02}"), &format!("s{subject}"), REGIONS[region])
                })
                .collect()
        })
    }

    fn applications_strategy() -> impl Strategy<Value = Vec<ApplicationToStaff>> {
        prop::collection::vec(
            (
                0..REGIONS.len(),
                prop::collection::btree_set(0..12usize, 0..4),
            ),
            0..20,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (region, members))| ApplicationToStaff {
                    id: format!("a{i:02}"),
                    nomination_id: "health".into(),
                    team_region_code: REGIONS[region].into(),
                    team_member_subjects: members.into_iter().map(|m| format!("s{m}")).collect(),
                    assigned_expert_ids: BTreeSet::new(),
                })
                .collect()
        })
    }

    proptest! {
        /// Over random teams and experts: no assignment conflicts, nobody reviews an
        /// application twice, and every application gets min(wanted, experts free of
        /// conflicts for it), so understaffing only ever means "not enough experts".
        #[test]
        fn rule_5_automatic_assignment_never_creates_a_conflict_of_interest(
            experts in experts_strategy(),
            applications in applications_strategy(),
            wanted in 1..4usize,
        ) {
            let result = assign_automatically(&experts, &applications, wanted, &BTreeMap::new());
            let by_id: BTreeMap<&str, &ExpertProfile> =
                experts.iter().map(|e| (e.id.as_str(), e)).collect();
            let mut per_application: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for (application_id, expert_id) in &result.created {
                let application = applications.iter().find(|a| &a.id == application_id).expect("known");
                prop_assert_eq!(conflict_of_interest(by_id[expert_id.as_str()], application), None);
                prop_assert!(
                    per_application.entry(application_id).or_default().insert(expert_id),
                    "{} assigned twice to {}", expert_id, application_id
                );
            }
            for application in &applications {
                let free = experts.iter().filter(|e| conflict_of_interest(e, application).is_none()).count();
                let got = per_application.get(application.id.as_str()).map_or(0, BTreeSet::len);
                prop_assert_eq!(got, wanted.min(free));
                prop_assert_eq!(result.understaffed.contains(&application.id), free < wanted);
            }
        }

        /// Without conflicts in the way, the load is balanced: no expert has two reviews
        /// more than another.
        #[test]
        fn rule_5_automatic_assignment_balances_the_load(
            experts in 1..10usize,
            applications in 0..30usize,
            wanted in 1..4usize,
        ) {
            let experts: Vec<ExpertProfile> =
                (0..experts).map(|i| expert(&format!("e{i}"), &format!("s{i}"), "RU-MOW")).collect();
            let applications: Vec<ApplicationToStaff> =
                (0..applications).map(|i| application(&format!("a{i}"), "RU-ALT", &[])).collect();
            let result = assign_automatically(&experts, &applications, wanted, &BTreeMap::new());
            let mut load: BTreeMap<&str, usize> = experts.iter().map(|e| (e.id.as_str(), 0)).collect();
            for (_, expert_id) in &result.created {
                *load.get_mut(expert_id.as_str()).expect("known") += 1;
            }
            let (min, max) = (load.values().min().copied().unwrap_or(0), load.values().max().copied().unwrap_or(0));
            prop_assert!(max - min <= 1, "loads {:?}", load);
        }
    }
}
