//! The one mapping from the regulation's refusals to gRPC: code, stable reason (exactly the
//! contract's reason table, `services/mentoring/README.md`), and the metadata the domain
//! lists for it. Texts and metadata never hold a name, a birth date or free text about a
//! person: only resource names with random IDs and enum value names.

use edu_kit::ApiError;
use edu_kit::error::{ErrorKind, FieldProblem, Reason};

use crate::domain::MentoringError;

/// This service's reasons, with the Russian sentence a caller's user reads.
pub mod reason {
    use edu_kit::error::Reason;

    /// A curator token whose subject is not the appointed curator.
    pub const CURATOR_NOT_APPOINTED: Reason = Reason::new(
        "CURATOR_NOT_APPOINTED",
        "Вы не назначены куратором программы наставничества этой организации.",
    );
    /// Acting beyond the token's scope: a regional centre registering an institution of
    /// another region, a mentee or guardian petitioning for another mentee of the group.
    /// The sentence is the registration's; a petition says its own
    /// ([`edu_kit::ApiError::in_russian`]).
    pub const SCOPE_REQUIRED: Reason = Reason::new(
        "SCOPE_REQUIRED",
        "Региональный центр регистрирует организации только своего региона.",
    );
    /// A minor revoking a consent their guardian gave.
    pub const GUARDIAN_REQUIRED: Reason = Reason::new(
        "GUARDIAN_REQUIRED",
        "Согласие несовершеннолетнего отзывает его законный представитель.",
    );
    /// A minor's consent without a guardian.
    pub const GUARDIAN_CONSENT_REQUIRED: Reason = Reason::new(
        "GUARDIAN_CONSENT_REQUIRED",
        "За лицо младше 18 лет согласие даёт родитель или иной законный представитель.",
    );
    /// No consent in force for the act.
    pub const CONSENT_MISSING: Reason = Reason::new(
        "CONSENT_MISSING",
        "Нет действующего согласия участника на это действие.",
    );
    /// Appointing as curator someone whose role may not serve.
    pub const PARTICIPANT_ROLE_MISMATCH: Reason = Reason::new(
        "PARTICIPANT_ROLE_MISMATCH",
        "Куратором назначается педагогический или административный работник.",
    );
    /// A role or bank entry under an open pair.
    pub const PARTICIPANT_IN_PAIR: Reason = Reason::new(
        "PARTICIPANT_IN_PAIR",
        "Участник состоит в действующей паре или группе.",
    );
    /// Pairing someone outside the bank.
    pub const NOT_IN_BANK: Reason = Reason::new(
        "NOT_IN_BANK",
        "Участник не включён в банк наставников или наставляемых.",
    );
    /// An untrained mentor.
    pub const MENTOR_NOT_TRAINED: Reason =
        Reason::new("MENTOR_NOT_TRAINED", "Наставник не прошёл обучение.");
    /// Roles that do not fit the pair type and form.
    pub const PAIR_TYPE_ROLE_MISMATCH: Reason = Reason::new(
        "PAIR_TYPE_ROLE_MISMATCH",
        "Роли участников не соответствуют типу пары и форме наставничества.",
    );
    /// A mentee already in an open pair or group.
    pub const MENTEE_ALREADY_PAIRED: Reason = Reason::new(
        "MENTEE_ALREADY_PAIRED",
        "Наставляемый уже состоит в действующей паре или группе.",
    );
    /// Activation without a signed agreement in force.
    pub const AGREEMENT_NOT_SIGNED: Reason = Reason::new(
        "AGREEMENT_NOT_SIGNED",
        "Нет подписанного действующего соглашения.",
    );
    /// Activation with an expired agreement.
    pub const AGREEMENT_EXPIRED: Reason =
        Reason::new("AGREEMENT_EXPIRED", "Срок действия соглашения истёк.");
    /// Activation without the director's order.
    pub const ORDER_MISSING: Reason =
        Reason::new("ORDER_MISSING", "Нет приказа директора о закреплении пары.");
    /// The pair is not in a state the step needs.
    pub const PAIR_NOT_ACTIVE: Reason =
        Reason::new("PAIR_NOT_ACTIVE", "Пара или группа сейчас не работает.");
    /// Anything recorded for a closed pair.
    pub const PAIR_CLOSED: Reason = Reason::new(
        "PAIR_CLOSED",
        "Работа пары или группы завершена или отменена.",
    );
    /// Completing with PLAN_COMPLETED while activities are open.
    pub const PLAN_NOT_COMPLETED: Reason =
        Reason::new("PLAN_NOT_COMPLETED", "Индивидуальный план ещё не выполнен.");
    /// A second meeting of a SPEED pair.
    pub const SINGLE_MEETING_FORM: Reason = Reason::new(
        "SINGLE_MEETING_FORM",
        "Скоростное наставничество — это одна встреча.",
    );
    /// A unilateral termination below three violations.
    pub const VIOLATIONS_NOT_SYSTEMATIC: Reason = Reason::new(
        "VIOLATIONS_NOT_SYSTEMATIC",
        "Для расторжения в одностороннем порядке нужны систематические нарушения другой стороны.",
    );
    /// Answering or assessing in a submitted round.
    pub const MONITORING_ROUND_SUBMITTED: Reason =
        Reason::new("MONITORING_ROUND_SUBMITTED", "Мониторинг уже сдан.");
    /// Submitting a round with unassessed pairs.
    pub const PAIR_RESULTS_INCOMPLETE: Reason = Reason::new(
        "PAIR_RESULTS_INCOMPLETE",
        "Не все пары мониторинга оценены.",
    );
    /// Approving a road map with an unplanned stage.
    pub const ROAD_MAP_INCOMPLETE: Reason = Reason::new(
        "ROAD_MAP_INCOMPLETE",
        "Не у всех этапов дорожной карты есть плановые сроки.",
    );
}

/// The gRPC code and reason of each refusal, as the contract's reason table has them.
fn kind_and_reason(error: &MentoringError) -> (ErrorKind, Reason) {
    use ErrorKind::{FailedPrecondition, InvalidArgument, PermissionDenied};
    use MentoringError::*;
    match error {
        InvalidFields(_) => (InvalidArgument, edu_kit::error::reason::INVALID_FIELDS),
        TransitionNotAllowed { .. } => (
            FailedPrecondition,
            edu_kit::error::reason::TRANSITION_NOT_ALLOWED,
        ),
        GuardianRequired => (PermissionDenied, reason::GUARDIAN_REQUIRED),
        GuardianConsentRequired { .. } => (InvalidArgument, reason::GUARDIAN_CONSENT_REQUIRED),
        ConsentMissing { .. } => (FailedPrecondition, reason::CONSENT_MISSING),
        ParticipantRoleMismatch { .. } => (FailedPrecondition, reason::PARTICIPANT_ROLE_MISMATCH),
        ParticipantInPair { .. } => (FailedPrecondition, reason::PARTICIPANT_IN_PAIR),
        NotInBank { .. } => (FailedPrecondition, reason::NOT_IN_BANK),
        MentorNotTrained { .. } => (FailedPrecondition, reason::MENTOR_NOT_TRAINED),
        PairTypeRoleMismatch(_) => (FailedPrecondition, reason::PAIR_TYPE_ROLE_MISMATCH),
        MenteeAlreadyPaired { .. } => (FailedPrecondition, reason::MENTEE_ALREADY_PAIRED),
        AgreementNotSigned => (FailedPrecondition, reason::AGREEMENT_NOT_SIGNED),
        AgreementExpired { .. } => (FailedPrecondition, reason::AGREEMENT_EXPIRED),
        OrderMissing => (FailedPrecondition, reason::ORDER_MISSING),
        PairNotActive { .. } => (FailedPrecondition, reason::PAIR_NOT_ACTIVE),
        PairClosed { .. } => (FailedPrecondition, reason::PAIR_CLOSED),
        PlanNotCompleted { .. } => (FailedPrecondition, reason::PLAN_NOT_COMPLETED),
        SingleMeetingForm(_) => (FailedPrecondition, reason::SINGLE_MEETING_FORM),
        ViolationsNotSystematic { .. } => (FailedPrecondition, reason::VIOLATIONS_NOT_SYSTEMATIC),
        MonitoringRoundSubmitted { .. } => (FailedPrecondition, reason::MONITORING_ROUND_SUBMITTED),
        PairResultsIncomplete { .. } => (FailedPrecondition, reason::PAIR_RESULTS_INCOMPLETE),
        RoadMapIncomplete { .. } => (FailedPrecondition, reason::ROAD_MAP_INCOMPLETE),
    }
}

impl From<MentoringError> for ApiError {
    fn from(error: MentoringError) -> Self {
        if let MentoringError::InvalidFields(fields) = &error {
            return ApiError::invalid_fields(
                fields
                    .iter()
                    .map(|f| FieldProblem {
                        field: f.field.clone(),
                        description: f.message.clone(),
                    })
                    .collect(),
            );
        }
        let (kind, reason) = kind_and_reason(&error);
        let mut api = ApiError::new(kind, reason, error.to_string());
        for (key, value) in error.metadata() {
            api = api.with_metadata(key, value);
        }
        api
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::consent::ConsentPurpose;
    use tonic::Code;

    #[test]
    fn each_reason_keeps_its_code_and_metadata() {
        let refusal = MentoringError::ConsentMissing {
            participant: "institutions/m/participants/p1".into(),
            purpose: ConsentPurpose::PersonalData,
        };
        let api = ApiError::from(refusal);
        assert_eq!(api.reason.code(), "CONSENT_MISSING");
        assert_eq!(api.metadata("purpose"), Some("PERSONAL_DATA"));
        assert_eq!(tonic::Status::from(api).code(), Code::FailedPrecondition);

        let minor = ApiError::from(MentoringError::GuardianConsentRequired {
            field: "consent.guardian",
        });
        assert_eq!(tonic::Status::from(minor).code(), Code::InvalidArgument);
        let revoking = ApiError::from(MentoringError::GuardianRequired);
        assert_eq!(tonic::Status::from(revoking).code(), Code::PermissionDenied);
        let fields = ApiError::from(MentoringError::invalid_field("pair.mentees", "none"));
        assert_eq!(fields.reason.code(), "INVALID_FIELDS");
        assert_eq!(fields.fields()[0].field, "pair.mentees");
    }

    #[test]
    fn the_reason_sent_is_the_one_the_domain_names() {
        use crate::domain::PairState;
        let refusals = [
            MentoringError::TransitionNotAllowed {
                resource: "pair",
                state: "ACTIVE",
            },
            MentoringError::GuardianRequired,
            MentoringError::AgreementNotSigned,
            MentoringError::OrderMissing,
            MentoringError::MenteeAlreadyPaired {
                participant: "p".into(),
                pair: "q".into(),
            },
            MentoringError::PairClosed {
                state: PairState::Completed,
            },
            MentoringError::ViolationsNotSystematic {
                violator: "p".into(),
                violations: 2,
                required: 3,
            },
        ];
        for refusal in refusals {
            let expected = refusal.reason();
            assert_eq!(ApiError::from(refusal).reason.code(), expected);
        }
    }
}
