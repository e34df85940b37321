//! Rule 11: winners are invited to presentation sessions and accelerator programmes. The
//! team answers (INVITED → ACCEPTED or DECLINED), the organiser records attendance
//! (ACCEPTED → ATTENDED); repeating the move that already happened is a no-op.

use super::{CompetitionError, FieldError, Transition};

/// Longest invitation title, in characters.
pub const MAX_TITLE_CHARS: usize = 500;

/// What a winner is invited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpKind {
    /// A presentation session with an expert team of a pedagogical university.
    PresentationSession,
    /// An accelerator programme of the Agency.
    Accelerator,
}

impl FollowUpKind {
    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpKind::PresentationSession => "PRESENTATION_SESSION",
            FollowUpKind::Accelerator => "ACCELERATOR",
        }
    }

    /// The kind named `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        [FollowUpKind::PresentationSession, FollowUpKind::Accelerator]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

/// Where an invitation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    /// Sent, not answered.
    Invited,
    /// The team will come.
    Accepted,
    /// The team will not come.
    Declined,
    /// The team took part.
    Attended,
}

impl InvitationState {
    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Invited => "INVITED",
            InvitationState::Accepted => "ACCEPTED",
            InvitationState::Declined => "DECLINED",
            InvitationState::Attended => "ATTENDED",
        }
    }

    /// The state named `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            InvitationState::Invited,
            InvitationState::Accepted,
            InvitationState::Declined,
            InvitationState::Attended,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Rule 11: the move to `to`, a no-op when already there.
    pub fn move_to(self, to: InvitationState) -> Result<Transition, CompetitionError> {
        use InvitationState::*;
        match (self, to) {
            (from, to) if from == to => Ok(Transition::Unchanged),
            (Invited, Accepted) | (Invited, Declined) | (Accepted, Attended) => {
                Ok(Transition::Changed)
            }
            (from, to) => Err(CompetitionError::TransitionNotAllowed {
                from: from.as_str(),
                to: to.as_str(),
            }),
        }
    }
}

/// Rule 11: an invitation names what the team is invited to.
pub fn check_invitation_title(title: &str) -> Result<String, CompetitionError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(CompetitionError::InvalidFields(vec![FieldError::new(
            "title",
            format!("required, at most {MAX_TITLE_CHARS} characters"),
        )]));
    }
    Ok(title.to_string())
}

#[cfg(test)]
mod tests {
    use super::InvitationState::*;
    use super::*;

    #[test]
    fn rule_11_the_team_answers_then_the_organiser_records_attendance() {
        assert_eq!(Invited.move_to(Accepted), Ok(Transition::Changed));
        assert_eq!(Invited.move_to(Declined), Ok(Transition::Changed));
        assert_eq!(Accepted.move_to(Attended), Ok(Transition::Changed));
        assert_eq!(Accepted.move_to(Accepted), Ok(Transition::Unchanged));
        for (from, to) in [
            (Invited, Attended),
            (Declined, Accepted),
            (Declined, Attended),
            (Attended, Declined),
            (Accepted, Declined),
        ] {
            assert!(from.move_to(to).is_err(), "{from:?} → {to:?}");
        }
    }
}
