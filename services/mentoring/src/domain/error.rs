//! What the rules refuse, as a closed set. The API gives each a gRPC code and the stable
//! reason [`MentoringError::reason`] returns, with the metadata
//! [`MentoringError::metadata`] lists, both exactly as the contract's reason table has them.
//!
//! Only what a rule decides is here: a missing resource, an existing one, a stale etag, a
//! reused request ID, a role or scope the caller lacks and a curator not appointed are the
//! store's and the authorisation's, and the kit has their reasons. Texts and metadata name
//! resources by their resource names (random IDs) and enums by their value names, never a
//! person: no name, birth date or free text about anyone.

use jiff::Timestamp;
use jiff::civil::Date;

use super::banks::Bank;
use super::consent::ConsentPurpose;
use super::pairs::{PairState, RoleMismatch, SpeedLimit};
use super::roles::ParticipantRole;

/// One malformed field, with its path in the request, for `google.rpc.BadRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, for example `agreement.duration_months`.
    pub field: String,
    /// What is wrong with it, without the value when the value could be personal.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A refusal by a rule of the regulation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MentoringError {
    /// Values a rule bounds: an agreement's months, a reason and initiator that do not fit,
    /// the number of mentees. `INVALID_FIELDS`.
    #[error("invalid fields: {}", field_list(.0))]
    InvalidFields(Vec<FieldError>),

    /// A resource's own state forbids the step. `TRANSITION_NOT_ALLOWED`.
    #[error("the {resource} is {state}; this step is not allowed from there")]
    TransitionNotAllowed {
        /// What it is: `pair`, `agreement`, `plan activity`, `monitoring round`, …
        resource: &'static str,
        /// Its state, as the value name without prefix.
        state: &'static str,
    },

    /// Rule 1, choice 6: a minor does not revoke a consent their guardian gave; the guardian
    /// or the staff do. `GUARDIAN_REQUIRED`.
    #[error("the subject is a minor; their guardian or the staff revoke the consent")]
    GuardianRequired,

    /// Rule 1, choice 6: a person under 18 on the give date consents through a parent or
    /// legal representative. `GUARDIAN_CONSENT_REQUIRED`.
    #[error("the subject is under 18 on the give date; a guardian gives the consent ({field})")]
    GuardianConsentRequired {
        /// The field naming the missing guardian: `consent.guardian`, or
        /// `participant.birth_date` when a corrected birth date makes a minor.
        field: &'static str,
    },

    /// Rule 1: nothing is done about a person without the consent in force the act needs.
    /// `CONSENT_MISSING`.
    #[error("{participant} has no consent to {purpose} in force")]
    ConsentMissing {
        /// The participant's resource name.
        participant: String,
        /// The purpose whose consent is missing.
        purpose: ConsentPurpose,
    },

    /// Choice 5: the curator is appointed from the pedagogical and administrative staff.
    /// `PARTICIPANT_ROLE_MISMATCH`.
    #[error("a participant with the role {role} cannot be appointed curator")]
    ParticipantRoleMismatch {
        /// The participant's role.
        role: ParticipantRole,
    },

    /// A role or bank entry does not change under an open pair, whose fit depends on it.
    /// `PARTICIPANT_IN_PAIR`.
    #[error("the participant is in the open pair {pair}")]
    ParticipantInPair {
        /// The FORMING, ACTIVE or SUSPENDED pair or group.
        pair: String,
    },

    /// Rule 2: mentors come from the bank of mentors, mentees from the bank of mentees.
    /// `NOT_IN_BANK`.
    #[error("{participant} is not in the bank of {}", bank_words(.bank))]
    NotInBank {
        /// The participant's resource name.
        participant: String,
        /// The bank they are missing from.
        bank: Bank,
    },

    /// Rule 2: a mentor is paired only after their training. `MENTOR_NOT_TRAINED`.
    #[error("{participant} has not completed the mentors' training")]
    MentorNotTrained {
        /// The mentor's resource name.
        participant: String,
    },

    /// Rule 4: the roles do not fit the pair type and form. `PAIR_TYPE_ROLE_MISMATCH`.
    #[error("{0}")]
    PairTypeRoleMismatch(RoleMismatch),

    /// Choice 1: a mentee is in one open pair or group at a time. `MENTEE_ALREADY_PAIRED`.
    #[error("{participant} is already a mentee of the open pair {pair}")]
    MenteeAlreadyPaired {
        /// The mentee's resource name.
        participant: String,
        /// Their FORMING, ACTIVE or SUSPENDED pair or group.
        pair: String,
    },

    /// Rule 5: activation needs a signed agreement in force. `AGREEMENT_NOT_SIGNED`.
    #[error("the pair has no signed agreement in force")]
    AgreementNotSigned,

    /// Rule 5: activation needs an agreement that has not run out. `AGREEMENT_EXPIRED`.
    #[error("the agreement {agreement} expired after {end_date}")]
    AgreementExpired {
        /// The agreement's resource name.
        agreement: String,
        /// Its last day in force.
        end_date: Date,
    },

    /// Rule 5: activation needs the director's order fixing the pair. `ORDER_MISSING`.
    #[error("the director's order fixing the pair is not recorded")]
    OrderMissing,

    /// The pair is not in a state the step needs. `PAIR_NOT_ACTIVE`.
    #[error("the pair is {state}; this needs it active")]
    PairNotActive {
        /// Its state, FORMING or SUSPENDED.
        state: PairState,
    },

    /// Nothing more is recorded for a closed pair. `PAIR_CLOSED`.
    #[error("the pair is {state}; nothing more is recorded for it")]
    PairClosed {
        /// Its state, COMPLETED or CANCELLED.
        state: PairState,
    },

    /// Rule 8: PLAN_COMPLETED needs every activity DONE or CANCELLED and one DONE.
    /// `PLAN_NOT_COMPLETED`.
    #[error(
        "the plan has {open_activities} open activities and {done_activities} done; \
         a completed plan has none open and at least one done"
    )]
    PlanNotCompleted {
        /// PROPOSED and PLANNED activities.
        open_activities: u32,
        /// DONE activities (for the text; the contract's metadata is the open count).
        done_activities: u32,
    },

    /// Rule 3: speed mentoring is a single meeting. `SINGLE_MEETING_FORM`.
    #[error("{0}")]
    SingleMeetingForm(SpeedLimit),

    /// Rule 6, choice 10: a unilateral termination needs three violations of the other
    /// party. `VIOLATIONS_NOT_SYSTEMATIC`.
    #[error(
        "{violations} violations are recorded against {violator}; \
         a unilateral termination needs {required}"
    )]
    ViolationsNotSystematic {
        /// The other party's resource name.
        violator: String,
        /// Violations recorded against them.
        violations: u32,
        /// Violations needed (3).
        required: u32,
    },

    /// Rule 10: a submitted round's figures are fixed. `MONITORING_ROUND_SUBMITTED`.
    #[error("the monitoring round was submitted at {submitted_at}")]
    MonitoringRoundSubmitted {
        /// When it was submitted.
        submitted_at: Timestamp,
    },

    /// Rule 10: every pair of a round is assessed before it is submitted.
    /// `PAIR_RESULTS_INCOMPLETE`.
    #[error("{unassessed} pair results have no assessment, {pair_result} first")]
    PairResultsIncomplete {
        /// How many results lack an assessment.
        unassessed: u32,
        /// The first of them, by resource name.
        pair_result: String,
    },

    /// Rule 11: the road map is approved with planned dates for every stage.
    /// `ROAD_MAP_INCOMPLETE`.
    #[error("the road-map stage {stage} has no planned dates")]
    RoadMapIncomplete {
        /// The first stage without both planned dates, by resource name.
        stage: String,
    },
}

impl MentoringError {
    /// Every reason code a rule answers with, as in the contract's tables.
    pub const REASONS: [&'static str; 22] = [
        "INVALID_FIELDS",
        "TRANSITION_NOT_ALLOWED",
        "GUARDIAN_REQUIRED",
        "GUARDIAN_CONSENT_REQUIRED",
        "CONSENT_MISSING",
        "PARTICIPANT_ROLE_MISMATCH",
        "PARTICIPANT_IN_PAIR",
        "NOT_IN_BANK",
        "MENTOR_NOT_TRAINED",
        "PAIR_TYPE_ROLE_MISMATCH",
        "MENTEE_ALREADY_PAIRED",
        "AGREEMENT_NOT_SIGNED",
        "AGREEMENT_EXPIRED",
        "ORDER_MISSING",
        "PAIR_NOT_ACTIVE",
        "PAIR_CLOSED",
        "PLAN_NOT_COMPLETED",
        "SINGLE_MEETING_FORM",
        "VIOLATIONS_NOT_SYSTEMATIC",
        "MONITORING_ROUND_SUBMITTED",
        "PAIR_RESULTS_INCOMPLETE",
        "ROAD_MAP_INCOMPLETE",
    ];

    /// A single malformed field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        MentoringError::InvalidFields(vec![FieldError::new(field, message)])
    }

    /// The stable reason code of `google.rpc.ErrorInfo`, exactly as in the contract.
    pub fn reason(&self) -> &'static str {
        use MentoringError::*;
        match self {
            InvalidFields(_) => "INVALID_FIELDS",
            TransitionNotAllowed { .. } => "TRANSITION_NOT_ALLOWED",
            GuardianRequired => "GUARDIAN_REQUIRED",
            GuardianConsentRequired { .. } => "GUARDIAN_CONSENT_REQUIRED",
            ConsentMissing { .. } => "CONSENT_MISSING",
            ParticipantRoleMismatch { .. } => "PARTICIPANT_ROLE_MISMATCH",
            ParticipantInPair { .. } => "PARTICIPANT_IN_PAIR",
            NotInBank { .. } => "NOT_IN_BANK",
            MentorNotTrained { .. } => "MENTOR_NOT_TRAINED",
            PairTypeRoleMismatch(_) => "PAIR_TYPE_ROLE_MISMATCH",
            MenteeAlreadyPaired { .. } => "MENTEE_ALREADY_PAIRED",
            AgreementNotSigned => "AGREEMENT_NOT_SIGNED",
            AgreementExpired { .. } => "AGREEMENT_EXPIRED",
            OrderMissing => "ORDER_MISSING",
            PairNotActive { .. } => "PAIR_NOT_ACTIVE",
            PairClosed { .. } => "PAIR_CLOSED",
            PlanNotCompleted { .. } => "PLAN_NOT_COMPLETED",
            SingleMeetingForm(_) => "SINGLE_MEETING_FORM",
            ViolationsNotSystematic { .. } => "VIOLATIONS_NOT_SYSTEMATIC",
            MonitoringRoundSubmitted { .. } => "MONITORING_ROUND_SUBMITTED",
            PairResultsIncomplete { .. } => "PAIR_RESULTS_INCOMPLETE",
            RoadMapIncomplete { .. } => "ROAD_MAP_INCOMPLETE",
        }
    }

    /// The `google.rpc.ErrorInfo` metadata the contract lists for the reason, keys as
    /// there; enums as value names without prefix, dates as `YYYY-MM-DD`, instants in RFC
    /// 3339. Malformed fields go in `google.rpc.BadRequest` instead ([`Self::InvalidFields`]).
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        use MentoringError::*;
        match self {
            InvalidFields(_) | GuardianRequired | AgreementNotSigned | OrderMissing => vec![],
            TransitionNotAllowed { state, .. } => vec![("state", (*state).to_string())],
            GuardianConsentRequired { field } => vec![("field", (*field).to_string())],
            ConsentMissing {
                participant,
                purpose,
            } => vec![
                ("participant", participant.clone()),
                ("purpose", purpose.as_str().to_string()),
            ],
            ParticipantRoleMismatch { role } => vec![("role", role.as_str().to_string())],
            ParticipantInPair { pair } => vec![("pair", pair.clone())],
            NotInBank { participant, bank } => vec![
                ("participant", participant.clone()),
                ("bank", bank.as_str().to_string()),
            ],
            MentorNotTrained { participant } => vec![("participant", participant.clone())],
            PairTypeRoleMismatch(mismatch) => mismatch.metadata(),
            MenteeAlreadyPaired { participant, pair } => {
                vec![("participant", participant.clone()), ("pair", pair.clone())]
            }
            AgreementExpired {
                agreement,
                end_date,
            } => vec![
                ("agreement", agreement.clone()),
                ("end_date", end_date.to_string()),
            ],
            PairNotActive { state } | PairClosed { state } => {
                vec![("state", state.as_str().to_string())]
            }
            PlanNotCompleted {
                open_activities, ..
            } => vec![("open_activities", open_activities.to_string())],
            SingleMeetingForm(limit) => limit.metadata(),
            ViolationsNotSystematic {
                violator,
                violations,
                required,
            } => vec![
                ("violator", violator.clone()),
                ("violations", violations.to_string()),
                ("required", required.to_string()),
            ],
            MonitoringRoundSubmitted { submitted_at } => {
                vec![("submitted_at", submitted_at.to_string())]
            }
            PairResultsIncomplete {
                unassessed,
                pair_result,
            } => vec![
                ("unassessed", unassessed.to_string()),
                ("pair_result", pair_result.clone()),
            ],
            RoadMapIncomplete { stage } => vec![("stage", stage.clone())],
        }
    }

    /// The malformed fields, for `google.rpc.BadRequest`; empty for every other refusal.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            MentoringError::InvalidFields(fields) => fields,
            _ => &[],
        }
    }
}

fn field_list(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn bank_words(bank: &Bank) -> &'static str {
    match bank {
        Bank::Mentors => "mentors",
        Bank::Mentees => "mentees",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pairs::{MentoringForm, PairType};
    use jiff::civil::date;

    /// One refusal of every kind, for the table tests.
    fn one_of_each() -> Vec<MentoringError> {
        use MentoringError::*;
        let p = "institutions/mechta-saratov/participants/p7x2";
        vec![
            invalid_field("agreement.duration_months", "must be 1 to 36"),
            TransitionNotAllowed {
                resource: "pair",
                state: "COMPLETED",
            },
            GuardianRequired,
            GuardianConsentRequired {
                field: "consent.guardian",
            },
            ConsentMissing {
                participant: p.into(),
                purpose: ConsentPurpose::PersonalData,
            },
            ParticipantRoleMismatch {
                role: ParticipantRole::Pupil,
            },
            ParticipantInPair {
                pair: "institutions/mechta-saratov/pairs/k3".into(),
            },
            NotInBank {
                participant: p.into(),
                bank: Bank::Mentors,
            },
            MentorNotTrained {
                participant: p.into(),
            },
            PairType::CounsellorPupil
                .check_fit(
                    MentoringForm::ShortTerm,
                    ParticipantRole::Counsellor,
                    ParticipantRole::Educator,
                )
                .expect_err("misfit"),
            MenteeAlreadyPaired {
                participant: p.into(),
                pair: "institutions/mechta-saratov/pairs/k3".into(),
            },
            AgreementNotSigned,
            AgreementExpired {
                agreement: "institutions/mechta-saratov/pairs/k3/agreements/a1".into(),
                end_date: date(2025, 5, 31),
            },
            OrderMissing,
            PairNotActive {
                state: PairState::Suspended,
            },
            PairClosed {
                state: PairState::Completed,
            },
            PlanNotCompleted {
                open_activities: 2,
                done_activities: 3,
            },
            SingleMeetingForm(SpeedLimit::SecondMeeting {
                meeting: "institutions/mechta-saratov/pairs/k3/meetings/m1".into(),
            }),
            ViolationsNotSystematic {
                violator: p.into(),
                violations: 2,
                required: 3,
            },
            MonitoringRoundSubmitted {
                submitted_at: "2024-12-20T19:59:00Z".parse().expect("instant"),
            },
            PairResultsIncomplete {
                unassessed: 2,
                pair_result: "institutions/mechta-saratov/monitoringRounds/2024-12/pairResults/r1"
                    .into(),
            },
            RoadMapIncomplete {
                stage: "institutions/mechta-saratov/roadMapStages/mentor-bank".into(),
            },
        ]
    }

    fn invalid_field(field: &str, message: &str) -> MentoringError {
        MentoringError::invalid_field(field, message)
    }

    #[test]
    fn every_variant_has_its_own_reason_from_the_contract_table() {
        let reasons: Vec<&str> = one_of_each().iter().map(MentoringError::reason).collect();
        assert_eq!(reasons, MentoringError::REASONS);
    }

    #[test]
    fn metadata_keys_are_the_contracts() {
        let keys = |e: &MentoringError| -> Vec<&'static str> {
            e.metadata().into_iter().map(|(k, _)| k).collect()
        };
        let all = one_of_each();
        let by_reason = |reason: &str| {
            all.iter()
                .find(|e| e.reason() == reason)
                .expect("one of each")
        };
        assert_eq!(
            keys(by_reason("CONSENT_MISSING")),
            ["participant", "purpose"]
        );
        assert_eq!(
            keys(by_reason("AGREEMENT_EXPIRED")),
            ["agreement", "end_date"]
        );
        assert_eq!(by_reason("AGREEMENT_EXPIRED").metadata()[1].1, "2025-05-31");
        assert_eq!(
            by_reason("VIOLATIONS_NOT_SYSTEMATIC").metadata(),
            vec![
                (
                    "violator",
                    "institutions/mechta-saratov/participants/p7x2".to_string()
                ),
                ("violations", "2".to_string()),
                ("required", "3".to_string()),
            ]
        );
        assert_eq!(
            keys(by_reason("PAIR_TYPE_ROLE_MISMATCH")),
            [
                "pair_type",
                "form",
                "mentor_role",
                "mentee_role",
                "expected_mentor_role",
                "expected_mentee_role"
            ]
        );
        assert_eq!(keys(by_reason("PLAN_NOT_COMPLETED")), ["open_activities"]);
        assert_eq!(keys(by_reason("SINGLE_MEETING_FORM")), ["meeting"]);
        assert_eq!(
            keys(by_reason("PAIR_RESULTS_INCOMPLETE")),
            ["unassessed", "pair_result"]
        );
        assert_eq!(
            by_reason("MONITORING_ROUND_SUBMITTED").metadata()[0].1,
            "2024-12-20T19:59:00Z"
        );
        assert!(by_reason("ORDER_MISSING").metadata().is_empty());
        assert_eq!(
            by_reason("INVALID_FIELDS").field_errors()[0].field,
            "agreement.duration_months"
        );
    }

    #[test]
    fn texts_name_resources_and_enums_only() {
        for error in one_of_each() {
            let text = error.to_string();
            assert!(!text.is_empty(), "{}", error.reason());
            // Cyrillic would mean a name or a free text slipped in.
            assert!(
                !text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)),
                "{text}"
            );
        }
    }
}
