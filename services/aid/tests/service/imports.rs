//! Bulk import of children (import.proto): each row's outcome (imported, already listed,
//! duplicate in the file, invalid with column and reason), retries under the same request
//! ID, concurrent uploads of one file, the size limits, and refusals of the stream — with
//! no child's name or IIN in any outcome or refusal.

use edu_aid::api::{ChildrenApi, ImportsApi, UploadLimits};
use edu_kit::CallContext;
use edu_kit::auth::Caller;
use edu_kit::testing::{error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::child_service_server::ChildService;
use futures::StreamExt;
use tonic::{Code, Status};

use crate::common::*;

const IIN_A: &str = "150313518156"; // born 2015-03-13
const IIN_B: &str = "120514581942"; // born 2012-05-14
const IIN_MISTYPED: &str = "150313518157";

fn context(caller: &Caller) -> CallContext {
    CallContext::new(
        Some(caller.clone()),
        uuid::Uuid::new_v4().to_string(),
        None,
        in_campaign(),
    )
}

fn header(school: &str, format: pb::ImportFormat, request_id: &str) -> pb::ImportHeader {
    pb::ImportHeader {
        parent: CAMPAIGN.into(),
        school: format!("schools/{school}"),
        format: format as i32,
        file_name: "список_1А.csv".into(),
        size_bytes: 0,
        request_id: request_id.into(),
    }
}

/// The upload's messages: the header, then the file in chunks of `chunk` bytes.
fn messages(
    header: pb::ImportHeader,
    file: &[u8],
    chunk: usize,
) -> futures::stream::Iter<std::vec::IntoIter<Result<pb::ImportChildrenRequest, Status>>> {
    let mut out = vec![Ok(pb::ImportChildrenRequest {
        part: Some(pb::import_children_request::Part::Header(header)),
    })];
    for part in file.chunks(chunk) {
        out.push(Ok(pb::ImportChildrenRequest {
            part: Some(pb::import_children_request::Part::Chunk(part.to_vec())),
        }));
    }
    futures::stream::iter(out)
}

async fn upload(
    api: &ImportsApi,
    caller: &Caller,
    header: pb::ImportHeader,
    file: &[u8],
) -> Result<pb::ChildImport, Status> {
    api.import(&context(caller), messages(header, file, 7))
        .await
        .map_err(Status::from)
}

async fn read_rows(api: &ImportsApi, caller: &Caller, import: &str) -> Vec<pb::ChildImportRow> {
    api.list_rows(
        &context(caller),
        &pb::ListChildImportRowsRequest {
            parent: import.into(),
            ..Default::default()
        },
    )
    .await
    .expect("rows")
    .rows
}

#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, expected: &str) -> Status {
    match result {
        Ok(ok) => panic!("expected {code:?} {expected}, got {ok:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(reason(&status), expected, "{status:?}");
            status
        }
    }
}

/// A file with Russian headings, `;`, a byte-order mark, and good, duplicate, already
/// listed, invalid and empty rows.
fn mixed_file() -> Vec<u8> {
    let mut text = String::from(
        "\u{feff}ИИН;Фамилия;Имя;Отчество;Дата рождения;Класс;Категории;Причина риска;Источник;Законный представитель;Дата согласия;Документ согласия;Примечание\n",
    );
    // Row 2: imported.
    text.push_str(&format!("{IIN_A};Иванов;Арман;;13.03.2015;2;малообеспеченная;;SURVEY;Иванова А.;03.08.2023;заявление № 1;x\n"));
    // Row 3: the same child again.
    text.push_str(&format!(
        "{IIN_A};Иванов;Арман;;2015-03-13;2;LOW_INCOME;;;Иванова А.;03.08.2023;;\n"
    ));
    // Row 4: listed before by another school.
    text.push_str(&format!(
        "{IIN_B};Серикова;Айгерим;;14.05.2012;5;\"многодетная, сирота\";;;Сериков Б.;03.08.2023;;\n"
    ));
    // Row 5: a mistyped IIN, a grade out of range, an unknown category.
    text.push_str(&format!(
        "{IIN_MISTYPED};Петров;Иван;;13.03.2015;12;бедные;;;Петрова В.;03.08.2023;;\n"
    ));
    // Row 6: empty, skipped.
    text.push_str(";;;;;;;;;;;;\n");
    // Row 7: without an IIN, other risk with a reason.
    text.push_str(
        ";Ахметова;Дана;Ериковна;14.03.2016;0;другое;переезд семьи;RAID;Ахметов Е.;2023-08-04;;\n",
    );
    // Row 8: required fields empty, bad dates, unknown source, other risk without reason.
    text.push_str(";;Тимур;;31.02.2015;3;OTHER_RISK;;POLICE;Тимуров Т.;01.01.2030;;\n");
    text.into_bytes()
}

async fn list_by_other_school(fx: &Fixture) {
    let children = ChildrenApi::new(fx.store.clone());
    children
        .create_child(request(
            &school_staff("s2"),
            in_campaign(),
            pb::CreateChildRequest {
                parent: CAMPAIGN.into(),
                child: Some(pb::Child {
                    iin: IIN_B.into(),
                    family_name: "Серикова".into(),
                    given_name: "Айгерим".into(),
                    birth_date: date(2012, 5, 14),
                    grade: 5,
                    categories: vec![pb::ChildCategory::LargeFamily as i32],
                    identification_source: pb::IdentificationSource::Survey as i32,
                    school: "schools/s2".into(),
                    consent: Some(pb::Consent {
                        representative_name: "Сериков Б.".into(),
                        give_date: date(2023, 8, 3),
                        document: String::new(),
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("listed by s2");
}

async fn setup() -> (Fixture, ImportsApi) {
    let fx = Fixture::new().await;
    fx.campaign().await;
    fx.school("s1", "KZ-75").await;
    fx.school("s2", "KZ-71").await;
    let api = ImportsApi::new(fx.store.clone());
    (fx, api)
}

#[tokio::test]
async fn each_row_of_a_csv_file_gets_its_outcome() {
    let (fx, api) = setup().await;
    list_by_other_school(&fx).await;
    let staff = school_staff("s1");
    let summary = upload(
        &api,
        &staff,
        header("s1", pb::ImportFormat::Csv, "r-1"),
        &mixed_file(),
    )
    .await
    .expect("imported");
    assert_eq!(summary.school, "schools/s1");
    assert_eq!(summary.rows, 6);
    assert_eq!(summary.imported, 2);
    assert_eq!(summary.already_listed, 1);
    assert_eq!(summary.duplicate_in_file, 1);
    assert_eq!(summary.invalid, 2);
    assert_eq!(summary.size_bytes, mixed_file().len() as i64);
    assert_eq!(summary.sha256.len(), 64);

    let rows = read_rows(&api, &staff, &summary.name).await;
    let by_number = |n: i32| rows.iter().find(|r| r.row_number == n).expect("row");
    use pb::ImportRowOutcome as O;
    assert_eq!(by_number(2).outcome, O::Imported as i32);
    assert!(
        by_number(2)
            .child
            .starts_with(&format!("{CAMPAIGN}/children/"))
    );
    assert_eq!(by_number(3).outcome, O::DuplicateInFile as i32);
    assert_eq!(by_number(3).first_row, 2);
    assert_eq!(by_number(4).outcome, O::AlreadyListed as i32);
    assert_eq!(
        by_number(4).child,
        "",
        "another school's record is not named"
    );
    let problems = |n: i32| -> Vec<(String, String)> {
        by_number(n)
            .problems
            .iter()
            .map(|p| (p.column.clone(), p.reason.clone()))
            .collect()
    };
    assert_eq!(by_number(5).outcome, O::Invalid as i32);
    assert_eq!(
        problems(5),
        vec![
            ("iin".to_string(), "IIN_INVALID".to_string()),
            ("grade".into(), "GRADE_INVALID".into()),
            ("categories".into(), "CATEGORY_UNKNOWN".into()),
        ]
    );
    assert!(
        rows.iter().all(|r| r.row_number != 6),
        "empty rows are skipped"
    );
    assert_eq!(by_number(7).outcome, O::Imported as i32);
    assert_eq!(
        problems(8),
        vec![
            ("family_name".to_string(), "FIELD_REQUIRED".to_string()),
            ("birth_date".into(), "DATE_INVALID".into()),
            (
                "other_risk_reason".into(),
                "OTHER_RISK_REASON_REQUIRED".into()
            ),
            ("identification_source".into(), "SOURCE_UNKNOWN".into()),
            ("consent_date".into(), "DATE_OUT_OF_RANGE".into()),
        ]
    );
    assert!(by_number(8).problems.iter().all(|p| !p.message.is_empty()));
    // No name, IIN or other cell value in any outcome.
    let text = format!("{rows:?}");
    for value in [
        IIN_A,
        IIN_B,
        IIN_MISTYPED,
        "Иванов",
        "Петров",
        "Тимур",
        "бедные",
        "POLICE",
    ] {
        assert!(!text.contains(value), "an outcome carries a cell's value");
    }
    // Only the good rows were listed, with their events.
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 3);
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.event_outbox WHERE event_type = 'CHILD_LISTED'")
            .await,
        3
    );
    // Filtered and paged.
    let invalid = api
        .list_rows(
            &context(&staff),
            &pb::ListChildImportRowsRequest {
                parent: summary.name.clone(),
                outcome: O::Invalid as i32,
                page_size: 1,
                page_token: String::new(),
            },
        )
        .await
        .expect("page");
    assert_eq!(invalid.rows.len(), 1);
    assert_eq!(invalid.rows[0].row_number, 5);
    let next = api
        .list_rows(
            &context(&staff),
            &pb::ListChildImportRowsRequest {
                parent: summary.name.clone(),
                outcome: O::Invalid as i32,
                page_size: 1,
                page_token: invalid.next_page_token.clone(),
            },
        )
        .await
        .expect("page 2");
    assert_eq!(next.rows[0].row_number, 8);
    // The region's staff read it; another school's staff do not know of it.
    assert_eq!(
        read_rows(&api, &regional("KZ-75"), &summary.name)
            .await
            .len(),
        6
    );
    let other = api
        .list_rows(
            &context(&school_staff("s2")),
            &pb::ListChildImportRowsRequest {
                parent: summary.name.clone(),
                ..Default::default()
            },
        )
        .await
        .map_err(Status::from);
    refused(other, Code::NotFound, "NOT_FOUND");
}

fn two_children() -> Vec<u8> {
    format!(
        "iin,family_name,given_name,birth_date,grade,categories,representative_name,consent_date\n\
         {IIN_A},Иванов,Арман,13.03.2015,2,LOW_INCOME,Иванова А.,03.08.2023\n\
         ,Ахметова,Дана,14.03.2016,0,ORPHAN,Ахметов Е.,03.08.2023\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_retry_under_the_same_request_id_imports_nothing_twice() {
    let (fx, api) = setup().await;
    let staff = school_staff("s1");
    let first = upload(
        &api,
        &staff,
        header("s1", pb::ImportFormat::Csv, "r-1"),
        &two_children(),
    )
    .await
    .expect("first");
    assert_eq!(first.imported, 2);
    let again = upload(
        &api,
        &staff,
        header("s1", pb::ImportFormat::Csv, "r-1"),
        &two_children(),
    )
    .await
    .expect("retry");
    assert_eq!(again, first);
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 2);
    assert_eq!(fx.count("SELECT count(*) FROM aid.child_imports").await, 1);
    // The same request ID with another file is refused.
    let mut other = two_children();
    other.extend_from_slice(b"\n");
    let reused = upload(
        &api,
        &staff,
        header("s1", pb::ImportFormat::Csv, "r-1"),
        &other,
    )
    .await;
    refused(reused, Code::InvalidArgument, "REQUEST_ID_REUSED");
    // Under a new request ID the file is read again, and finds its children listed.
    let later = upload(
        &api,
        &staff,
        header("s1", pb::ImportFormat::Csv, "r-2"),
        &two_children(),
    )
    .await
    .expect("later");
    assert_eq!((later.imported, later.already_listed), (0, 2));
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 2);
}

#[tokio::test]
async fn concurrent_uploads_of_one_file_list_each_child_once() {
    let (fx, api) = setup().await;
    let staff = school_staff("s1");
    let regional = regional("KZ-75");
    let file = two_children();
    let (a, b) = tokio::join!(
        upload(
            &api,
            &staff,
            header("s1", pb::ImportFormat::Csv, "a"),
            &file
        ),
        upload(
            &api,
            &regional,
            header("s1", pb::ImportFormat::Csv, "b"),
            &file
        ),
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.imported + b.imported, 2, "{a:?} {b:?}");
    assert_eq!(a.already_listed + b.already_listed, 2);
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 2);
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_and_imports_nothing() {
    let (fx, _) = setup().await;
    let staff = school_staff("s1");
    let small = ImportsApi::with_limits(
        fx.store.clone(),
        UploadLimits {
            max_bytes: 100,
            max_rows: 1,
        },
    );
    // By the bytes received.
    let status = refused(
        upload(
            &small,
            &staff,
            header("s1", pb::ImportFormat::Csv, "r"),
            &two_children(),
        )
        .await,
        Code::ResourceExhausted,
        "IMPORT_TOO_LARGE",
    );
    assert_eq!(
        error_metadata(&status, "limit_bytes").as_deref(),
        Some("100")
    );
    // By the declared size, before any byte.
    let mut declared = header("s1", pb::ImportFormat::Csv, "r");
    declared.size_bytes = 101;
    refused(
        upload(&small, &staff, declared, b"").await,
        Code::ResourceExhausted,
        "IMPORT_TOO_LARGE",
    );
    // By the rows: the first row was listed, then rolled back.
    let rows_limited = ImportsApi::with_limits(
        fx.store.clone(),
        UploadLimits {
            max_bytes: 1 << 20,
            max_rows: 1,
        },
    );
    let status = refused(
        upload(
            &rows_limited,
            &staff,
            header("s1", pb::ImportFormat::Csv, "r"),
            &two_children(),
        )
        .await,
        Code::ResourceExhausted,
        "IMPORT_TOO_LARGE",
    );
    assert_eq!(error_metadata(&status, "limit_rows").as_deref(), Some("1"));
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 0);
    assert_eq!(fx.count("SELECT count(*) FROM aid.child_imports").await, 0);
    assert_eq!(fx.count("SELECT count(*) FROM aid.event_outbox").await, 0);
}

#[tokio::test]
async fn malformed_uploads_are_refused() {
    let (fx, api) = setup().await;
    let staff = school_staff("s1");
    let ctx = context(&staff);
    // No header first.
    let chunk_first = futures::stream::iter(vec![Ok(pb::ImportChildrenRequest {
        part: Some(pb::import_children_request::Part::Chunk(b"iin".to_vec())),
    })]);
    refused(
        api.import(&ctx, chunk_first).await.map_err(Status::from),
        Code::InvalidArgument,
        "IMPORT_HEADER_MISSING",
    );
    refused(
        api.import(&ctx, futures::stream::iter(Vec::new()))
            .await
            .map_err(Status::from),
        Code::InvalidArgument,
        "IMPORT_HEADER_MISSING",
    );
    // An upload its sender abandoned half-way (tonic reads a reset stream as CANCELLED):
    // the caller's leaving, not a malformed upload.
    let mut abandoned: Vec<Result<pb::ImportChildrenRequest, Status>> =
        messages(header("s1", pb::ImportFormat::Csv, "gone"), b"iin;", 2)
            .collect::<Vec<_>>()
            .await;
    abandoned.push(Err(Status::cancelled("h2 protocol error: stream reset")));
    refused(
        api.import(&ctx, futures::stream::iter(abandoned))
            .await
            .map_err(Status::from),
        Code::Cancelled,
        "CALL_CANCELLED",
    );
    // A second header.
    let mut twice: Vec<Result<pb::ImportChildrenRequest, Status>> =
        messages(header("s1", pb::ImportFormat::Csv, "r"), b"x", 1)
            .collect::<Vec<_>>()
            .await;
    twice.push(Ok(pb::ImportChildrenRequest {
        part: Some(pb::import_children_request::Part::Header(header(
            "s1",
            pb::ImportFormat::Csv,
            "r",
        ))),
    }));
    refused(
        api.import(&ctx, futures::stream::iter(twice))
            .await
            .map_err(Status::from),
        Code::InvalidArgument,
        "IMPORT_HEADER_MISSING",
    );
    // Header fields.
    let mut bad = header("s1", pb::ImportFormat::Unspecified, "");
    bad.file_name.clear();
    refused(
        upload(&api, &staff, bad, b"x").await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    // Another school's staff, and other roles.
    refused(
        upload(
            &api,
            &staff,
            header("s2", pb::ImportFormat::Csv, "r"),
            &two_children(),
        )
        .await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    refused(
        upload(
            &api,
            &coordinator(),
            header("s1", pb::ImportFormat::Csv, "r"),
            &two_children(),
        )
        .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    // Regional staff of another region: the school does not exist for them.
    refused(
        upload(
            &api,
            &regional("KZ-71"),
            header("s1", pb::ImportFormat::Csv, "r"),
            &two_children(),
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    // Unreadable files.
    let status = refused(
        upload(&api, &staff, header("s1", pb::ImportFormat::Csv, "e"), b"").await,
        Code::InvalidArgument,
        "IMPORT_FILE_UNREADABLE",
    );
    assert_eq!(error_metadata(&status, "problem").as_deref(), Some("EMPTY"));
    let status = refused(
        upload(
            &api,
            &staff,
            header("s1", pb::ImportFormat::Csv, "u"),
            b"iin;\xff\xfe\n1;2\n",
        )
        .await,
        Code::InvalidArgument,
        "IMPORT_FILE_UNREADABLE",
    );
    assert_eq!(
        error_metadata(&status, "problem").as_deref(),
        Some("NOT_UTF8")
    );
    let status = refused(
        upload(
            &api,
            &staff,
            header("s1", pb::ImportFormat::Xlsx, "x"),
            b"not a workbook",
        )
        .await,
        Code::InvalidArgument,
        "IMPORT_FILE_UNREADABLE",
    );
    assert_eq!(
        error_metadata(&status, "problem").as_deref(),
        Some("NOT_XLSX")
    );
    let status = refused(
        upload(
            &api,
            &staff,
            header("s1", pb::ImportFormat::Csv, "c"),
            "Фамилия;Имя;Класс\nИванов;Арман;2\n".as_bytes(),
        )
        .await,
        Code::InvalidArgument,
        "IMPORT_COLUMNS_MISSING",
    );
    assert_eq!(
        error_metadata(&status, "columns").as_deref(),
        Some("birth_date,categories,representative_name,consent_date")
    );
    assert_eq!(fx.count("SELECT count(*) FROM aid.child_imports").await, 0);
}

/// A minimal workbook whose first worksheet has `rows` (numbers as numeric cells, text as
/// inline strings; `#date:N` as a date serial with the date style).
fn workbook(rows: &[&[&str]]) -> Vec<u8> {
    use std::io::Write;
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, value) in row.iter().enumerate() {
            let cell = format!("{}{}", (b'A' + c as u8) as char, r + 1);
            if value.is_empty() {
                continue;
            } else if let Some(serial) = value.strip_prefix("#date:") {
                sheet.push_str(&format!(r#"<c r="{cell}" s="1"><v>{serial}</v></c>"#));
            } else if value.bytes().all(|b| b.is_ascii_digit()) {
                sheet.push_str(&format!(r#"<c r="{cell}"><v>{value}</v></c>"#));
            } else {
                sheet.push_str(&format!(
                    r#"<c r="{cell}" t="inlineStr"><is><t>{value}</t></is></c>"#
                ));
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#.to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Дети" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#.to_string(),
        ),
        (
            "xl/styles.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#.to_string(),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, text) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        zip.write_all(text.as_bytes()).expect("write");
    }
    zip.finish().expect("zip");
    out.into_inner()
}

#[tokio::test]
async fn an_xlsx_workbook_is_imported_row_by_row() {
    let (fx, api) = setup().await;
    let staff = school_staff("s1");
    // 2015-03-13 is serial 42076; 2023-08-03 is 45141.
    let file = workbook(&[
        &[
            "ИИН",
            "Фамилия",
            "Имя",
            "Дата рождения",
            "Класс",
            "Категории",
            "Законный представитель",
            "Дата согласия",
        ],
        &[
            IIN_A,
            "Иванов",
            "Арман",
            "#date:42076",
            "2",
            "LOW_INCOME",
            "Иванова А.",
            "#date:45141",
        ],
        &[
            "",
            "Ахметова",
            "Дана",
            "14.03.2016",
            "0",
            "сирота",
            "Ахметов Е.",
            "2023-08-03",
        ],
        &[
            IIN_MISTYPED,
            "Петров",
            "Иван",
            "#date:42076",
            "2",
            "LOW_INCOME",
            "Петрова В.",
            "#date:45141",
        ],
    ]);
    let mut head = header("s1", pb::ImportFormat::Xlsx, "x-1");
    head.file_name = "список_1А.xlsx".into();
    let summary = upload(&api, &staff, head, &file).await.expect("imported");
    assert_eq!(
        (summary.rows, summary.imported, summary.invalid),
        (3, 2, 1),
        "{summary:?}"
    );
    assert_eq!(summary.format, pb::ImportFormat::Xlsx as i32);
    let rows = read_rows(&api, &staff, &summary.name).await;
    assert_eq!(rows[2].row_number, 4);
    assert_eq!(rows[2].problems[0].reason, "IIN_INVALID");
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 2);
}
