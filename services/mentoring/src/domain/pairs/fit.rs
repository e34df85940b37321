//! Forms of mentoring (rule 3) and the pair types of the regulation (rule 4, §3.4), with
//! whose roles fit each. The educator's place is taken by any pedagogical worker: an
//! EDUCATOR, a YOUNG_SPECIALIST or a TEACHER (choice 3: §1.3 names young specialists and
//! teachers among mentees, and §3.4 has no pair type of their own). In the REVERSE form the
//! type's roles swap: the younger professional, holding the type's mentee role, mentors the
//! experienced one (choice 4, §3.1).

use std::fmt;

use super::PairSide;
use crate::domain::MentoringError;
use crate::domain::roles::ParticipantRole;

/// The pedagogical workers, who take the educator's place in a pair type (choice 3).
pub const EDUCATOR_PLACE: [ParticipantRole; 3] = [
    ParticipantRole::Educator,
    ParticipantRole::YoungSpecialist,
    ParticipantRole::Teacher,
];

/// The form of mentoring of a pair or group (rule 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MentoringForm {
    /// Virtual (remote) mentoring («виртуальное (дистанционное)»).
    Virtual,
    /// Short-term or goal-setting mentoring («краткосрочное или целеполагающее»): meetings
    /// on a fixed schedule toward short-term goals.
    ShortTerm,
    /// Reverse mentoring («реверсивное»): the pair type's roles are read the other way
    /// round.
    Reverse,
    /// Situational mentoring («ситуационное»): help whenever the mentee needs it.
    Situational,
    /// Speed mentoring («скоростное»): a single meeting.
    Speed,
}

impl MentoringForm {
    /// Every form, in the order of the proto enum.
    pub const ALL: [MentoringForm; 5] = [
        MentoringForm::Virtual,
        MentoringForm::ShortTerm,
        MentoringForm::Reverse,
        MentoringForm::Situational,
        MentoringForm::Speed,
    ];

    /// The stored name: the proto value name without its `MENTORING_FORM_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            MentoringForm::Virtual => "VIRTUAL",
            MentoringForm::ShortTerm => "SHORT_TERM",
            MentoringForm::Reverse => "REVERSE",
            MentoringForm::Situational => "SITUATIONAL",
            MentoringForm::Speed => "SPEED",
        }
    }

    /// The form a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    /// The most meetings a pair of this form logs: one for SPEED, no limit otherwise.
    pub fn max_meetings(self) -> Option<u32> {
        match self {
            MentoringForm::Speed => Some(1),
            _ => None,
        }
    }
}

impl fmt::Display for MentoringForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The six pair types of the regulation, each named mentor role first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairType {
    /// «руководитель организации – куратор»: HEAD mentors CURATOR.
    HeadCurator,
    /// «куратор – воспитатель»: CURATOR mentors an educator.
    CuratorEducator,
    /// «воспитатель – вожатый»: an educator mentors COUNSELLOR.
    EducatorCounsellor,
    /// «вожатый – волонтёр»: COUNSELLOR mentors VOLUNTEER.
    CounsellorVolunteer,
    /// «вожатый – воспитанник»: COUNSELLOR mentors PUPIL.
    CounsellorPupil,
    /// «волонтёр – воспитанник»: VOLUNTEER mentors PUPIL.
    VolunteerPupil,
}

impl PairType {
    /// Every pair type, in the order of the proto enum.
    pub const ALL: [PairType; 6] = [
        PairType::HeadCurator,
        PairType::CuratorEducator,
        PairType::EducatorCounsellor,
        PairType::CounsellorVolunteer,
        PairType::CounsellorPupil,
        PairType::VolunteerPupil,
    ];

    /// The stored name: the proto value name without its `PAIR_TYPE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            PairType::HeadCurator => "HEAD_CURATOR",
            PairType::CuratorEducator => "CURATOR_EDUCATOR",
            PairType::EducatorCounsellor => "EDUCATOR_COUNSELLOR",
            PairType::CounsellorVolunteer => "COUNSELLOR_VOLUNTEER",
            PairType::CounsellorPupil => "COUNSELLOR_PUPIL",
            PairType::VolunteerPupil => "VOLUNTEER_PUPIL",
        }
    }

    /// The pair type a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// The roles that take the type's first place, the mentor's in every form but REVERSE.
    pub fn first_place(self) -> &'static [ParticipantRole] {
        use ParticipantRole::*;
        match self {
            PairType::HeadCurator => &[Head],
            PairType::CuratorEducator => &[Curator],
            PairType::EducatorCounsellor => &EDUCATOR_PLACE,
            PairType::CounsellorVolunteer | PairType::CounsellorPupil => &[Counsellor],
            PairType::VolunteerPupil => &[Volunteer],
        }
    }

    /// The roles that take the type's second place, the mentees' in every form but
    /// REVERSE.
    pub fn second_place(self) -> &'static [ParticipantRole] {
        use ParticipantRole::*;
        match self {
            PairType::HeadCurator => &[Curator],
            PairType::CuratorEducator => &EDUCATOR_PLACE,
            PairType::EducatorCounsellor => &[Counsellor],
            PairType::CounsellorVolunteer => &[Volunteer],
            PairType::CounsellorPupil | PairType::VolunteerPupil => &[Pupil],
        }
    }

    /// The roles expected of the mentor and of each mentee in `form`: the type's places in
    /// order, swapped in the REVERSE form (choice 4).
    pub fn expected_roles(
        self,
        form: MentoringForm,
    ) -> (&'static [ParticipantRole], &'static [ParticipantRole]) {
        if form == MentoringForm::Reverse {
            (self.second_place(), self.first_place())
        } else {
            (self.first_place(), self.second_place())
        }
    }

    /// Whether a mentor and a mentee of these roles fit the type in `form`.
    pub fn fits(
        self,
        form: MentoringForm,
        mentor_role: ParticipantRole,
        mentee_role: ParticipantRole,
    ) -> bool {
        let (mentor, mentee) = self.expected_roles(form);
        mentor.contains(&mentor_role) && mentee.contains(&mentee_role)
    }

    /// Rule 4: a mentor and a mentee of these roles must fit the type in `form`; otherwise
    /// `PAIR_TYPE_ROLE_MISMATCH` naming both roles found and the roles expected. The
    /// member is not named here ([`check_members`] names them).
    pub fn check_fit(
        self,
        form: MentoringForm,
        mentor_role: ParticipantRole,
        mentee_role: ParticipantRole,
    ) -> Result<(), MentoringError> {
        let (expected_mentor, expected_mentee) = self.expected_roles(form);
        let mentor_fits = expected_mentor.contains(&mentor_role);
        let mentee_fits = expected_mentee.contains(&mentee_role);
        if mentor_fits && mentee_fits {
            return Ok(());
        }
        Err(MentoringError::PairTypeRoleMismatch(RoleMismatch {
            pair_type: self,
            form,
            mentor_role,
            mentee_role,
            expected_mentor_roles: expected_mentor,
            expected_mentee_roles: expected_mentee,
            side: if mentor_fits {
                PairSide::Mentee
            } else {
                PairSide::Mentor
            },
            participant: None,
        }))
    }
}

impl fmt::Display for PairType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A misfit of roles and pair type, with everything `PAIR_TYPE_ROLE_MISMATCH` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMismatch {
    /// The pair type.
    pub pair_type: PairType,
    /// The form, which decides which way round the roles are read.
    pub form: MentoringForm,
    /// The mentor's role found.
    pub mentor_role: ParticipantRole,
    /// The mentee's role found (the misfitting mentee's, or the first mentee's when the
    /// mentor does not fit).
    pub mentee_role: ParticipantRole,
    /// The roles a mentor of this type and form may hold.
    pub expected_mentor_roles: &'static [ParticipantRole],
    /// The roles a mentee of this type and form may hold.
    pub expected_mentee_roles: &'static [ParticipantRole],
    /// The side that does not fit; the mentor when neither does.
    pub side: PairSide,
    /// The member that does not fit, by resource name, once known.
    pub participant: Option<String>,
}

impl RoleMismatch {
    /// The contract's metadata: `pair_type`, `form`, `mentor_role`, `mentee_role`,
    /// `expected_mentor_role` and `expected_mentee_role` (the fitting roles joined by
    /// commas, in the enum's order, for example `EDUCATOR,YOUNG_SPECIALIST,TEACHER`), and
    /// `participant` when known.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        let mut metadata = vec![
            ("pair_type", self.pair_type.as_str().to_string()),
            ("form", self.form.as_str().to_string()),
            ("mentor_role", self.mentor_role.as_str().to_string()),
            ("mentee_role", self.mentee_role.as_str().to_string()),
            (
                "expected_mentor_role",
                role_list(self.expected_mentor_roles, ","),
            ),
            (
                "expected_mentee_role",
                role_list(self.expected_mentee_roles, ","),
            ),
        ];
        if let Some(participant) = &self.participant {
            metadata.push(("participant", participant.clone()));
        }
        metadata
    }
}

impl fmt::Display for RoleMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {} pair in the {} form takes a mentor who is {} and mentees who are {}; \
             the mentor is {} and the mentee {}",
            self.pair_type,
            self.form,
            role_list(self.expected_mentor_roles, " or "),
            role_list(self.expected_mentee_roles, " or "),
            self.mentor_role,
            self.mentee_role,
        )
    }
}

fn role_list(roles: &[ParticipantRole], separator: &str) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(separator)
}

/// Rule 4 for a whole pair or group: the mentor and every mentee must fit, checked mentee
/// by mentee; the refusal names the member that does not fit (the mentor when they do not,
/// else the first misfitting mentee). Members are `(resource name, role)`.
pub fn check_members(
    pair_type: PairType,
    form: MentoringForm,
    mentor: (&str, ParticipantRole),
    mentees: &[(&str, ParticipantRole)],
) -> Result<(), MentoringError> {
    for &(mentee, mentee_role) in mentees {
        if let Err(MentoringError::PairTypeRoleMismatch(mut mismatch)) =
            pair_type.check_fit(form, mentor.1, mentee_role)
        {
            let who = match mismatch.side {
                PairSide::Mentor => mentor.0,
                PairSide::Mentee => mentee,
            };
            mismatch.participant = Some(who.to_string());
            return Err(MentoringError::PairTypeRoleMismatch(mismatch));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParticipantRole::*;

    const NON_REVERSE: [MentoringForm; 4] = [
        MentoringForm::Virtual,
        MentoringForm::ShortTerm,
        MentoringForm::Situational,
        MentoringForm::Speed,
    ];

    fn mismatch(result: Result<(), MentoringError>) -> RoleMismatch {
        match result {
            Err(MentoringError::PairTypeRoleMismatch(m)) => m,
            other => panic!("expected a role mismatch, got {other:?}"),
        }
    }

    #[test]
    fn all_six_pair_types_fit_their_roles_in_every_form_but_reverse() {
        let fitting = [
            (PairType::HeadCurator, Head, Curator),
            (PairType::CuratorEducator, Curator, Educator),
            (PairType::EducatorCounsellor, Educator, Counsellor),
            (PairType::CounsellorVolunteer, Counsellor, Volunteer),
            (PairType::CounsellorPupil, Counsellor, Pupil),
            (PairType::VolunteerPupil, Volunteer, Pupil),
        ];
        for (pair_type, mentor, mentee) in fitting {
            for form in NON_REVERSE {
                assert_eq!(
                    pair_type.check_fit(form, mentor, mentee),
                    Ok(()),
                    "{pair_type} {form}"
                );
            }
        }
    }

    #[test]
    fn young_specialists_and_teachers_take_the_educators_place() {
        for role in [Educator, YoungSpecialist, Teacher] {
            assert!(PairType::CuratorEducator.fits(MentoringForm::ShortTerm, Curator, role));
            assert!(PairType::EducatorCounsellor.fits(MentoringForm::Virtual, role, Counsellor));
        }
        // Only the educator's place: a teacher is no counsellor.
        assert!(!PairType::CounsellorPupil.fits(MentoringForm::ShortTerm, Teacher, Pupil));
    }

    #[test]
    fn a_misfit_names_both_roles_and_the_expected_ones() {
        let m = mismatch(PairType::CounsellorPupil.check_fit(
            MentoringForm::ShortTerm,
            Counsellor,
            Educator,
        ));
        assert_eq!(m.mentor_role, Counsellor);
        assert_eq!(m.mentee_role, Educator);
        assert_eq!(m.expected_mentor_roles, [Counsellor]);
        assert_eq!(m.expected_mentee_roles, [Pupil]);
        assert_eq!(m.side, PairSide::Mentee);
        assert_eq!(
            m.metadata(),
            vec![
                ("pair_type", "COUNSELLOR_PUPIL".to_string()),
                ("form", "SHORT_TERM".to_string()),
                ("mentor_role", "COUNSELLOR".to_string()),
                ("mentee_role", "EDUCATOR".to_string()),
                ("expected_mentor_role", "COUNSELLOR".to_string()),
                ("expected_mentee_role", "PUPIL".to_string()),
            ]
        );
        let text = MentoringError::PairTypeRoleMismatch(m).to_string();
        assert!(
            text.contains("COUNSELLOR") && text.contains("EDUCATOR"),
            "{text}"
        );

        let m = mismatch(PairType::EducatorCounsellor.check_fit(
            MentoringForm::Virtual,
            Volunteer,
            Counsellor,
        ));
        assert_eq!(m.side, PairSide::Mentor);
        assert_eq!(
            m.metadata()[4],
            (
                "expected_mentor_role",
                "EDUCATOR,YOUNG_SPECIALIST,TEACHER".to_string()
            )
        );
    }

    #[test]
    fn reverse_swaps_the_types_roles() {
        // A young counsellor mentors an experienced educator on new technology.
        assert_eq!(
            PairType::EducatorCounsellor.check_fit(MentoringForm::Reverse, Counsellor, Teacher),
            Ok(())
        );
        assert_eq!(
            PairType::HeadCurator.check_fit(MentoringForm::Reverse, Curator, Head),
            Ok(())
        );
        // The usual direction no longer fits in REVERSE, and the reverse one fits in no
        // other form.
        let m = mismatch(PairType::EducatorCounsellor.check_fit(
            MentoringForm::Reverse,
            Educator,
            Counsellor,
        ));
        assert_eq!(m.expected_mentor_roles, [Counsellor]);
        assert_eq!(m.expected_mentee_roles, EDUCATOR_PLACE);
        assert_eq!(m.form, MentoringForm::Reverse);
        for form in NON_REVERSE {
            assert!(!PairType::EducatorCounsellor.fits(form, Counsellor, Educator));
        }
        for pair_type in PairType::ALL {
            let (mentor, mentee) = pair_type.expected_roles(MentoringForm::Reverse);
            assert_eq!(mentor, pair_type.second_place());
            assert_eq!(mentee, pair_type.first_place());
        }
    }

    #[test]
    fn a_group_names_the_member_that_does_not_fit() {
        let mentor = ("institutions/m/participants/mentor", Volunteer);
        let mentees = [
            ("institutions/m/participants/a", Pupil),
            ("institutions/m/participants/b", Counsellor),
            ("institutions/m/participants/c", Volunteer),
        ];
        let m = mismatch(check_members(
            PairType::VolunteerPupil,
            MentoringForm::Situational,
            mentor,
            &mentees,
        ));
        assert_eq!(
            m.participant.as_deref(),
            Some("institutions/m/participants/b")
        );
        assert_eq!(m.mentee_role, Counsellor);
        assert_eq!(m.metadata().last().map(|(k, _)| *k), Some("participant"));

        let m = mismatch(check_members(
            PairType::CounsellorPupil,
            MentoringForm::Situational,
            mentor,
            &mentees,
        ));
        assert_eq!(
            m.participant.as_deref(),
            Some("institutions/m/participants/mentor")
        );
        assert_eq!(
            check_members(
                PairType::VolunteerPupil,
                MentoringForm::Situational,
                mentor,
                &mentees[..1]
            ),
            Ok(())
        );
    }

    #[test]
    fn speed_allows_a_single_meeting() {
        assert_eq!(MentoringForm::Speed.max_meetings(), Some(1));
        for form in [
            MentoringForm::Virtual,
            MentoringForm::ShortTerm,
            MentoringForm::Reverse,
            MentoringForm::Situational,
        ] {
            assert_eq!(form.max_meetings(), None);
        }
    }

    #[test]
    fn stored_names_round_trip() {
        for form in MentoringForm::ALL {
            assert_eq!(MentoringForm::parse(form.as_str()), Some(form));
        }
        for pair_type in PairType::ALL {
            assert_eq!(PairType::parse(pair_type.as_str()), Some(pair_type));
        }
        assert_eq!(PairType::parse("PAIR_TYPE_HEAD_CURATOR"), None);
    }
}
