//! The yearly report's figures (rule 10, choice 15; contract report.proto): for a calendar
//! year in the institution's zone, everyone who was the mentor or a mentee of a pair or
//! group while it was ACTIVE or SUSPENDED at some moment of the year (up to the report's
//! instant) counts once among participants, and under each form and pair type of their
//! pairs. Redacted people count like everyone else; no figure or row names anyone: the
//! participants' IDs are read inside [`figures`] and never leave it.
//!
//! A DRAFT is computed at the call; submitting fixes its rows as of the submission
//! instant, with `late` judged by the domain (due 30 December).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::db::WarmTransaction;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::institutions::{self, Institution, Setting};
use super::{Store, corrupt, institution_name, parsed};
use crate::domain::deadlines;
use crate::domain::{MentoringError, MentoringForm, PairKind, PairType, ParticipantRole};

/// `institutions/{institution}/yearlyReports/{year}`.
pub fn report_name(institution: &str, year: i16) -> String {
    format!("{}/yearlyReports/{year}", institution_name(institution))
}

/// A section of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// The one total row, code `ALL`.
    Total,
    /// A row per role.
    Role,
    /// A row per form.
    Form,
    /// A row per pair type.
    PairType,
}

impl Section {
    /// The stored name, the CSV's «Раздел».
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Total => "TOTAL",
            Section::Role => "ROLE",
            Section::Form => "FORM",
            Section::PairType => "PAIR_TYPE",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [
            Section::Total,
            Section::Role,
            Section::Form,
            Section::PairType,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// One row of the report: 1 total, 8 roles, 5 forms, 6 pair types (20 rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// The section.
    pub section: Section,
    /// `ALL`, or the enum value name.
    pub code: String,
    /// Participants counted, each once.
    pub participants: i32,
    /// Of those, mentors.
    pub mentors: i32,
    /// Of those, mentees.
    pub mentees: i32,
    /// Pairs; `None` in ROLE rows.
    pub pairs: Option<i32>,
    /// Groups; `None` in ROLE rows.
    pub groups: Option<i32>,
}

/// A yearly report, DRAFT or SUBMITTED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearlyReport {
    /// The year.
    pub year: i16,
    /// The resource name.
    pub name: String,
    /// Whether submitted.
    pub submitted: bool,
    /// 30 December of the year.
    pub due_date: Date,
    /// 00:00 of 31 December in the institution's zone.
    pub due_time: Timestamp,
    /// When submitted.
    pub submit_time: Option<Timestamp>,
    /// Submitted at or after `due_time`.
    pub late: bool,
    /// A DRAFT at or after `due_time`, at the call.
    pub overdue: bool,
    /// The 20 rows.
    pub rows: Vec<ReportRow>,
    /// Pairs and groups activated in the year.
    pub activated: i32,
    /// Pairs and groups completed in the year.
    pub completed: i32,
    /// Mentors whose training was completed in the year.
    pub mentors_trained: i32,
    /// The instant the figures were read.
    pub read_time: Timestamp,
    /// Its version, for etags: 0 while DRAFT.
    pub version: i64,
}

/// The report for `year` as it stands at `now`: as submitted, or a DRAFT computed now.
/// `NOT_FOUND` for a year before the institution's registration or after the current one.
pub async fn get(
    conn: &mut PgConnection,
    institution: &str,
    year: i16,
    now: Timestamp,
) -> Result<YearlyReport, ApiError> {
    let setting = institutions::setting(conn, institution, now).await?;
    ensure_year(conn, &setting, year).await?;
    let zone = zone(&setting)?;
    let due_date = deadlines::yearly_report_due_day(year);
    let due_time = deadlines::due_instant(due_date, &zone);
    let stored = sqlx::query!(
        "SELECT submit_time, late, sections, codes, participants, mentors, mentees, pairs, groups,
                activated, completed, mentors_trained, version
         FROM mentoring.yearly_reports WHERE institution_id = $1 AND year = $2",
        institution,
        year
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(s) = stored {
        let mut rows = Vec::with_capacity(s.sections.len());
        for i in 0..s.sections.len() {
            let section = parsed("report section", &s.sections[i], Section::parse)?;
            let with_pairs = section != Section::Role;
            rows.push(ReportRow {
                section,
                code: s.codes[i].clone(),
                participants: s.participants[i],
                mentors: s.mentors[i],
                mentees: s.mentees[i],
                pairs: with_pairs.then(|| s.pairs[i]),
                groups: with_pairs.then(|| s.groups[i]),
            });
        }
        let submit_time = s.submit_time.to_jiff();
        return Ok(YearlyReport {
            year,
            name: report_name(institution, year),
            submitted: true,
            due_date,
            due_time,
            submit_time: Some(submit_time),
            late: s.late,
            overdue: false,
            rows,
            activated: s.activated,
            completed: s.completed,
            mentors_trained: s.mentors_trained,
            read_time: submit_time,
            version: s.version,
        });
    }
    let figures = figures(conn, &setting, year, now).await?;
    Ok(YearlyReport {
        year,
        name: report_name(institution, year),
        submitted: false,
        due_date,
        due_time,
        submit_time: None,
        late: false,
        overdue: deadlines::is_overdue(due_date, now, &zone),
        rows: figures.rows,
        activated: figures.activated,
        completed: figures.completed,
        mentors_trained: figures.mentors_trained,
        read_time: now,
        version: 0,
    })
}

/// A report with the institution it is of (its short name, region and zone, which the
/// answer and the CSV show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The institution.
    pub institution: Institution,
    /// The report.
    pub report: YearlyReport,
}

/// The report for `year` as [`get`] reads it, with its institution, in one REPEATABLE READ,
/// READ ONLY snapshot: a DRAFT's figures are read by several statements, and they must
/// agree with each other as of one instant (`read_time`).
pub async fn read(
    store: &Store,
    institution: &str,
    year: i16,
    now: Timestamp,
) -> Result<Reported, ApiError> {
    let mut tx = snapshot(store).await?;
    let report = get(&mut tx, institution, year, now).await?;
    let institution = institutions::get(&mut tx, institution).await?;
    tx.commit().await?;
    Ok(Reported {
        institution,
        report,
    })
}

/// A read-only snapshot for one report.
async fn snapshot(store: &Store) -> Result<WarmTransaction, ApiError> {
    let mut tx = store.begin().await?;
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Submits the DRAFT report for `year` (`SubmitYearlyReport`): its figures fixed as of
/// this instant, `late` judged by the domain; a submitted one is refused
/// (`TRANSITION_NOT_ALLOWED`). The institution's row is locked so two submissions queue.
pub async fn submit(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    year: i16,
    supplied_etag: &str,
) -> Result<YearlyReport, ApiError> {
    let now = context.now();
    sqlx::query_scalar!(
        "SELECT id FROM mentoring.institutions WHERE id = $1 FOR UPDATE",
        institution
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(institution_name(institution)))?;
    let draft = get(conn, institution, year, now).await?;
    etag::check(supplied_etag, draft.version, &draft.name)?;
    if draft.submitted {
        return Err(MentoringError::TransitionNotAllowed {
            resource: "yearly report",
            state: "SUBMITTED",
        }
        .into());
    }
    let setting = institutions::setting(conn, institution, now).await?;
    let late = deadlines::yearly_report(year, now, &zone(&setting)?).is_late();
    let col = |f: fn(&ReportRow) -> i32| draft.rows.iter().map(f).collect::<Vec<i32>>();
    sqlx::query!(
        "INSERT INTO mentoring.yearly_reports
             (institution_id, year, submit_time, late, sections, codes, participants, mentors,
              mentees, pairs, groups, activated, completed, mentors_trained)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        institution,
        year,
        now.to_sqlx(),
        late,
        &draft
            .rows
            .iter()
            .map(|r| r.section.as_str().to_string())
            .collect::<Vec<_>>(),
        &draft
            .rows
            .iter()
            .map(|r| r.code.clone())
            .collect::<Vec<_>>(),
        &col(|r| r.participants),
        &col(|r| r.mentors),
        &col(|r| r.mentees),
        &col(|r| r.pairs.unwrap_or(0)),
        &col(|r| r.groups.unwrap_or(0)),
        draft.activated,
        draft.completed,
        draft.mentors_trained,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "yearly_report.submitted",
        &draft.name,
        json!({ "late": late }),
    )
    .await?;
    get(conn, institution, year, now).await
}

struct Figures {
    rows: Vec<ReportRow>,
    activated: i32,
    completed: i32,
    mentors_trained: i32,
}

#[derive(Default)]
struct Tally {
    participants: BTreeSet<String>,
    mentors: BTreeSet<String>,
    mentees: BTreeSet<String>,
    pairs: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl Tally {
    fn add(&mut self, pair: &str, kind: PairKind, member: &str, mentor: bool) {
        self.participants.insert(member.to_string());
        if mentor {
            self.mentors.insert(member.to_string());
        } else {
            self.mentees.insert(member.to_string());
        }
        match kind {
            PairKind::Pair => self.pairs.insert(pair.to_string()),
            PairKind::Group => self.groups.insert(pair.to_string()),
        };
    }

    fn row(&self, section: Section, code: &str) -> ReportRow {
        let n = |s: &BTreeSet<String>| i32::try_from(s.len()).unwrap_or(i32::MAX);
        let with_pairs = section != Section::Role;
        ReportRow {
            section,
            code: code.to_string(),
            participants: n(&self.participants),
            mentors: n(&self.mentors),
            mentees: n(&self.mentees),
            pairs: with_pairs.then(|| n(&self.pairs)),
            groups: with_pairs.then(|| n(&self.groups)),
        }
    }
}

/// The figures of `year` read at `now`, in one statement per kind of figure.
async fn figures(
    conn: &mut PgConnection,
    setting: &Setting,
    year: i16,
    now: Timestamp,
) -> Result<Figures, ApiError> {
    let zone = zone(setting)?;
    let start = deadlines::start_of_day(Date::new(year, 1, 1).unwrap_or(Date::MIN), &zone);
    let next = deadlines::start_of_day(
        Date::new(year.saturating_add(1), 1, 1).unwrap_or(Date::MAX),
        &zone,
    );
    let end = next.min(now);
    // Each member while their membership overlaps a period the pair was at work, within
    // the year and before the instant read.
    let members = sqlx::query!(
        r#"SELECT DISTINCT p.id AS pair_id, p.kind, p.form, p.pair_type, m.participant_id,
                  m.side = 'MENTOR' AS "mentor!", pt.role
           FROM mentoring.pairs p
           JOIN mentoring.pair_periods pp
             ON pp.institution_id = p.institution_id AND pp.pair_id = p.id
           JOIN mentoring.pair_members m
             ON m.institution_id = p.institution_id AND m.pair_id = p.id
           JOIN mentoring.participants pt
             ON pt.institution_id = m.institution_id AND pt.id = m.participant_id
           WHERE p.institution_id = $1
             AND pp.start_time < $3 AND coalesce(pp.end_time, 'infinity') >= $2
             AND m.join_time < least(coalesce(pp.end_time, 'infinity'), $3)
             AND coalesce(m.left_time, 'infinity') > greatest(pp.start_time, $2)"#,
        setting.id,
        start.to_sqlx(),
        end.to_sqlx(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut total = Tally::default();
    let mut by_role: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut by_form: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut by_type: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for m in &members {
        let kind = parsed("pair kind", &m.kind, PairKind::parse)?;
        let role = parsed("role", &m.role, ParticipantRole::parse)?;
        let form = parsed("form", &m.form, MentoringForm::parse)?;
        let pair_type = parsed("pair type", &m.pair_type, PairType::parse)?;
        for tally in [
            &mut total,
            by_role.entry(role.as_str()).or_default(),
            by_form.entry(form.as_str()).or_default(),
            by_type.entry(pair_type.as_str()).or_default(),
        ] {
            tally.add(&m.pair_id, kind, &m.participant_id, m.mentor);
        }
    }
    let empty = Tally::default();
    let mut rows = vec![total.row(Section::Total, "ALL")];
    for role in ParticipantRole::ALL {
        let code = role.as_str();
        rows.push(by_role.get(code).unwrap_or(&empty).row(Section::Role, code));
    }
    for form in MentoringForm::ALL {
        let code = form.as_str();
        rows.push(by_form.get(code).unwrap_or(&empty).row(Section::Form, code));
    }
    for pair_type in PairType::ALL {
        let code = pair_type.as_str();
        rows.push(
            by_type
                .get(code)
                .unwrap_or(&empty)
                .row(Section::PairType, code),
        );
    }
    let counts = sqlx::query!(
        r#"SELECT
             (SELECT count(DISTINCT pair_id) FROM mentoring.pair_periods
              WHERE institution_id = $1 AND start_time >= $2 AND start_time < $3) AS "activated!",
             (SELECT count(*) FROM mentoring.pairs
              WHERE institution_id = $1 AND complete_time >= $2 AND complete_time < $3) AS "completed!",
             (SELECT count(*) FROM mentoring.participants
              WHERE institution_id = $1 AND mentor_profile
                AND training_complete_date >= $4 AND training_complete_date < $5
                AND training_record_time < $3) AS "trained!""#,
        setting.id,
        start.to_sqlx(),
        end.to_sqlx(),
        Date::new(year, 1, 1).unwrap_or(Date::MIN).to_sqlx(),
        Date::new(year.saturating_add(1), 1, 1)
            .unwrap_or(Date::MAX)
            .to_sqlx(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    Ok(Figures {
        rows,
        activated: n(counts.activated),
        completed: n(counts.completed),
        mentors_trained: n(counts.trained),
    })
}

async fn ensure_year(
    conn: &mut PgConnection,
    setting: &Setting,
    year: i16,
) -> Result<(), ApiError> {
    let registered = sqlx::query_scalar!(
        "SELECT create_time FROM mentoring.institutions WHERE id = $1",
        setting.id
    )
    .fetch_one(&mut *conn)
    .await?;
    let first = super::day_in(&setting.time_zone, registered.to_jiff())?.year();
    if year < first || year > setting.today.year() {
        return Err(ApiError::not_found(report_name(&setting.id, year)));
    }
    Ok(())
}

fn zone(setting: &Setting) -> Result<TimeZone, ApiError> {
    TimeZone::get(&setting.time_zone).map_err(|_| corrupt("time zone", &setting.time_zone))
}
