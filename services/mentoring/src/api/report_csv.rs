//! The yearly report as CSV, in the shape a regional mentoring centre loads (report.proto,
//! `ExportYearlyReport`; the contract's choice 15): UTF-8 with a byte-order mark,
//! `;`-separated with RFC 4180 quoting, CRLF line ends, so that spreadsheet programs in the
//! Russian locale open it as is and a loader reads it by its stable codes. Thirteen columns,
//! a heading row, then always 20 data rows: the total, the eight roles, the five forms and
//! the six pair types, each section in the order of its enum, zeros included. Only codes,
//! labels and counts: no row names a person.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use edu_kit::ApiError;
use edu_proto::edu::mentoring::v1 as pb;

use crate::domain::{MentoringForm, PairType, ParticipantRole};
use crate::store::reports::{ReportRow, Reported, Section, YearlyReport};

/// The content type of the file, on the stream's first message.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// The largest chunk of the file one message carries (report.proto).
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// The heading row, in the column order the contract fixes.
pub const HEADINGS: [&str; 13] = [
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
];

/// The code and label of the total row.
const TOTAL: (&str, &str) = ("ALL", "Всего");

/// The byte-order mark of UTF-8.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// The file name to save it under: `mentoring-{institution}-{year}.csv`.
pub fn file_name(institution: &str, year: i16) -> String {
    format!("mentoring-{institution}-{year}.csv")
}

/// The Russian label of a role, as the regulation names it.
pub fn role_label(role: ParticipantRole) -> &'static str {
    match role {
        ParticipantRole::Head => "Руководитель организации",
        ParticipantRole::Curator => "Куратор",
        ParticipantRole::Educator => "Воспитатель",
        ParticipantRole::Counsellor => "Вожатый",
        ParticipantRole::Volunteer => "Волонтёр",
        ParticipantRole::Pupil => "Воспитанник",
        ParticipantRole::YoungSpecialist => "Молодой специалист",
        ParticipantRole::Teacher => "Педагог",
    }
}

/// The Russian label of a form (rule 3).
pub fn form_label(form: MentoringForm) -> &'static str {
    match form {
        MentoringForm::Virtual => "Виртуальное (дистанционное)",
        MentoringForm::ShortTerm => "Краткосрочное или целеполагающее",
        MentoringForm::Reverse => "Реверсивное",
        MentoringForm::Situational => "Ситуационное",
        MentoringForm::Speed => "Скоростное",
    }
}

/// The Russian label of a pair type (§3.4), mentor role first.
pub fn pair_type_label(pair_type: PairType) -> &'static str {
    match pair_type {
        PairType::HeadCurator => "Руководитель организации – куратор",
        PairType::CuratorEducator => "Куратор – воспитатель",
        PairType::EducatorCounsellor => "Воспитатель – вожатый",
        PairType::CounsellorVolunteer => "Вожатый – волонтёр",
        PairType::CounsellorPupil => "Вожатый – воспитанник",
        PairType::VolunteerPupil => "Волонтёр – воспитанник",
    }
}

/// The report's row of `section` and `code`, zeros when the report has none (a section
/// always lists every value of its enum).
pub fn row_of(report: &YearlyReport, section: Section, code: &str) -> ReportRow {
    report
        .rows
        .iter()
        .find(|r| r.section == section && r.code == code)
        .cloned()
        .unwrap_or_else(|| {
            let with_pairs = section != Section::Role;
            ReportRow {
                section,
                code: code.to_string(),
                participants: 0,
                mentors: 0,
                mentees: 0,
                pairs: with_pairs.then_some(0),
                groups: with_pairs.then_some(0),
            }
        })
}

/// The 20 data rows in the file's order, each with its label.
fn lines(report: &YearlyReport) -> Vec<(ReportRow, &'static str)> {
    let mut out = Vec::with_capacity(20);
    out.push((row_of(report, Section::Total, TOTAL.0), TOTAL.1));
    for role in ParticipantRole::ALL {
        out.push((
            row_of(report, Section::Role, role.as_str()),
            role_label(role),
        ));
    }
    for form in MentoringForm::ALL {
        out.push((
            row_of(report, Section::Form, form.as_str()),
            form_label(form),
        ));
    }
    for pair_type in PairType::ALL {
        out.push((
            row_of(report, Section::PairType, pair_type.as_str()),
            pair_type_label(pair_type),
        ));
    }
    out
}

/// The submission instant in RFC 3339 with the institution's offset at that instant.
fn submitted_at(at: Timestamp, zone: &TimeZone) -> String {
    at.display_with_offset(zone.to_offset(at)).to_string()
}

/// Renders the file. Writing into memory fails only on a bug; an unknown stored zone is
/// the store's corruption, an internal error either way.
pub fn render(reported: &Reported) -> Result<Vec<u8>, ApiError> {
    let institution = &reported.institution;
    let report = &reported.report;
    let zone = TimeZone::get(&institution.time_zone).map_err(|e| ApiError::internal(&e))?;
    let year = report.year.to_string();
    let state = if report.submitted {
        "SUBMITTED"
    } else {
        "DRAFT"
    };
    let submitted = report
        .submit_time
        .map(|t| submitted_at(t, &zone))
        .unwrap_or_default();
    let count = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.to_vec());
    writer
        .write_record(HEADINGS)
        .map_err(|e| ApiError::internal(&e))?;
    for (row, label) in lines(report) {
        writer
            .write_record([
                institution.region_code.as_str(),
                institution.short_name.as_str(),
                year.as_str(),
                row.section.as_str(),
                row.code.as_str(),
                label,
                &row.participants.to_string(),
                &row.mentors.to_string(),
                &row.mentees.to_string(),
                &count(row.pairs),
                &count(row.groups),
                state,
                &submitted,
            ])
            .map_err(|e| ApiError::internal(&e))?;
    }
    writer
        .into_inner()
        .map_err(|e| ApiError::internal(e.error()))
}

/// The file as the stream's messages: its bytes in chunks of at most `max` bytes, the first
/// message also carrying the content type and the file name (one message for an empty
/// file).
pub fn chunks(bytes: &[u8], max: usize, file_name: &str) -> Vec<pb::ExportYearlyReportResponse> {
    let mut out: Vec<pb::ExportYearlyReportResponse> = bytes
        .chunks(max.max(1))
        .map(|chunk| pb::ExportYearlyReportResponse {
            data: chunk.to_vec(),
            ..Default::default()
        })
        .collect();
    if out.is_empty() {
        out.push(pb::ExportYearlyReportResponse::default());
    }
    if let Some(first) = out.first_mut() {
        first.content_type = CONTENT_TYPE.to_string();
        first.file_name = file_name.to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::store::institutions::Institution;

    fn reported(submit_time: Option<Timestamp>) -> Reported {
        let at: Timestamp = "2025-12-30T19:59:00Z".parse().expect("instant");
        Reported {
            institution: Institution {
                id: "mechta".into(),
                display_name: "МУ ДО «ДООЦ «Мечта»»".into(),
                short_name: "Мечта; лагерь".into(),
                region_code: "RU-SAR".into(),
                time_zone: "Europe/Saratov".into(),
                regulation: String::new(),
                curator: None,
                curator_appointment_basis: String::new(),
                curator_appoint_time: None,
                road_map_state: "DRAFT".into(),
                road_map_approval_basis: String::new(),
                road_map_approve_time: None,
                create_time: at,
                update_time: at,
                version: 1,
            },
            report: YearlyReport {
                year: 2025,
                name: "institutions/mechta/yearlyReports/2025".into(),
                submitted: submit_time.is_some(),
                due_date: date(2025, 12, 30),
                due_time: "2025-12-30T20:00:00Z".parse().expect("instant"),
                submit_time,
                late: false,
                overdue: false,
                rows: vec![ReportRow {
                    section: Section::Role,
                    code: "COUNSELLOR".into(),
                    participants: 3,
                    mentors: 2,
                    mentees: 1,
                    pairs: None,
                    groups: None,
                }],
                activated: 0,
                completed: 0,
                mentors_trained: 0,
                read_time: at,
                version: 0,
            },
        }
    }

    #[test]
    fn thirteen_columns_twenty_rows_codes_labels_and_zeros() {
        let at: Timestamp = "2025-12-30T19:59:00Z".parse().expect("instant");
        let bytes = render(&reported(Some(at))).expect("rendered");
        assert!(bytes.starts_with(BOM));
        let text = String::from_utf8(bytes[BOM.len()..].to_vec()).expect("UTF-8");
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.len(), 22, "heading, 20 rows, and the last line end");
        assert_eq!(lines[0], HEADINGS.join(";"));
        assert_eq!(
            lines[1],
            "RU-SAR;\"Мечта; лагерь\";2025;TOTAL;ALL;Всего;0;0;0;0;0;SUBMITTED;\
             2025-12-30T23:59:00+04:00"
        );
        assert_eq!(
            lines[5],
            "RU-SAR;\"Мечта; лагерь\";2025;ROLE;COUNSELLOR;Вожатый;3;2;1;;;SUBMITTED;\
             2025-12-30T23:59:00+04:00"
        );
        assert_eq!(lines[21], "");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(&bytes[BOM.len()..]);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
        let codes: Vec<(&str, &str)> = rows.iter().map(|r| (&r[3], &r[4])).collect();
        assert_eq!(codes[8], ("ROLE", "TEACHER"));
        assert_eq!(codes[9], ("FORM", "VIRTUAL"));
        assert_eq!(codes[13], ("FORM", "SPEED"));
        assert_eq!(codes[19], ("PAIR_TYPE", "VOLUNTEER_PUPIL"));
    }

    #[test]
    fn a_draft_has_no_submission_instant() {
        let bytes = render(&reported(None)).expect("rendered");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(&bytes[BOM.len()..]);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
        assert_eq!(rows.len(), 20);
        assert!(rows.iter().all(|r| r.len() == 13));
        assert!(rows.iter().all(|r| &r[11] == "DRAFT" && r[12].is_empty()));
    }

    #[test]
    fn chunks_are_at_most_the_limit_and_the_first_names_the_file() {
        let bytes = vec![b'x'; 2 * MAX_CHUNK_BYTES + 10];
        let messages = chunks(&bytes, MAX_CHUNK_BYTES, "f.csv");
        assert_eq!(messages.len(), 3);
        assert!(messages.iter().all(|m| m.data.len() <= MAX_CHUNK_BYTES));
        assert_eq!(messages[0].content_type, CONTENT_TYPE);
        assert_eq!(messages[0].file_name, "f.csv");
        assert!(messages[1].content_type.is_empty() && messages[1].file_name.is_empty());
        let joined: Vec<u8> = messages.iter().flat_map(|m| m.data.clone()).collect();
        assert_eq!(joined, bytes);
        assert_eq!(chunks(&[], MAX_CHUNK_BYTES, "f.csv").len(), 1);
    }
}
