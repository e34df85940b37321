//! The meetings a form allows (rule 3: speed mentoring is «однократная встреча»), and a
//! change of a pair's form, which must keep both the fit and that limit.

use std::fmt;

use super::fit::{MentoringForm, PairType, check_members};
use super::state::PairState;
use crate::domain::MentoringError;
use crate::domain::roles::ParticipantRole;

/// How a SPEED pair's single meeting would be exceeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeedLimit {
    /// A second meeting of a SPEED pair.
    SecondMeeting {
        /// The meeting already logged, by resource name.
        meeting: String,
    },
    /// Switching to SPEED a pair that logged more than one meeting.
    TooManyToSwitch {
        /// The meetings it logged.
        meetings: u32,
    },
}

impl SpeedLimit {
    /// The contract's metadata: `meeting` for a second meeting, `meetings` for a switch.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            SpeedLimit::SecondMeeting { meeting } => vec![("meeting", meeting.clone())],
            SpeedLimit::TooManyToSwitch { meetings } => {
                vec![("meetings", meetings.to_string())]
            }
        }
    }
}

impl fmt::Display for SpeedLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpeedLimit::SecondMeeting { meeting } => write!(
                f,
                "speed mentoring is a single meeting, and {meeting} is logged already"
            ),
            SpeedLimit::TooManyToSwitch { meetings } => write!(
                f,
                "speed mentoring is a single meeting, and the pair logged {meetings}"
            ),
        }
    }
}

/// A meeting may be logged in `form` after the ones already logged: a SPEED pair logs one
/// (`SINGLE_MEETING_FORM` naming the meeting already logged, `first_logged`).
pub fn ensure_meeting_allowed(
    form: MentoringForm,
    first_logged: Option<&str>,
) -> Result<(), MentoringError> {
    match (form.max_meetings(), first_logged) {
        (Some(1), Some(meeting)) => Err(MentoringError::SingleMeetingForm(
            SpeedLimit::SecondMeeting {
                meeting: meeting.to_string(),
            },
        )),
        _ => Ok(()),
    }
}

/// `UpdatePair`'s rules for a new form, in the contract's order: a FORMING or ACTIVE pair
/// (`TRANSITION_NOT_ALLOWED`), roles fitting the type in the new form — REVERSE reads them
/// the other way round — (`PAIR_TYPE_ROLE_MISMATCH`), and no more meetings than the form
/// allows (`SINGLE_MEETING_FORM` with the count).
pub fn check_form_change(
    state: PairState,
    pair_type: PairType,
    new_form: MentoringForm,
    mentor: (&str, ParticipantRole),
    mentees: &[(&str, ParticipantRole)],
    meetings_logged: u32,
) -> Result<(), MentoringError> {
    state.ensure_form_changeable()?;
    check_members(pair_type, new_form, mentor, mentees)?;
    match new_form.max_meetings() {
        Some(max) if meetings_logged > max => Err(MentoringError::SingleMeetingForm(
            SpeedLimit::TooManyToSwitch {
                meetings: meetings_logged,
            },
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParticipantRole::*;

    const M1: &str = "institutions/mechta-saratov/pairs/k3/meetings/m1";

    #[test]
    fn a_speed_pair_logs_one_meeting() {
        assert_eq!(ensure_meeting_allowed(MentoringForm::Speed, None), Ok(()));
        let refused =
            ensure_meeting_allowed(MentoringForm::Speed, Some(M1)).expect_err("second meeting");
        assert_eq!(refused.reason(), "SINGLE_MEETING_FORM");
        assert_eq!(refused.metadata(), vec![("meeting", M1.to_string())]);
        for form in [
            MentoringForm::Virtual,
            MentoringForm::ShortTerm,
            MentoringForm::Reverse,
            MentoringForm::Situational,
        ] {
            assert_eq!(ensure_meeting_allowed(form, Some(M1)), Ok(()));
        }
    }

    #[test]
    fn switching_to_speed_after_two_meetings_is_refused() {
        let mentor = ("p/mentor", Counsellor);
        let mentees = [("p/a", Pupil)];
        let switch = |meetings| {
            check_form_change(
                PairState::Active,
                PairType::CounsellorPupil,
                MentoringForm::Speed,
                mentor,
                &mentees,
                meetings,
            )
        };
        assert_eq!(switch(0), Ok(()));
        assert_eq!(switch(1), Ok(()));
        let refused = switch(2).expect_err("two meetings");
        assert_eq!(refused.reason(), "SINGLE_MEETING_FORM");
        assert_eq!(refused.metadata(), vec![("meetings", "2".to_string())]);
    }

    #[test]
    fn a_new_form_keeps_the_fit_and_needs_an_open_working_pair() {
        let mentor = ("p/mentor", Counsellor);
        let mentees = [("p/a", Pupil)];
        // Reading a counsellor–pupil pair the other way round does not fit.
        assert_eq!(
            check_form_change(
                PairState::Forming,
                PairType::CounsellorPupil,
                MentoringForm::Reverse,
                mentor,
                &mentees,
                0
            )
            .map_err(|e| e.reason()),
            Err("PAIR_TYPE_ROLE_MISMATCH")
        );
        assert_eq!(
            check_form_change(
                PairState::Suspended,
                PairType::CounsellorPupil,
                MentoringForm::Virtual,
                mentor,
                &mentees,
                0
            )
            .map_err(|e| e.reason()),
            Err("TRANSITION_NOT_ALLOWED")
        );
    }
}
