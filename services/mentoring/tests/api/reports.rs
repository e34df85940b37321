//! `ReportService` through its handlers: the yearly report (a live DRAFT, submission that
//! fixes it, on time before 00:00 of 31 December in Saratov and late at it), its CSV
//! streamed in chunks and parsed back, and the region summary for the regional centre;
//! who may call each, and that no answer names anyone, a revoked person included.

use edu_kit::auth::Caller;
use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_mentoring::api::ReportsApi;
use edu_mentoring::domain::{MentoringForm, PairType, ParticipantRole};
use edu_mentoring::store::institutions::{self, InstitutionDraft};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::report_service_server::ReportService;
use futures::TryStreamExt;
use jiff::Timestamp;
use jiff::civil::date;
use tonic::Code;

use crate::callers::{
    at, curator, director, event_consumer, guardian, outsider, participant, regional_centre,
    request,
};
use crate::common::*;

const REPORT: &str = "institutions/mechta/yearlyReports/2025";

/// 1 June 2025 in Saratov: the scene's pairs have been at work since 12 February.
fn june() -> Timestamp {
    at("2025-06-01T12:00:00+04:00")
}

/// The scene: counsellor `m` mentors pupils `k` (SHORT_TERM) and `k2` (VIRTUAL), both
/// pairs ACTIVE, then `k2` revokes and their pair is SUSPENDED; volunteer `v` mentors the
/// group `g` of pupils `k3` and `k4` (SITUATIONAL, ACTIVE); counsellor `m2` and pupil
/// `idle` are a FORMING pair never at work, which does not count.
async fn scene() -> Fixture {
    let fx = Fixture::new().await;
    for (id, who_) in [
        ("m", MENTOR),
        ("m2", MENTOR),
        ("v", who(ParticipantRole::Volunteer)),
        ("k", PUPIL),
        ("k2", PUPIL),
        ("k3", PUPIL),
        ("k4", PUPIL),
        ("idle", PUPIL),
    ] {
        person(&fx, id, who_).await;
    }
    ready_pair(&fx, "p", "m", "k").await;
    activate(&fx, "p").await.expect("p active");
    started(
        &fx,
        "q",
        PairType::CounsellorPupil,
        MentoringForm::Virtual,
        "m",
        &["k2"],
    )
    .await;
    started(
        &fx,
        "g",
        PairType::VolunteerPupil,
        MentoringForm::Situational,
        "v",
        &["k3", "k4"],
    )
    .await;
    ready_pair(&fx, "f", "m2", "idle").await;
    revoke(&fx, "k2").await.expect("revoked");
    fx
}

/// A pair or group formed, agreed, ordered and activated.
async fn started(
    fx: &Fixture,
    id: &str,
    pair_type: PairType,
    form: MentoringForm,
    mentor: &str,
    mentees: &[&str],
) {
    pair(fx, id, pair_type, form, mentor, mentees)
        .await
        .expect("pair");
    agreement(fx, id, date(2024, 9, 2), 12).await;
    order(fx, id).await.expect("order");
    activate(fx, id).await.expect("active");
}

/// Another institution, `id` named `short` in `region`.
async fn institution(fx: &Fixture, id: &str, short: &str, region: &str) {
    in_tx!(fx, |tx| institutions::create(
        &mut tx,
        &context(),
        &InstitutionDraft {
            id: id.into(),
            display_name: format!("Учреждение «{short}»"),
            short_name: short.into(),
            region_code: region.into(),
            time_zone: "Europe/Saratov".into(),
            regulation: "Положение о наставничестве".into(),
        },
    )
    .await)
    .expect("institution");
}

fn api(fx: &Fixture) -> ReportsApi {
    ReportsApi::new(fx.store.clone())
}

async fn get(
    fx: &Fixture,
    who_: &Caller,
    now: Timestamp,
    name: &str,
) -> Result<pb::YearlyReport, tonic::Status> {
    api(fx)
        .get_yearly_report(request(
            who_,
            now,
            pb::GetYearlyReportRequest { name: name.into() },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn submit(
    fx: &Fixture,
    who_: &Caller,
    now: Timestamp,
    etag: &str,
    request_id: &str,
) -> Result<pb::YearlyReport, tonic::Status> {
    api(fx)
        .submit_yearly_report(request(
            who_,
            now,
            pb::SubmitYearlyReportRequest {
                name: REPORT.into(),
                etag: etag.into(),
                request_id: request_id.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn export(
    fx: &Fixture,
    who_: &Caller,
    now: Timestamp,
    name: &str,
) -> Result<Vec<pb::ExportYearlyReportResponse>, tonic::Status> {
    let stream = api(fx)
        .export_yearly_report(request(
            who_,
            now,
            pb::ExportYearlyReportRequest { name: name.into() },
        ))
        .await?
        .into_inner();
    stream.try_collect().await
}

async fn summary(
    fx: &Fixture,
    who_: &Caller,
    region: &str,
) -> Result<pb::RegionSummary, tonic::Status> {
    api(fx)
        .get_region_summary(request(
            who_,
            june(),
            pb::GetRegionSummaryRequest {
                region_code: region.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, expected: &str) {
    match result {
        Ok(ok) => panic!("expected {code:?} {expected}, got {ok:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(reason(&status), expected, "{status:?}");
        }
    }
}

/// No answer names anyone: no name, no participant's resource name, no participant ID.
#[track_caller]
fn names_nobody(text: &str) {
    for needle in ["Фамилия", "Тест", "participants/", "\"k2\"", "\"m\""] {
        assert!(!text.contains(needle), "{needle:?} in {text}");
    }
}

/// The counts of a figures entry: participants, mentors, mentees, pairs, groups.
type Counts = (i32, i32, i32, i32, i32);

fn form_counts(f: &pb::YearlyFigures, form: pb::MentoringForm) -> Counts {
    let x = f
        .by_form
        .iter()
        .find(|x| x.form == form as i32)
        .expect("form");
    (x.participants, x.mentors, x.mentees, x.pairs, x.groups)
}

fn type_counts(f: &pb::YearlyFigures, pair_type: pb::PairType) -> Counts {
    let x = f
        .by_pair_type
        .iter()
        .find(|x| x.pair_type == pair_type as i32)
        .expect("pair type");
    (x.participants, x.mentors, x.mentees, x.pairs, x.groups)
}

fn role_counts(f: &pb::YearlyFigures, role: pb::ParticipantRole) -> (i32, i32, i32) {
    let x = f
        .by_role
        .iter()
        .find(|x| x.role == role as i32)
        .expect("role");
    (x.participants, x.mentors, x.mentees)
}

#[tokio::test]
async fn the_director_reads_the_draft_counting_a_revoked_mentee_without_naming_anyone() {
    let fx = scene().await;
    let report = get(&fx, &director(), june(), REPORT).await.expect("report");
    assert_eq!(report.name, REPORT);
    assert_eq!(report.year, 2025);
    assert_eq!(report.institution_display_name, "Мечта");
    assert_eq!(report.region_code, "RU-SAR");
    assert_eq!(report.state, pb::YearlyReportState::Draft as i32);
    assert_eq!(
        report.due_date.map(|d| (d.year, d.month, d.day)),
        Some((2025, 12, 30))
    );
    assert_eq!(
        report.due_time.map(|t| t.seconds),
        Some(at("2025-12-31T00:00:00+04:00").as_second())
    );
    assert_eq!(report.submit_time, None);
    assert!(!report.late && !report.overdue);
    assert_eq!(
        report.read_time.map(|t| t.seconds),
        Some(june().as_second())
    );
    assert_eq!(report.etag, "\"0\"");

    let f = report.figures.as_ref().expect("figures");
    // m, v; k, k2 (revoked, still counted), k3, k4; not m2 and idle, never at work.
    assert_eq!(
        (f.participants, f.mentors, f.mentees, f.pairs, f.groups),
        (6, 2, 4, 2, 1)
    );
    assert_eq!((f.activated, f.completed, f.mentors_trained), (3, 0, 0));
    // Every value of each enum, in its order, zeros included.
    let roles: Vec<i32> = f.by_role.iter().map(|r| r.role).collect();
    assert_eq!(roles, (1..=8).collect::<Vec<_>>());
    let forms: Vec<i32> = f.by_form.iter().map(|r| r.form).collect();
    assert_eq!(forms, (1..=5).collect::<Vec<_>>());
    let types: Vec<i32> = f.by_pair_type.iter().map(|r| r.pair_type).collect();
    assert_eq!(types, (1..=6).collect::<Vec<_>>());
    assert_eq!(role_counts(f, pb::ParticipantRole::Counsellor), (1, 1, 0));
    assert_eq!(role_counts(f, pb::ParticipantRole::Volunteer), (1, 1, 0));
    assert_eq!(role_counts(f, pb::ParticipantRole::Pupil), (4, 0, 4));
    assert_eq!(role_counts(f, pb::ParticipantRole::Head), (0, 0, 0));
    assert_eq!(
        form_counts(f, pb::MentoringForm::ShortTerm),
        (2, 1, 1, 1, 0)
    );
    assert_eq!(form_counts(f, pb::MentoringForm::Virtual), (2, 1, 1, 1, 0));
    assert_eq!(
        form_counts(f, pb::MentoringForm::Situational),
        (3, 1, 2, 0, 1)
    );
    assert_eq!(form_counts(f, pb::MentoringForm::Speed), (0, 0, 0, 0, 0));
    assert_eq!(
        type_counts(f, pb::PairType::CounsellorPupil),
        (3, 1, 2, 2, 0)
    );
    assert_eq!(
        type_counts(f, pb::PairType::VolunteerPupil),
        (3, 1, 2, 0, 1)
    );
    names_nobody(&format!("{report:?}"));
}

#[tokio::test]
async fn the_curator_reads_once_appointed_and_is_refused_before() {
    let fx = scene().await;
    person(&fx, "cur", who(ParticipantRole::Educator)).await;
    refused(
        get(&fx, &curator("cur"), june(), REPORT).await,
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
    refused(
        submit(&fx, &curator("cur"), june(), "", "").await,
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
    appoint(&fx, "cur").await;
    let report = get(&fx, &curator("cur"), june(), REPORT)
        .await
        .expect("the curator reads");
    assert_eq!(report.figures.expect("figures").participants, 6);
}

#[tokio::test]
async fn the_regional_centre_reads_its_regions_reports_and_no_other() {
    let fx = scene().await;
    let report = get(&fx, &regional_centre("RU-SAR"), june(), REPORT)
        .await
        .expect("its region");
    names_nobody(&format!("{report:?}"));
    assert_eq!(report.figures.expect("figures").mentees, 4);
    // Another region's institution does not exist for it.
    refused(
        get(&fx, &regional_centre("RU-MOW"), june(), REPORT).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    // It reads, but does not submit.
    refused(
        submit(&fx, &regional_centre("RU-SAR"), june(), "", "").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
}

#[tokio::test]
async fn outsiders_do_not_find_it_and_participants_guardians_and_event_consumers_are_refused() {
    let fx = scene().await;
    for who_ in [outsider(), regional_centre("RU-MOW")] {
        refused(
            get(&fx, &who_, june(), REPORT).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        refused(
            export(&fx, &who_, june(), REPORT).await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
    refused(
        submit(&fx, &outsider(), june(), "", "").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    // A missing institution is NOT_FOUND exactly like one outside the tenant.
    refused(
        get(
            &fx,
            &director(),
            june(),
            "institutions/nowhere/yearlyReports/2025",
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    for who_ in [
        participant("m"),
        participant("k"),
        guardian("k"),
        event_consumer(),
    ] {
        refused(
            get(&fx, &who_, june(), REPORT).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        refused(
            submit(&fx, &who_, june(), "", "").await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        refused(
            export(&fx, &who_, june(), REPORT).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    // An event consumer is refused by its role whether or not the institution exists.
    refused(
        get(
            &fx,
            &event_consumer(),
            june(),
            "institutions/nowhere/yearlyReports/2025",
        )
        .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
}

#[tokio::test]
async fn a_year_before_registration_or_after_the_current_one_does_not_exist() {
    let fx = Fixture::new().await;
    for year in ["2024", "2026"] {
        let name = format!("institutions/mechta/yearlyReports/{year}");
        refused(
            get(&fx, &director(), june(), &name).await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
    // Once 2026 has begun in Saratov, its report exists.
    let next = get(
        &fx,
        &director(),
        at("2026-01-01T00:00:00+04:00"),
        "institutions/mechta/yearlyReports/2026",
    )
    .await
    .expect("2026");
    assert_eq!(next.figures.expect("figures").participants, 0);
}

#[tokio::test]
async fn malformed_names_region_codes_and_request_ids_are_invalid_fields() {
    let fx = Fixture::new().await;
    // A well-formed ID that is no year names a report that cannot exist.
    for name in [
        "institutions/mechta/yearlyReports/25",
        "institutions/mechta/yearlyReports/two",
    ] {
        let status = get(&fx, &director(), june(), name).await.expect_err(name);
        assert_eq!(reason(&status), "NOT_FOUND", "{name:?}");
    }
    for name in [
        "",
        "institutions/mechta/yearlyReports/Two",
        "institutions/mechta/reports/2025",
        "institutions/mechta",
    ] {
        let status = get(&fx, &director(), june(), name).await.expect_err(name);
        assert_eq!(reason(&status), "INVALID_FIELDS", "{name:?}");
        assert_eq!(bad_fields(&status), ["name"], "{name:?}");
        let status = export(&fx, &director(), june(), name)
            .await
            .expect_err(name);
        assert_eq!(bad_fields(&status), ["name"], "{name:?}");
    }
    // Every bad field at once.
    let status = api(&fx)
        .submit_yearly_report(request(
            &director(),
            june(),
            pb::SubmitYearlyReportRequest {
                name: "yearlyReports/2025".into(),
                etag: String::new(),
                request_id: "not printable \u{1}".into(),
            },
        ))
        .await
        .expect_err("two bad fields");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["name", "request_id"]);
    for code in ["", "RU", "Саратов", "RU-SARA"] {
        let status = summary(&fx, &regional_centre("RU-SAR"), code)
            .await
            .expect_err(code);
        assert_eq!(reason(&status), "INVALID_FIELDS", "{code:?}");
        assert_eq!(bad_fields(&status), ["region_code"], "{code:?}");
    }
}

#[tokio::test]
async fn submission_before_midnight_of_31_december_is_on_time_and_fixes_the_figures() {
    let fx = scene().await;
    let before = at("2025-12-30T23:59:00+04:00");
    let draft = get(&fx, &director(), before, REPORT).await.expect("draft");
    assert!(!draft.overdue);
    let submitted = submit(&fx, &director(), before, &draft.etag, "")
        .await
        .expect("submitted");
    assert_eq!(submitted.state, pb::YearlyReportState::Submitted as i32);
    assert!(!submitted.late && !submitted.overdue);
    assert_eq!(
        submitted.submit_time.map(|t| t.seconds),
        Some(before.as_second())
    );
    assert_eq!(submitted.read_time, submitted.submit_time);
    assert_ne!(submitted.etag, draft.etag);
    assert_eq!(submitted.figures, draft.figures);

    // The FORMING pair starts working; the submitted report does not change.
    activate(&fx, "f").await.expect("f active");
    let later = at("2025-12-31T10:00:00+04:00");
    let read = get(&fx, &director(), later, REPORT)
        .await
        .expect("submitted");
    assert_eq!(read.figures, draft.figures);
    assert_eq!(read.state, pb::YearlyReportState::Submitted as i32);
    assert!(!read.late && !read.overdue);
    assert_eq!(read.etag, submitted.etag);

    // Submitted is final.
    let again = submit(&fx, &director(), later, "", "")
        .await
        .expect_err("submitted already");
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&again, "state").as_deref(),
        Some("SUBMITTED")
    );
}

#[tokio::test]
async fn at_midnight_of_31_december_a_draft_is_overdue_and_its_submission_late() {
    let fx = scene().await;
    let midnight = at("2025-12-31T00:00:00+04:00");
    let draft = get(&fx, &director(), midnight, REPORT)
        .await
        .expect("draft");
    assert!(draft.overdue && !draft.late);
    // The same instant written in UTC is the same instant.
    let late = submit(&fx, &director(), at("2025-12-30T20:00:00Z"), "", "")
        .await
        .expect("late, not refused");
    assert!(late.late && !late.overdue);
    assert_eq!(late.state, pb::YearlyReportState::Submitted as i32);
}

#[tokio::test]
async fn a_stale_etag_is_aborted() {
    let fx = scene().await;
    let stale = submit(&fx, &director(), june(), "\"7\"", "")
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(reason(&stale), "ETAG_MISMATCH");
    // Nothing was submitted.
    let draft = get(&fx, &director(), june(), REPORT).await.expect("draft");
    assert_eq!(draft.state, pb::YearlyReportState::Draft as i32);
}

#[tokio::test]
async fn a_request_id_replays_the_submission_and_refuses_another_request() {
    let fx = scene().await;
    let first = submit(&fx, &director(), june(), "\"0\"", "submit-2025")
        .await
        .expect("submitted");
    // A retry answers the first submission instead of TRANSITION_NOT_ALLOWED.
    let retry = submit(
        &fx,
        &director(),
        at("2025-06-01T12:05:00+04:00"),
        "\"0\"",
        "submit-2025",
    )
    .await
    .expect("replayed");
    assert_eq!(retry, first);
    // The same id for a different request.
    let reused = submit(&fx, &director(), june(), "", "submit-2025")
        .await
        .expect_err("reused");
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
}

/// The file of `messages` after its byte-order mark, checking the chunks on the way.
fn file_of(messages: &[pb::ExportYearlyReportResponse], file_name: &str) -> String {
    assert!(!messages.is_empty());
    assert_eq!(messages[0].content_type, "text/csv; charset=utf-8");
    assert_eq!(messages[0].file_name, file_name);
    for m in &messages[1..] {
        assert!(m.content_type.is_empty() && m.file_name.is_empty());
    }
    assert!(messages.iter().all(|m| m.data.len() <= 64 * 1024));
    let bytes: Vec<u8> = messages.iter().flat_map(|m| m.data.clone()).collect();
    let text = String::from_utf8(bytes).expect("UTF-8");
    text.strip_prefix('\u{feff}')
        .expect("a byte-order mark")
        .to_string()
}

/// The data rows of a CSV file, checking its heading row.
fn rows_of(text: &str) -> Vec<csv::StringRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let headings: Vec<String> = reader
        .headers()
        .expect("headings")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        headings,
        [
            "Регион",
            "Учреждение",
            "Год",
            "Раздел",
            "Код",
            "Показатель",
            "Участники",
            "Наставники",
            "Наставляемые",
            "Пары",
            "Группы",
            "Состояние",
            "Представлен",
        ]
    );
    reader.records().map(|r| r.expect("a row")).collect()
}

fn row<'a>(rows: &'a [csv::StringRecord], section: &str, code: &str) -> Vec<&'a str> {
    rows.iter()
        .find(|r| &r[3] == section && &r[4] == code)
        .map(|r| r.iter().collect())
        .expect("row")
}

#[tokio::test]
async fn the_export_streams_the_csv_in_the_contracts_shape_and_parses_back() {
    let fx = scene().await;
    let messages = export(&fx, &director(), june(), REPORT)
        .await
        .expect("exported");
    let text = file_of(&messages, "mentoring-mechta-2025.csv");
    // CRLF line ends: a heading, 20 rows, each ended.
    assert_eq!(text.matches("\r\n").count(), 21);
    assert!(!text.replace("\r\n", "").contains('\n'));
    let rows = rows_of(&text);
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r.len() == 13));
    let sections: Vec<&str> = rows.iter().map(|r| &r[3]).collect();
    assert_eq!(sections[0], "TOTAL");
    assert!(sections[1..9].iter().all(|s| *s == "ROLE"));
    assert!(sections[9..14].iter().all(|s| *s == "FORM"));
    assert!(sections[14..].iter().all(|s| *s == "PAIR_TYPE"));
    assert_eq!(
        row(&rows, "TOTAL", "ALL"),
        [
            "RU-SAR",
            "Мечта",
            "2025",
            "TOTAL",
            "ALL",
            "Всего",
            "6",
            "2",
            "4",
            "2",
            "1",
            "DRAFT",
            ""
        ]
    );
    assert_eq!(
        row(&rows, "ROLE", "COUNSELLOR")[5..11],
        ["Вожатый", "1", "1", "0", "", ""]
    );
    assert_eq!(row(&rows, "ROLE", "PUPIL")[6..11], ["4", "0", "4", "", ""]);
    assert_eq!(
        row(&rows, "FORM", "REVERSE")[6..11],
        ["0", "0", "0", "0", "0"]
    );
    assert_eq!(
        row(&rows, "PAIR_TYPE", "VOLUNTEER_PUPIL")[5..11],
        ["Волонтёр – воспитанник", "3", "1", "2", "0", "1"]
    );
    // The same figures as GetYearlyReport at the same instant.
    let report = get(&fx, &director(), june(), REPORT).await.expect("report");
    let figures = report.figures.expect("figures");
    assert_eq!(row(&rows, "PAIR_TYPE", "COUNSELLOR_PUPIL")[9], "2");
    assert_eq!(type_counts(&figures, pb::PairType::CounsellorPupil).3, 2);
    names_nobody(&text);
}

#[tokio::test]
async fn the_regional_centre_exports_a_submitted_report_with_its_instant() {
    let fx = scene().await;
    submit(&fx, &director(), at("2025-12-30T23:59:00+04:00"), "", "")
        .await
        .expect("submitted");
    let messages = export(
        &fx,
        &regional_centre("RU-SAR"),
        at("2026-01-10T09:00:00+04:00"),
        REPORT,
    )
    .await
    .expect("exported");
    let rows = rows_of(&file_of(&messages, "mentoring-mechta-2025.csv"));
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter()
            .all(|r| &r[11] == "SUBMITTED" && &r[12] == "2025-12-30T23:59:00+04:00"),
        "{rows:?}"
    );
    assert_eq!(&row(&rows, "TOTAL", "ALL")[6..9], ["6", "2", "4"]);
}

#[tokio::test]
async fn the_region_summary_counts_active_pairs_and_members_of_every_institution_of_the_region() {
    let fx = scene().await;
    institution(&fx, "zarya", "Заря", "RU-SAR").await;
    institution(&fx, "alpha", "Альфа", "RU-MOW").await;
    let found = summary(&fx, &regional_centre("RU-SAR"), "ru-sar")
        .await
        .expect("summary");
    assert_eq!(found.region_code, "RU-SAR");
    // By short name in the Russian collation: «Заря» before «Мечта»; «Альфа» is elsewhere.
    let parts: Vec<(&str, &str, i32, i32, i32, i32)> = found
        .institutions
        .iter()
        .map(|i| {
            (
                i.institution.as_str(),
                i.display_name.as_str(),
                i.active_pairs,
                i.active_groups,
                i.mentors,
                i.mentees,
            )
        })
        .collect();
    // «Мечта»: p ACTIVE (q is SUSPENDED by k2's revocation, f FORMING) and the group g;
    // mentors m and v; mentees k, k3, k4.
    assert_eq!(
        parts,
        [
            ("institutions/zarya", "Заря", 0, 0, 0, 0),
            ("institutions/mechta", "Мечта", 1, 1, 2, 3),
        ]
    );
    assert_eq!(
        (
            found.active_pairs,
            found.active_groups,
            found.mentors,
            found.mentees
        ),
        (1, 1, 2, 3)
    );
    assert_eq!(found.read_time.map(|t| t.seconds), Some(june().as_second()));
    names_nobody(&format!("{found:?}"));

    // A well-formed code of a region without institutions answers with none.
    let empty = summary(&fx, &regional_centre("KZ-75"), "KZ-75")
        .await
        .expect("no institutions");
    assert_eq!(empty.region_code, "KZ-75");
    assert!(empty.institutions.is_empty());
    assert_eq!((empty.active_pairs, empty.mentors), (0, 0));
}

#[tokio::test]
async fn the_region_summary_is_the_regional_centres_of_its_own_region_only() {
    let fx = scene().await;
    refused(
        summary(&fx, &regional_centre("RU-SAR"), "RU-MOW").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        summary(&fx, &regional_centre("RU-SAR"), "KZ-75").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    for who_ in [
        director(),
        curator("cur"),
        participant("m"),
        guardian("k"),
        event_consumer(),
    ] {
        refused(
            summary(&fx, &who_, "RU-SAR").await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
}
