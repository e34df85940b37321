//! The demo programme loaded by `cargo suite up` (issue point 12): the «Мечта» centre in
//! Saratov (`RU-SAR`, Europe/Saratov) running the regulation on mentoring with clearly
//! fictional people — one ACTIVE pair of each of the six pair types, a group of three pupils,
//! a COMPLETED pair, a pupil whose parent revoked the consent (so their pair is SUSPENDED
//! and they show redacted), a plan activity and a meeting, a parent's pending petition for
//! another mentor, a practice in the bank of best practices, a planned press release, and
//! the monitoring round of the current season OPEN.
//!
//! It all happens through the public API, as the regional centre, the director and the
//! appointed curator would do it, in September of the current school year (the calls carry
//! the development clock header, which only a suite in development mode accepts); the
//! monitoring round is opened at the real "now", so it is the current one. Loading twice
//! changes nothing: the institution is registered first, and one that exists means the
//! demo is there.

use jiff::civil::Date as CivilDate;
use jiff::{Timestamp, tz::TimeZone};
use tonic::transport::Channel;
use tonic::{Code, Status};

use edu_kit::auth::dev::DevToken;
use edu_kit::client::{at_instant, with_bearer};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::agreement_service_client::AgreementServiceClient;
use edu_proto::edu::mentoring::v1::institution_service_client::InstitutionServiceClient;
use edu_proto::edu::mentoring::v1::monitoring_service_client::MonitoringServiceClient;
use edu_proto::edu::mentoring::v1::pair_service_client::PairServiceClient;
use edu_proto::edu::mentoring::v1::participant_service_client::ParticipantServiceClient;
use edu_proto::edu::mentoring::v1::plan_service_client::PlanServiceClient;
use edu_proto::edu::mentoring::v1::publication_service_client::PublicationServiceClient;
use edu_proto::google::r#type::Date;

/// The demo institution's ID.
pub const INSTITUTION_ID: &str = "mechta-saratov";
/// Its region.
pub const REGION: &str = "RU-SAR";
/// Its zone.
pub const ZONE: &str = "Europe/Saratov";

/// The token subject of the appointed curator.
const CURATOR_SUBJECT: &str = "demo-mentoring-curator";

/// The regional mentoring centre's development token.
pub fn regional_centre() -> String {
    DevToken::new("demo-mentoring-centre")
        .role("mentoring.regional_centre")
        .scope(format!("region:{REGION}"))
        .name("Региональный центр наставничества (демо)")
        .sign()
}

/// The director's development token.
pub fn director() -> String {
    DevToken::new("demo-mentoring-director")
        .role("mentoring.director")
        .scope(format!("institution:{INSTITUTION_ID}"))
        .name("Директор «Мечты» (демо)")
        .sign()
}

/// The appointed curator's development token.
pub fn curator() -> String {
    DevToken::new(CURATOR_SUBJECT)
        .role("mentoring.curator")
        .scope(format!("institution:{INSTITUTION_ID}"))
        .sign()
}

/// The token subject demo participant `key` (for example `counsellor`) signs in with.
pub fn subject_of(key: &str) -> String {
    if key == "curator" {
        CURATOR_SUBJECT.to_string()
    } else {
        format!("demo-mentoring-{key}")
    }
}

/// The development token of demo participant `key`, signed in as themselves.
pub fn participant(key: &str) -> String {
    DevToken::new(subject_of(key))
        .role("mentoring.participant")
        .scope(format!("institution:{INSTITUTION_ID}"))
        .sign()
}

/// The development token of the parent of demo pupil `key`.
pub fn guardian(key: &str) -> String {
    DevToken::new(format!("demo-mentoring-parent-{key}"))
        .role("mentoring.guardian")
        .scope(format!("institution:{INSTITUTION_ID}"))
        .sign()
}

/// A fictional person: (key, family name, given name, patronymic, birth date (y, m, d),
/// role, position, mentor (trained), mentee).
type PersonRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (i32, i32, i32),
    pb::ParticipantRole,
    &'static str,
    bool,
    bool,
);

#[rustfmt::skip]
const PEOPLE: [PersonRow; 15] = {
    use pb::ParticipantRole::*;
    [
        ("head", "Образцова", "Галина", "Петровна", (1970, 4, 12), Head, "заместитель директора (демо)", true, false),
        ("curator", "Примерова", "Елена", "Викторовна", (1982, 9, 3), Curator, "методист (демо)", true, true),
        ("educator", "Условный", "Андрей", "Сергеевич", (1986, 1, 20), Educator, "педагог дополнительного образования (демо)", true, true),
        ("young-specialist", "Новикова-Демо", "Дарья", "Андреевна", (2001, 6, 14), YoungSpecialist, "педагог-организатор (демо)", false, true),
        ("counsellor", "Пробная", "Ольга", "Игоревна", (1990, 11, 2), Counsellor, "вожатая (демо)", true, true),
        ("counsellor-group", "Макетов", "Игорь", "Павлович", (1993, 2, 27), Counsellor, "вожатый (демо)", true, false),
        ("volunteer", "Демонстров", "Кирилл", "Олегович", (2005, 8, 8), Volunteer, "волонтёр (демо)", true, true),
        ("pupil-1", "Эскизов", "Миша", "", (2012, 5, 5), Pupil, "", false, true),
        ("pupil-2", "Черновая", "Соня", "", (2011, 3, 18), Pupil, "", false, true),
        ("pupil-3", "Пилотов", "Артём", "", (2013, 10, 1), Pupil, "", false, true),
        ("pupil-4", "Опытова", "Вера", "", (2012, 12, 24), Pupil, "", false, true),
        ("pupil-5", "Шаблонов", "Лёва", "", (2013, 7, 9), Pupil, "", false, true),
        ("pupil-6", "Образчикова", "Аня", "", (2011, 9, 30), Pupil, "", false, true),
        ("pupil-7", "Пробников", "Гоша", "", (2012, 1, 15), Pupil, "", false, true),
        ("pupil-8", "Вымыслова", "Катя", "", (2012, 8, 19), Pupil, "", false, true),
    ]
};

/// The pairs: (key, type, form, mentor key, mentee keys, goal).
type PairRow = (
    &'static str,
    pb::PairType,
    pb::MentoringForm,
    &'static str,
    &'static [&'static str],
    &'static str,
);

#[rustfmt::skip]
const PAIRS: [PairRow; 9] = {
    use pb::MentoringForm::*;
    use pb::PairType::*;
    [
        ("head-curator", HeadCurator, Situational, "head", &["curator"], "Куратор осваивает управление программой наставничества"),
        ("curator-educator", CuratorEducator, ShortTerm, "curator", &["young-specialist"], "Молодой специалист входит в профессию"),
        ("educator-counsellor", EducatorCounsellor, Virtual, "educator", &["counsellor"], "Вожатая готовит авторскую программу смены"),
        ("counsellor-volunteer", CounsellorVolunteer, ShortTerm, "counsellor", &["volunteer"], "Волонтёр учится вести отрядные дела"),
        ("counsellor-pupil", CounsellorPupil, ShortTerm, "counsellor", &["pupil-1"], "Адаптация в отряде и выбор кружка"),
        ("volunteer-pupil", VolunteerPupil, ShortTerm, "volunteer", &["pupil-2"], "Подготовка к конкурсу юных экскурсоводов"),
        ("group", CounsellorPupil, ShortTerm, "counsellor-group", &["pupil-3", "pupil-4", "pupil-5"], "Туристический поход своей командой"),
        ("completed", VolunteerPupil, Situational, "volunteer", &["pupil-6"], "Помощь в первые дни смены"),
        ("suspended", CounsellorPupil, ShortTerm, "counsellor", &["pupil-7"], "Развитие лидерских качеств"),
    ]
};

/// The day of the school year the demo happens in: 1 September of the year whose September
/// has passed by at least a month, so every instant below is in the past.
fn school_year(today: CivilDate) -> i16 {
    if today.month() >= 10 {
        today.year()
    } else {
        today.year() - 1
    }
}

/// Loads the demo through `channel` (the gateway); returns what was loaded.
pub async fn load(channel: Channel) -> Result<Vec<String>, Status> {
    let now = Timestamp::now().to_zoned(TimeZone::get(ZONE).map_err(internal)?);
    let year = i32::from(school_year(now.date()));
    let at = |month: i32, day: i32, hour: i32| {
        format!("{year}-{month:02}-{day:02}T{hour:02}:00:00+04:00")
    };
    let date = |month: i32, day: i32| Some(Date { year, month, day });

    let mut institutions = InstitutionServiceClient::new(channel.clone());
    let registered = institutions
        .create_institution(call(
            &regional_centre(),
            &at(8, 25, 10),
            pb::CreateInstitutionRequest {
                institution: Some(pb::Institution {
                    display_name: "Муниципальное учреждение дополнительного образования \
                                   «Детский оздоровительно-образовательный центр «Мечта» (демо)"
                        .into(),
                    short_name: "ДООЦ «Мечта» (демо)".into(),
                    region_code: REGION.into(),
                    time_zone: ZONE.into(),
                    regulation: "Положение о наставничестве (демо)".into(),
                    ..Default::default()
                }),
                institution_id: INSTITUTION_ID.into(),
                request_id: String::new(),
            },
        ))
        .await;
    match registered {
        Ok(_) => {}
        Err(status) if status.code() == Code::AlreadyExists => {
            return Ok(vec![format!(
                "«Мечта» (institutions/{INSTITUTION_ID}) was already loaded"
            )]);
        }
        Err(status) => return Err(status),
    }
    let parent = format!("institutions/{INSTITUTION_ID}");

    // The director records everyone with their consent on the first of September; a
    // pupil's consent is given by a parent.
    let director = director();
    let mut participants = ParticipantServiceClient::new(channel.clone());
    let mut names: Vec<(&str, String, String)> = Vec::new();
    for (key, family, given, patronymic, (y, m, d), role, position, mentor, mentee) in PEOPLE {
        let minor = role == pb::ParticipantRole::Pupil;
        let subject = subject_of(key);
        let created = participants
            .create_participant(call(
                &director,
                &at(9, 1, 10),
                pb::CreateParticipantRequest {
                    parent: parent.clone(),
                    participant: Some(pb::Participant {
                        family_name: family.into(),
                        given_name: given.into(),
                        patronymic: patronymic.into(),
                        birth_date: Some(Date {
                            year: y,
                            month: m,
                            day: d,
                        }),
                        role: role as i32,
                        subject,
                        position: position.into(),
                        mentor_profile: mentor.then(|| pb::MentorProfile {
                            competences: vec!["организация досуга".into(), "туризм".into()],
                            request: String::new(),
                            experience: "Работа в лагере не менее трёх смен".into(),
                            preferred_forms: vec![],
                        }),
                        mentee_profile: mentee.then(|| pb::MenteeProfile {
                            request: "Адаптация и развитие".into(),
                            competences: vec![],
                            preferred_forms: vec![],
                        }),
                        mentor_training: mentor.then(|| pb::MentorTraining {
                            complete_date: date(8, 28),
                            programme: "Школа наставника (демо)".into(),
                            record_time: None,
                        }),
                        ..Default::default()
                    }),
                    consent: Some(pb::Consent {
                        purpose: pb::ConsentPurpose::PersonalData as i32,
                        guardian: minor.then(|| pb::Guardian {
                            family_name: family.into(),
                            given_name: "Родитель".into(),
                            patronymic: String::new(),
                            relation: pb::GuardianRelation::Parent as i32,
                            subject: format!("demo-mentoring-parent-{key}"),
                        }),
                        give_date: date(9, 1),
                        document: "Согласие на обработку персональных данных (приложение № 2)"
                            .into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await?
            .into_inner();
        names.push((key, created.name, created.consent));
    }
    let name_of = |key: &str| -> Result<String, Status> {
        names
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, name, _)| name.clone())
            .ok_or_else(|| Status::internal(format!("demo person {key} is missing")))
    };

    institutions
        .appoint_curator(call(
            &director,
            &at(9, 1, 12),
            pb::AppointCuratorRequest {
                name: parent.clone(),
                curator: name_of("curator")?,
                basis: format!("Приказ № 45-о от 01.09.{year} (демо)"),
                etag: String::new(),
                request_id: String::new(),
            },
        ))
        .await?;

    // The curator forms the pairs and records their agreements; the director fixes them by
    // order; the curator activates them.
    let curator = curator();
    let mut pairs = PairServiceClient::new(channel.clone());
    let mut agreements = AgreementServiceClient::new(channel.clone());
    let mut formed: Vec<(&str, String)> = Vec::new();
    for (key, pair_type, form, mentor, mentees, goal) in PAIRS {
        let mentees = mentees
            .iter()
            .map(|m| name_of(m))
            .collect::<Result<Vec<_>, _>>()?;
        let kind = if mentees.len() > 1 {
            pb::PairKind::Group
        } else {
            pb::PairKind::Pair
        };
        let pair = pairs
            .create_pair(call(
                &curator,
                &at(9, 1, 14),
                pb::CreatePairRequest {
                    parent: parent.clone(),
                    pair: Some(pb::Pair {
                        pair_type: pair_type as i32,
                        form: form as i32,
                        kind: kind as i32,
                        mentor: name_of(mentor)?,
                        mentees,
                        goal: goal.into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await?
            .into_inner();
        agreements
            .create_agreement(call(
                &curator,
                &at(9, 2, 10),
                pb::CreateAgreementRequest {
                    parent: pair.name.clone(),
                    agreement: Some(pb::Agreement {
                        tasks: vec![
                            "Составить индивидуальный план".into(),
                            "Встречаться не реже раза в неделю".into(),
                        ],
                        duration_months: 12,
                        sign_date: date(9, 2),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await?;
        let ordered = pb::Pair {
            name: pair.name.clone(),
            order: Some(pb::DirectorOrder {
                number: format!("{}-н", 50 + formed.len()),
                order_date: date(9, 3),
                record_time: None,
            }),
            ..Default::default()
        };
        pairs
            .update_pair(call(
                &director,
                &at(9, 3, 10),
                pb::UpdatePairRequest {
                    pair: Some(ordered),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["order".into()],
                    }),
                },
            ))
            .await?;
        pairs
            .activate_pair(call(
                &curator,
                &at(9, 5, 10),
                pb::ActivatePairRequest {
                    name: pair.name.clone(),
                    etag: String::new(),
                    request_id: String::new(),
                },
            ))
            .await?;
        formed.push((key, pair.name));
    }
    let pair_of = |key: &str| -> Result<String, Status> {
        formed
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, name)| name.clone())
            .ok_or_else(|| Status::internal(format!("demo pair {key} is missing")))
    };

    // The counsellor–pupil pair's plan and first meeting.
    let mut plans = PlanServiceClient::new(channel.clone());
    let counsellor_pupil = pair_of("counsellor-pupil")?;
    let activity = plans
        .create_plan_activity(call(
            &curator,
            &at(9, 8, 10),
            pb::CreatePlanActivityRequest {
                parent: counsellor_pupil.clone(),
                plan_activity: Some(pb::PlanActivity {
                    title: "Выбрать кружок и сходить на первое занятие".into(),
                    description: "Вместе обойти кружки центра и выбрать один".into(),
                    due_date: date(9, 20),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await?
        .into_inner();
    plans
        .create_meeting(call(
            &curator,
            &at(9, 10, 18),
            pb::CreateMeetingRequest {
                parent: counsellor_pupil,
                meeting: Some(pb::Meeting {
                    meet_date: date(9, 10),
                    duration_minutes: 45,
                    format: pb::MeetingFormat::InPerson as i32,
                    topic: "Знакомство и правила отряда".into(),
                    notes: "Договорились о встречах по средам".into(),
                    plan_activity: activity.name,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await?;

    // One pair ends early, at the mentee's request.
    pairs
        .complete_pair(call(
            &curator,
            &at(9, 25, 10),
            pb::CompletePairRequest {
                name: pair_of("completed")?,
                completion: Some(pb::Completion {
                    reason: pb::CompletionReason::ValidReason as i32,
                    initiator: pb::CompletionInitiator::Mentee as i32,
                    explanation: "Семья переехала в другой город".into(),
                    complete_date: date(9, 25),
                    record_time: None,
                }),
                mentee: String::new(),
                etag: String::new(),
                request_id: String::new(),
            },
        ))
        .await?;

    // A parent revokes their child's consent: the pair is suspended, the child redacted.
    let revoked = names
        .iter()
        .find(|(k, _, _)| *k == "pupil-7")
        .map(|(_, _, consent)| consent.clone())
        .ok_or_else(|| Status::internal("demo person pupil-7 is missing"))?;
    participants
        .revoke_consent(call(
            &curator,
            &at(9, 28, 10),
            pb::RevokeConsentRequest {
                name: revoked,
                statement: "Заявление родителя об отзыве согласия (демо)".into(),
                etag: String::new(),
                request_id: String::new(),
            },
        ))
        .await?;

    // A parent asks for another mentor for their child (pending, for the director), the
    // centre's practice goes into the bank of best practices, and the press release of the
    // autumn meeting of mentors is planned.
    pairs
        .create_replacement_petition(call(
            &guardian("pupil-2"),
            &at(9, 20, 19),
            pb::CreateReplacementPetitionRequest {
                parent: pair_of("volunteer-pupil")?,
                replacement_petition: Some(pb::ReplacementPetition {
                    reason: "Не удалось договориться о времени встреч".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await?;
    institutions
        .create_practice(call(
            &curator,
            &at(9, 26, 10),
            pb::CreatePracticeRequest {
                parent: parent.clone(),
                practice: Some(pb::Practice {
                    title: "Вожатый-наставник в первой смене".into(),
                    summary: "Старший вожатый сопровождает новичка от заезда до закрытия смены: \
                              ежедневная короткая встреча, общий план отрядных дел, разбор \
                              трудных ситуаций."
                        .into(),
                    results: "Новички быстрее входят в коллектив отряда".into(),
                    form: pb::MentoringForm::ShortTerm as i32,
                    pair_type: pb::PairType::CounsellorPupil as i32,
                    year,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await?;
    plan_press_release(&channel, &curator, &parent, &at(9, 26, 11), date(10, 15)).await?;

    // The monitoring round of the current season, opened now.
    let (season, round_year) = current_season(now.date());
    let round = MonitoringServiceClient::new(channel)
        .create_monitoring_round(with_bearer(
            tonic::Request::new(pb::CreateMonitoringRoundRequest {
                parent: parent.clone(),
                monitoring_round: Some(pb::MonitoringRound {
                    season: season as i32,
                    year: round_year,
                    ..Default::default()
                }),
                request_id: String::new(),
            }),
            &curator,
        ))
        .await?
        .into_inner();

    Ok(vec![format!(
        "«Мечта» ({parent}, {REGION}): {} fictional participants, one ACTIVE pair of each of \
         the six types and a group, {} COMPLETED, {} SUSPENDED after a revoked consent; \
         monitoring round {} OPEN",
        PEOPLE.len(),
        pair_of("completed")?,
        pair_of("suspended")?,
        round.name
    )])
}

/// Plans the press release of the autumn meeting of mentors on `event_date`.
async fn plan_press_release(
    channel: &Channel,
    curator: &str,
    parent: &str,
    instant: &str,
    event_date: Option<Date>,
) -> Result<(), Status> {
    PublicationServiceClient::new(channel.clone())
        .create_publication(call(
            curator,
            instant,
            pb::CreatePublicationRequest {
                parent: parent.to_string(),
                publication: Some(pb::Publication {
                    kind: pb::PublicationKind::PressRelease as i32,
                    title: "Осенний слёт наставников «Мечты»".into(),
                    event_title: "Слёт наставников".into(),
                    event_date,
                    channels: vec![
                        pb::PublicationChannel::Website as i32,
                        pb::PublicationChannel::Vk as i32,
                    ],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await?;
    Ok(())
}

/// The season whose round is due next: May's until 20 May, December's until 20 December,
/// then next year's May.
fn current_season(today: CivilDate) -> (pb::MonitoringSeason, i32) {
    let (month, day, year) = (today.month(), today.day(), i32::from(today.year()));
    if month < 5 || (month == 5 && day <= 20) {
        (pb::MonitoringSeason::May, year)
    } else if month < 12 || day <= 20 {
        (pb::MonitoringSeason::December, year)
    } else {
        (pb::MonitoringSeason::May, year + 1)
    }
}

/// What `<service> demo` prints: the demo loaded through `channel`.
pub async fn describe(channel: Channel) -> Result<Vec<String>, Status> {
    load(channel).await
}

fn call<T>(token: &str, instant: &str, body: T) -> tonic::Request<T> {
    at_instant(with_bearer(tonic::Request::new(body), token), instant)
}

fn internal(error: impl std::fmt::Display) -> Status {
    Status::internal(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_demo_happens_in_a_september_at_least_a_month_past() {
        assert_eq!(school_year(date(2026, 11, 26)), 2026);
        assert_eq!(school_year(date(2026, 10, 1)), 2026);
        assert_eq!(school_year(date(2026, 9, 30)), 2025);
        assert_eq!(school_year(date(2027, 3, 1)), 2026);
    }

    #[test]
    fn the_current_round_is_the_next_one_due() {
        for (today, expected) in [
            (date(2026, 11, 26), (pb::MonitoringSeason::December, 2026)),
            (date(2026, 12, 20), (pb::MonitoringSeason::December, 2026)),
            (date(2026, 12, 21), (pb::MonitoringSeason::May, 2027)),
            (date(2027, 5, 20), (pb::MonitoringSeason::May, 2027)),
            (date(2027, 5, 21), (pb::MonitoringSeason::December, 2027)),
        ] {
            assert_eq!(current_season(today), expected, "{today}");
        }
    }
}
