//! Information support (rule 12; §1.3, §3.7): the media plan's publications, the two kinds
//! that have a deadline and how each stands against it, and the consents a featured person
//! needs. Lateness is flagged, never refused.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::consent::ConsentPurpose;
use super::deadlines::{PublicationWindow, WindowTiming};
use super::{MentoringError, Transition};

/// The most participants a publication features (choice 18).
pub const MAX_FEATURED: usize = 50;

/// The kinds of content of the media plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicationKind {
    /// A press release, due 3 to 5 days before its event.
    PressRelease,
    /// A post-release, due within a day after its event.
    PostRelease,
    /// A digest («дайджест»).
    Digest,
    /// A photo album («альбом фотографий»).
    PhotoAlbum,
    /// A themed music playlist («плейлист»).
    Playlist,
    /// An educational long read of more than 2 000 characters («лонгрид»).
    Longread,
    /// Anything else.
    Other,
}

impl PublicationKind {
    /// Every kind, in the order of the proto enum.
    pub const ALL: [PublicationKind; 7] = [
        PublicationKind::PressRelease,
        PublicationKind::PostRelease,
        PublicationKind::Digest,
        PublicationKind::PhotoAlbum,
        PublicationKind::Playlist,
        PublicationKind::Longread,
        PublicationKind::Other,
    ];

    /// The stored name: the proto value name without its `PUBLICATION_KIND_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicationKind::PressRelease => "PRESS_RELEASE",
            PublicationKind::PostRelease => "POST_RELEASE",
            PublicationKind::Digest => "DIGEST",
            PublicationKind::PhotoAlbum => "PHOTO_ALBUM",
            PublicationKind::Playlist => "PLAYLIST",
            PublicationKind::Longread => "LONGREAD",
            PublicationKind::Other => "OTHER",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// Whether the kind covers an event and needs its title and day.
    pub fn needs_event(self) -> bool {
        matches!(
            self,
            PublicationKind::PressRelease | PublicationKind::PostRelease
        )
    }

    /// The window a publication of this kind about an event on `event_day` is due in;
    /// `None` for the kinds without a deadline.
    pub fn window(self, event_day: Date) -> Option<PublicationWindow> {
        match self {
            PublicationKind::PressRelease => Some(PublicationWindow::press_release(event_day)),
            PublicationKind::PostRelease => Some(PublicationWindow::post_release(event_day)),
            _ => None,
        }
    }
}

impl fmt::Display for PublicationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a publication is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicationState {
    /// In the media plan; not out yet.
    Planned,
    /// Out, with its link.
    Published,
    /// Dropped; final.
    Cancelled,
}

impl PublicationState {
    /// The stored name: the proto value name without its `PUBLICATION_STATE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicationState::Planned => "PLANNED",
            PublicationState::Published => "PUBLISHED",
            PublicationState::Cancelled => "CANCELLED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            PublicationState::Planned,
            PublicationState::Published,
            PublicationState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Publishing takes a PLANNED publication (`TRANSITION_NOT_ALLOWED`).
    pub fn ensure_publishable(self) -> Result<(), MentoringError> {
        if self == PublicationState::Planned {
            Ok(())
        } else {
            Err(self.not_allowed())
        }
    }

    /// Cancelling: a PLANNED publication becomes CANCELLED, a CANCELLED one is answered
    /// unchanged, a PUBLISHED one is refused.
    pub fn cancel(self) -> Result<Transition, MentoringError> {
        match self {
            PublicationState::Planned => Ok(Transition::Changed),
            PublicationState::Cancelled => Ok(Transition::Unchanged),
            PublicationState::Published => Err(self.not_allowed()),
        }
    }

    fn not_allowed(self) -> MentoringError {
        MentoringError::TransitionNotAllowed {
            resource: "publication",
            state: self.as_str(),
        }
    }
}

/// How a publication stands against its window, at the time of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicationTiming {
    /// A kind without a deadline, or a CANCELLED publication.
    NoDeadline,
    /// PLANNED; its window has not closed.
    Pending,
    /// PLANNED and its window has closed.
    Overdue,
    /// Published before its window opened.
    Early,
    /// Published within its window.
    OnTime,
    /// Published after its window closed.
    Late,
}

impl PublicationTiming {
    /// The stored name: the proto value name without its `PUBLICATION_TIMING_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicationTiming::NoDeadline => "NO_DEADLINE",
            PublicationTiming::Pending => "PENDING",
            PublicationTiming::Overdue => "OVERDUE",
            PublicationTiming::Early => "EARLY",
            PublicationTiming::OnTime => "ON_TIME",
            PublicationTiming::Late => "LATE",
        }
    }

    /// Whether it is flagged `late`: published LATE, or OVERDUE.
    pub fn is_late(self) -> bool {
        matches!(self, PublicationTiming::Late | PublicationTiming::Overdue)
    }
}

/// How a publication stands at `now` in the institution's `zone`: its kind's window (if
/// any) around `event_day`, against `published` when it went out or `now` while PLANNED.
pub fn timing(
    kind: PublicationKind,
    state: PublicationState,
    event_day: Option<Date>,
    published: Option<Timestamp>,
    now: Timestamp,
    zone: &TimeZone,
) -> PublicationTiming {
    let Some(window) = event_day.and_then(|day| kind.window(day)) else {
        return PublicationTiming::NoDeadline;
    };
    match (state, published) {
        (PublicationState::Cancelled, _) => PublicationTiming::NoDeadline,
        (PublicationState::Published, Some(at)) => match window.judge(at, zone) {
            WindowTiming::Early => PublicationTiming::Early,
            WindowTiming::OnTime => PublicationTiming::OnTime,
            WindowTiming::Late => PublicationTiming::Late,
        },
        // Published without an instant cannot be stored; judged as planned, it is at least
        // not hidden from the late list.
        _ if window.is_overdue(now, zone) => PublicationTiming::Overdue,
        _ => PublicationTiming::Pending,
    }
}

/// A featured participant and the consents the store found in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Featured<'a> {
    /// Their resource name.
    pub participant: &'a str,
    /// Whether their consent to PERSONAL_DATA is in force.
    pub personal_data: bool,
    /// Whether their consent to PUBLICATION is in force.
    pub publication: bool,
}

/// Publishing needs, for every featured participant in the order listed, both consents in
/// force (`CONSENT_MISSING` with `purpose` PERSONAL_DATA for a redacted one, else
/// PUBLICATION).
pub fn check_featured(people: &[Featured<'_>]) -> Result<(), MentoringError> {
    for person in people {
        let missing = if !person.personal_data {
            ConsentPurpose::PersonalData
        } else if !person.publication {
            ConsentPurpose::Publication
        } else {
            continue;
        };
        return Err(MentoringError::ConsentMissing {
            participant: person.participant.to_string(),
            purpose: missing,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn saratov() -> TimeZone {
        TimeZone::get("Europe/Saratov").expect("zone")
    }

    fn at(instant: &str) -> Timestamp {
        instant.parse().expect("instant")
    }

    #[test]
    fn only_press_and_post_releases_have_windows() {
        let event = date(2025, 3, 10);
        for kind in PublicationKind::ALL {
            assert_eq!(kind.window(event).is_some(), kind.needs_event(), "{kind}");
            assert_eq!(PublicationKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn a_press_release_is_judged_against_its_window() {
        let zone = saratov();
        let event = Some(date(2025, 3, 10));
        let now = at("2025-03-20T12:00:00+04:00");
        let published = |instant: &str| {
            timing(
                PublicationKind::PressRelease,
                PublicationState::Published,
                event,
                Some(at(instant)),
                now,
                &zone,
            )
        };
        assert_eq!(
            published("2025-03-04T23:59:00+04:00"),
            PublicationTiming::Early
        );
        assert_eq!(
            published("2025-03-05T00:00:00+04:00"),
            PublicationTiming::OnTime
        );
        assert_eq!(
            published("2025-03-07T23:59:00+04:00"),
            PublicationTiming::OnTime
        );
        assert_eq!(
            published("2025-03-08T00:00:00+04:00"),
            PublicationTiming::Late
        );
        assert!(published("2025-03-08T00:00:00+04:00").is_late());
        assert!(!published("2025-03-04T23:59:00+04:00").is_late());
    }

    #[test]
    fn a_planned_release_is_overdue_once_its_window_closes() {
        let zone = saratov();
        let event = Some(date(2025, 3, 10));
        let planned = |now: &str| {
            timing(
                PublicationKind::PostRelease,
                PublicationState::Planned,
                event,
                None,
                at(now),
                &zone,
            )
        };
        assert_eq!(
            planned("2025-03-11T23:59:00+04:00"),
            PublicationTiming::Pending
        );
        assert_eq!(
            planned("2025-03-12T00:00:00+04:00"),
            PublicationTiming::Overdue
        );
        assert!(planned("2025-03-12T00:00:00+04:00").is_late());
        assert_eq!(
            timing(
                PublicationKind::PostRelease,
                PublicationState::Cancelled,
                event,
                None,
                at("2025-03-20T00:00:00+04:00"),
                &zone
            ),
            PublicationTiming::NoDeadline
        );
        assert_eq!(
            timing(
                PublicationKind::Digest,
                PublicationState::Planned,
                event,
                None,
                at("2025-03-20T00:00:00+04:00"),
                &zone
            ),
            PublicationTiming::NoDeadline
        );
    }

    #[test]
    fn featured_people_need_both_consents() {
        let ok = Featured {
            participant: "p/a",
            personal_data: true,
            publication: true,
        };
        let no_publication = Featured {
            participant: "p/b",
            publication: false,
            ..ok
        };
        let redacted = Featured {
            participant: "p/c",
            personal_data: false,
            publication: true,
        };
        assert_eq!(check_featured(&[ok]), Ok(()));
        assert_eq!(
            check_featured(&[ok, no_publication, redacted]),
            Err(MentoringError::ConsentMissing {
                participant: "p/b".into(),
                purpose: ConsentPurpose::Publication
            })
        );
        assert_eq!(
            check_featured(&[redacted]),
            Err(MentoringError::ConsentMissing {
                participant: "p/c".into(),
                purpose: ConsentPurpose::PersonalData
            })
        );
    }

    #[test]
    fn publications_are_published_and_cancelled_from_planned() {
        assert!(PublicationState::Planned.ensure_publishable().is_ok());
        assert_eq!(
            PublicationState::Published.ensure_publishable(),
            Err(MentoringError::TransitionNotAllowed {
                resource: "publication",
                state: "PUBLISHED"
            })
        );
        assert_eq!(PublicationState::Planned.cancel(), Ok(Transition::Changed));
        assert_eq!(
            PublicationState::Cancelled.cancel(),
            Ok(Transition::Unchanged)
        );
        assert!(PublicationState::Published.cancel().is_err());
        assert_eq!(
            PublicationState::parse("CANCELLED"),
            Some(PublicationState::Cancelled)
        );
        assert_eq!(PublicationTiming::OnTime.as_str(), "ON_TIME");
    }
}
