//! Rule 10: a region replicates a winning practice: REQUESTED → IN_PROGRESS → IMPLEMENTED,
//! or DECLINED from either of the first two, with a reason. Nothing leaves IMPLEMENTED or
//! DECLINED; repeating the move that already happened is a no-op.

use super::{CompetitionError, FieldError, Transition};

/// Longest plan, in characters.
pub const MAX_PLAN_CHARS: usize = 10_000;
/// Longest contact field or decline reason, in characters.
pub const MAX_SHORT_TEXT_CHARS: usize = 2_000;

/// Where a replication is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationState {
    /// Asked for.
    Requested,
    /// Being implemented.
    InProgress,
    /// Implemented in the region.
    Implemented,
    /// Not pursued.
    Declined,
}

impl ReplicationState {
    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationState::Requested => "REQUESTED",
            ReplicationState::InProgress => "IN_PROGRESS",
            ReplicationState::Implemented => "IMPLEMENTED",
            ReplicationState::Declined => "DECLINED",
        }
    }

    /// The state named `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            ReplicationState::Requested,
            ReplicationState::InProgress,
            ReplicationState::Implemented,
            ReplicationState::Declined,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Rule 10: whether the state machine allows `self → to`.
    pub fn may_move_to(self, to: ReplicationState) -> bool {
        use ReplicationState::*;
        matches!(
            (self, to),
            (Requested, InProgress)
                | (InProgress, Implemented)
                | (Requested, Declined)
                | (InProgress, Declined)
        )
    }

    /// Rule 10: the move to `to`, a no-op when already there.
    pub fn move_to(self, to: ReplicationState) -> Result<Transition, CompetitionError> {
        if self == to {
            Ok(Transition::Unchanged)
        } else if self.may_move_to(to) {
            Ok(Transition::Changed)
        } else {
            Err(CompetitionError::TransitionNotAllowed {
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

/// What a region sends to ask for a replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationRequest {
    /// The contact's name and position.
    pub contact_name: String,
    /// The contact's e-mail or phone.
    pub contact_details: String,
    /// How the region plans to implement the practice.
    pub plan: String,
}

impl ReplicationRequest {
    /// Rule 10: a request names a contact and a plan.
    pub fn parse(
        contact_name: &str,
        contact_details: &str,
        plan: &str,
    ) -> Result<Self, CompetitionError> {
        let mut problems = Vec::new();
        for (field, value, max) in [
            ("contact_name", contact_name, MAX_SHORT_TEXT_CHARS),
            ("contact_details", contact_details, MAX_SHORT_TEXT_CHARS),
            ("plan", plan, MAX_PLAN_CHARS),
        ] {
            if value.trim().is_empty() {
                problems.push(FieldError::new(field, "required"));
            } else if value.chars().count() > max {
                problems.push(FieldError::new(field, format!("at most {max} characters")));
            }
        }
        if !problems.is_empty() {
            return Err(CompetitionError::InvalidFields(problems));
        }
        Ok(ReplicationRequest {
            contact_name: contact_name.trim().into(),
            contact_details: contact_details.trim().into(),
            plan: plan.trim().into(),
        })
    }
}

/// Rule 10: a decline carries its reason.
pub fn check_decline_reason(reason: &str) -> Result<String, CompetitionError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_SHORT_TEXT_CHARS {
        return Err(CompetitionError::InvalidFields(vec![FieldError::new(
            "reason",
            format!("required, at most {MAX_SHORT_TEXT_CHARS} characters"),
        )]));
    }
    Ok(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::ReplicationState::*;
    use super::*;

    const ALL: [ReplicationState; 4] = [Requested, InProgress, Implemented, Declined];

    #[test]
    fn rule_10_only_the_documented_moves_are_allowed() {
        let allowed: Vec<(&str, &str)> = ALL
            .iter()
            .flat_map(|from| ALL.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| from.may_move_to(*to))
            .map(|(from, to)| (from.as_str(), to.as_str()))
            .collect();
        assert_eq!(
            allowed,
            [
                ("REQUESTED", "IN_PROGRESS"),
                ("REQUESTED", "DECLINED"),
                ("IN_PROGRESS", "IMPLEMENTED"),
                ("IN_PROGRESS", "DECLINED"),
            ]
        );
    }

    #[test]
    fn rule_10_a_refused_move_names_both_states_and_a_repeat_is_a_no_op() {
        assert_eq!(
            Requested.move_to(Implemented),
            Err(CompetitionError::TransitionNotAllowed {
                from: "REQUESTED",
                to: "IMPLEMENTED"
            })
        );
        assert_eq!(Declined.move_to(Declined), Ok(Transition::Unchanged));
        assert!(Implemented.move_to(Declined).is_err());
    }

    #[test]
    fn a_request_names_a_contact_and_a_plan() {
        let refused = ReplicationRequest::parse(" ", "x@example.org", "");
        let Err(CompetitionError::InvalidFields(problems)) = refused else {
            panic!("{refused:?}");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["contact_name", "plan"]);
    }
}
