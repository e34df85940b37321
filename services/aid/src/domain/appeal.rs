//! Appeals of citizens (rule 5): a number at once, then OPEN → IN_PROGRESS → ANSWERED or
//! REDIRECTED, and no other way. The first response is the move out of OPEN; an appeal is
//! due it within the campaign's response target from its recording. While it is still OPEN
//! past that it is overdue; a first response after it was late. Both are judged at the time
//! of the question against the campaign's current target, so they are computed here and
//! never stored.

use jiff::{SignedDuration, Timestamp};

/// How an appeal came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppealChannel {
    /// A hotline.
    Hotline,
    /// A trust phone.
    TrustPhone,
    /// A public reception office.
    PublicReception,
    /// In writing.
    Written,
}

impl AppealChannel {
    /// Every channel.
    pub const ALL: [AppealChannel; 4] = [
        AppealChannel::Hotline,
        AppealChannel::TrustPhone,
        AppealChannel::PublicReception,
        AppealChannel::Written,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AppealChannel::Hotline => "HOTLINE",
            AppealChannel::TrustPhone => "TRUST_PHONE",
            AppealChannel::PublicReception => "PUBLIC_RECEPTION",
            AppealChannel::Written => "WRITTEN",
        }
    }

    /// The channel a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// What an appeal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppealCategory {
    /// A family asks for help for a child.
    RequestForHelp,
    /// A child who does not or may not go to school.
    ChildOutOfSchool,
    /// Prices of school uniform and supplies.
    Prices,
    /// A complaint about the organisers or the help.
    Complaint,
    /// An offer to help or donate.
    OfferOfHelp,
    /// A question.
    Question,
    /// Anything else.
    Other,
}

impl AppealCategory {
    /// Every category.
    pub const ALL: [AppealCategory; 7] = [
        AppealCategory::RequestForHelp,
        AppealCategory::ChildOutOfSchool,
        AppealCategory::Prices,
        AppealCategory::Complaint,
        AppealCategory::OfferOfHelp,
        AppealCategory::Question,
        AppealCategory::Other,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AppealCategory::RequestForHelp => "REQUEST_FOR_HELP",
            AppealCategory::ChildOutOfSchool => "CHILD_OUT_OF_SCHOOL",
            AppealCategory::Prices => "PRICES",
            AppealCategory::Complaint => "COMPLAINT",
            AppealCategory::OfferOfHelp => "OFFER_OF_HELP",
            AppealCategory::Question => "QUESTION",
            AppealCategory::Other => "OTHER",
        }
    }

    /// The category a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// Where an appeal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppealState {
    /// Recorded, waiting for its first response.
    Open,
    /// Responded to; the responsible person works on it.
    InProgress,
    /// Answered: final.
    Answered,
    /// Passed to another body: final.
    Redirected,
}

impl AppealState {
    /// Every state.
    pub const ALL: [AppealState; 4] = [
        AppealState::Open,
        AppealState::InProgress,
        AppealState::Answered,
        AppealState::Redirected,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AppealState::Open => "OPEN",
            AppealState::InProgress => "IN_PROGRESS",
            AppealState::Answered => "ANSWERED",
            AppealState::Redirected => "REDIRECTED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the appeal is closed.
    pub fn is_final(self) -> bool {
        matches!(self, AppealState::Answered | AppealState::Redirected)
    }

    /// Whether `self → to` is a move of the rule: OPEN → IN_PROGRESS (the first response),
    /// IN_PROGRESS → ANSWERED or REDIRECTED. An OPEN appeal is started before it is answered
    /// or redirected, so that every closed appeal has a measured time to first response.
    pub fn may_become(self, to: AppealState) -> bool {
        use AppealState::*;
        matches!(
            (self, to),
            (Open, InProgress) | (InProgress, Answered) | (InProgress, Redirected)
        )
    }

    /// The move `self → to`, or the refusal naming both states.
    pub fn ensure_may_become(self, to: AppealState) -> Result<(), AppealError> {
        if self.may_become(to) {
            Ok(())
        } else {
            Err(AppealError::TransitionNotAllowed { from: self, to })
        }
    }

    /// An appeal is routed (new category, new responsible person) only until it is closed.
    pub fn ensure_routable(self) -> Result<(), AppealError> {
        if self.is_final() {
            Err(AppealError::Closed { state: self })
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Display for AppealState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the appeal rules refuse. Texts name states only, never the applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppealError {
    /// A move the state machine does not have.
    #[error("an appeal cannot go from {from} to {to}")]
    TransitionNotAllowed {
        /// The current state.
        from: AppealState,
        /// The state asked for.
        to: AppealState,
    },
    /// Routing a closed appeal.
    #[error("the appeal is {state}; a closed appeal is not routed")]
    Closed {
        /// Its state, ANSWERED or REDIRECTED.
        state: AppealState,
    },
}

/// The number an applicant is told: the region's code and the appeal's place among the
/// region's appeals of the campaign, six digits, for example `KZ-75-000042`.
pub fn number(region: &str, serial: i64) -> String {
    format!("{region}-{serial:06}")
}

/// By when an appeal recorded at `received` is due its first response under `target`.
pub fn response_due(received: Timestamp, target: SignedDuration) -> Timestamp {
    received.checked_add(target).unwrap_or(Timestamp::MAX)
}

/// Whether an appeal recorded at `received` is overdue at `now`: still without a first
/// response (OPEN) strictly after its due time.
pub fn is_overdue(
    received: Timestamp,
    first_response: Option<Timestamp>,
    target: SignedDuration,
    now: Timestamp,
) -> bool {
    first_response.is_none() && now > response_due(received, target)
}

/// Whether the first response to an appeal recorded at `received` came after its due time.
pub fn responded_late(
    received: Timestamp,
    first_response: Option<Timestamp>,
    target: SignedDuration,
) -> bool {
    first_response.is_some_and(|at| at > response_due(received, target))
}

/// The time from recording to the first response; `None` while OPEN.
pub fn time_to_first_response(
    received: Timestamp,
    first_response: Option<Timestamp>,
) -> Option<SignedDuration> {
    first_response.map(|at| at.duration_since(received))
}

#[cfg(test)]
mod tests {
    use super::*;
    use AppealState::*;

    #[test]
    fn appeals_move_open_in_progress_then_answered_or_redirected() {
        assert!(Open.may_become(InProgress));
        assert!(InProgress.may_become(Answered));
        assert!(InProgress.may_become(Redirected));
        for (from, to) in [
            (Open, Answered),
            (Open, Redirected),
            (InProgress, InProgress),
            (InProgress, Open),
            (Answered, InProgress),
            (Answered, Redirected),
            (Redirected, Answered),
            (Answered, Answered),
        ] {
            assert_eq!(
                from.ensure_may_become(to),
                Err(AppealError::TransitionNotAllowed { from, to }),
                "{from} → {to}"
            );
        }
    }

    #[test]
    fn only_closed_appeals_refuse_routing() {
        assert!(Open.ensure_routable().is_ok());
        assert!(InProgress.ensure_routable().is_ok());
        assert_eq!(
            Answered.ensure_routable(),
            Err(AppealError::Closed { state: Answered })
        );
        assert!(Redirected.ensure_routable().is_err());
    }

    #[test]
    fn numbers_have_the_region_and_six_digits() {
        assert_eq!(number("KZ-75", 42), "KZ-75-000042");
        assert_eq!(number("KZ-19", 1), "KZ-19-000001");
        assert!(
            AppealChannel::ALL
                .iter()
                .all(|c| AppealChannel::parse(c.as_str()) == Some(*c))
        );
        assert!(
            AppealCategory::ALL
                .iter()
                .all(|c| AppealCategory::parse(c.as_str()) == Some(*c))
        );
    }

    #[test]
    fn an_appeal_is_overdue_while_open_past_the_target_and_late_if_answered_after_it() {
        let received: Timestamp = "2023-08-10T09:00:00+06:00".parse().expect("instant");
        let target = SignedDuration::from_hours(24);
        let later = |hours: i64| received + SignedDuration::from_hours(hours);
        assert_eq!(response_due(received, target), later(24));
        assert!(!is_overdue(received, None, target, later(24)));
        assert!(is_overdue(
            received,
            None,
            target,
            later(24) + SignedDuration::from_secs(1)
        ));
        assert!(!is_overdue(received, Some(later(30)), target, later(100)));
        assert!(!responded_late(received, None, target));
        assert!(!responded_late(received, Some(later(24)), target));
        assert!(responded_late(received, Some(later(30)), target));
        assert_eq!(
            time_to_first_response(received, Some(later(3))),
            Some(SignedDuration::from_hours(3))
        );
        assert_eq!(time_to_first_response(received, None), None);
    }
}
