//! The programme of the source document as demo data: the contest «Детство без границ» of
//! the Agency for Strategic Initiatives with its seven nominations in their order,
//! applications until 31 January (end of day, Moscow), winners by 22 March. Loaded through
//! the public API like any organiser would, and idempotently: the contest has a fixed ID per
//! cycle, so a second load finds it and changes nothing.

pub mod announced;

use jiff::Timestamp;
use jiff::civil::Date;
use tonic::transport::Channel;
use tonic::{Code, Status};

use edu_kit::client::with_bearer;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::contest_service_client::ContestServiceClient;
use edu_proto::google::r#type::Date as PbDate;

/// The zone the contest's dates are read in.
pub const TIME_ZONE: &str = "Europe/Moscow";

/// The nominations of the source document, in its order, with stable IDs.
pub const NOMINATIONS: [(&str, &str); 7] = [
    ("health", "Здоровьесбережение с детства"),
    ("family", "Благополучие семей с детьми"),
    (
        "development",
        "Всестороннее развитие, обучение, воспитание детей",
    ),
    (
        "disability",
        "Качество жизни детей с ограниченными возможностями здоровья, детей с инвалидностью",
    ),
    ("infrastructure", "Инфраструктура детства"),
    (
        "orphans",
        "Защита детей, оставшихся без попечения родителей",
    ),
    ("safety", "Безопасность детей"),
];

/// The cycle of the contest that accepts applications on `today` (in Moscow): its
/// deadline is the next 31 January on or after today.
pub fn cycle_year(today: Date) -> i16 {
    if (today.month(), today.day()) <= (1, 31) {
        today.year()
    } else {
        today.year() + 1
    }
}

/// The contest's resource ID for a cycle.
pub fn contest_id(year: i16) -> String {
    format!("detstvo-bez-granits-{year}")
}

fn date(year: i16, month: i32, day: i32) -> PbDate {
    PbDate {
        year: i32::from(year),
        month,
        day,
    }
}

/// The contest as its organiser would create it.
pub fn contest(year: i16) -> pb::Contest {
    pb::Contest {
        title: "Детство без границ: конкурс лучших практик в сфере детства".into(),
        organiser: "Агентство стратегических инициатив при поддержке Московского государственного психолого-педагогического университета".into(),
        description: "Цель конкурса – развитие и распространение практик в сфере образования и социальной защиты детей, \
                      создание условий для повышения качества жизни семей с детьми через тиражирование лучших решений \
                      в регионах России. Участвуют региональные и муниципальные управленческие команды. Практики \
                      победителей размещаются в каталоге лучших практик платформы «Смартека» и предлагаются для \
                      тиражирования в других регионах."
            .into(),
        time_zone: TIME_ZONE.into(),
        application_deadline: Some(date(year, 1, 31)),
        results_due: Some(date(year, 3, 22)),
        nominations: NOMINATIONS
            .iter()
            .map(|(id, title)| pb::Nomination {
                id: (*id).into(),
                title: (*title).into(),
                description: String::new(),
            })
            .collect(),
        eligible_levels: vec![pb::TeamLevel::Regional as i32, pb::TeamLevel::Municipal as i32],
        max_applications_per_team: 1,
        experts_per_application: 3,
        // The source document names no rubric; these are the usual criteria of best-practice
        // contests, for the demo.
        criteria: [
            ("relevance", "Актуальность", 3),
            ("results", "Результативность", 4),
            ("replicability", "Тиражируемость", 3),
            ("resources", "Ресурсная обеспеченность", 2),
        ]
        .iter()
        .map(|(id, title, weight)| pb::Criterion {
            id: (*id).into(),
            title: (*title).into(),
            description: String::new(),
            min_score: 0,
            max_score: 10,
            weight: *weight,
        })
        .collect(),
        ..Default::default()
    }
}

/// Creates and opens the contest of the cycle current at `now`, unless it exists already.
/// `organiser_token` must carry the role `competitions.organiser`. Returns the contest.
pub async fn load(
    channel: Channel,
    organiser_token: &str,
    now: Timestamp,
) -> Result<pb::Contest, Status> {
    let today = now
        .to_zoned(jiff::tz::TimeZone::get(TIME_ZONE).map_err(|e| Status::internal(e.to_string()))?)
        .date();
    let year = cycle_year(today);
    let id = contest_id(year);
    let mut contests = ContestServiceClient::new(channel);
    let created = contests
        .create_contest(with_bearer(
            tonic::Request::new(pb::CreateContestRequest {
                contest: Some(contest(year)),
                contest_id: id.clone(),
                request_id: format!("demo-{id}"),
            }),
            organiser_token,
        ))
        .await;
    let current = match created {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == Code::AlreadyExists => contests
            .get_contest(with_bearer(
                tonic::Request::new(pb::GetContestRequest {
                    name: format!("contests/{id}"),
                }),
                organiser_token,
            ))
            .await?
            .into_inner(),
        Err(status) => return Err(status),
    };
    if current.state != pb::ContestState::Draft as i32 {
        return Ok(current);
    }
    let opened = contests
        .open_contest(with_bearer(
            tonic::Request::new(pb::OpenContestRequest {
                name: current.name.clone(),
                etag: String::new(),
            }),
            organiser_token,
        ))
        .await?;
    Ok(opened.into_inner())
}

/// The `demo` subcommand: the announced contest of the year before ([`announced::load`])
/// and this year's ([`load`]), created by the development organiser whose token
/// `cargo suite up` prints, and what was loaded, for the developer.
pub async fn describe(channel: Channel) -> Result<Vec<String>, Status> {
    let organiser = edu_kit::auth::dev::DevToken::new("dev-organiser")
        .role("competitions.organiser")
        .name("Организатор АСИ")
        .sign();
    let now = Timestamp::now();
    let previous = announced::load(channel.clone(), &organiser, now).await?;
    let contest = load(channel, &organiser, now).await?;
    let state = pb::ContestState::try_from(contest.state)
        .map(|s| s.as_str_name())
        .unwrap_or("UNKNOWN");
    Ok(vec![
        format!("{previous} is announced; its winners are in the catalogue"),
        format!("{} «{}» is {state}", contest.name, contest.title),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_cycle_is_the_next_31_january() {
        assert_eq!(cycle_year(date(2026, 11, 23)), 2027);
        assert_eq!(cycle_year(date(2027, 1, 31)), 2027);
        assert_eq!(cycle_year(date(2027, 2, 1)), 2028);
    }

    #[test]
    fn the_demo_contest_is_a_valid_contest_with_seven_nominations_in_order() {
        let spec = crate::domain::ContestSpec::parse(crate::api::convert::new_contest_spec(
            &contest(2027),
        ))
        .expect("valid");
        let titles: Vec<&str> = spec.nominations.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(titles.len(), 7);
        assert_eq!(titles[0], "Здоровьесбережение с детства");
        assert_eq!(titles[6], "Безопасность детей");
        assert_eq!(spec.application_deadline, date(2027, 1, 31));
        assert_eq!(spec.results_due, date(2027, 3, 22));
        assert_eq!(
            spec.deadline().closes_at(),
            "2027-01-31T21:00:00Z"
                .parse::<Timestamp>()
                .expect("instant")
        );
    }
}
