//! `ImportService`: bulk import of children from a CSV or XLSX file (import.proto).
//!
//! The upload is spooled to a temporary file while its SHA-256 and size are taken (the
//! size checked against the limit as bytes arrive), so memory does not grow with a CSV
//! file: it is then read record by record. An XLSX workbook is read whole by its nature,
//! bounded by the same byte limit. Each data row is listed as CreateChild lists a child
//! ([`children::create`]), after the row's fields are checked here column by column, so a
//! bad row becomes an INVALID outcome and never fails the call. The rows, their records,
//! events and the import's summary commit in one transaction.
//!
//! Personal data: no cell's value appears in a log line, a refusal or a row's outcome;
//! outcomes name the row number, the column and a reason code.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use edu_kit::config::{ConfigError, Env};
use edu_kit::error::{ErrorKind, FieldProblems, reason as kit_reason};
use edu_kit::paging::{QueryFingerprint, decode_token, encode_token};
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::import_service_server::ImportService;
use futures::{Stream, StreamExt};
use jiff::civil::Date;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tonic::{Request, Response, Status, Streaming};

use super::access::{Viewer, scope_required};
use super::{convert, respond};
use crate::domain::iin::Iin;
use crate::store::children::{self, Category, ChildDraft, Consent, Listed, Source};
use crate::store::imports::{self, Counts, Format, Import, Outcome, Problem, Row};
use crate::store::{Store, campaigns, schools};

/// The reasons of ImportService's refusals, beyond the kit's and the service's shared ones.
pub mod reason {
    use edu_kit::error::Reason;

    pub use edu_kit::framing::frame_reason::MESSAGE_TOO_LARGE;

    /// The first message is not a header, a second header came, or none came.
    pub const IMPORT_HEADER_MISSING: Reason = Reason::new(
        "IMPORT_HEADER_MISSING",
        "Загрузка должна начинаться с одного заголовка, затем части файла.",
    );
    /// The file cannot be read (metadata `problem`: `EMPTY`, `NOT_UTF8`, `NOT_XLSX`,
    /// `NO_HEADER_ROW`).
    pub const IMPORT_FILE_UNREADABLE: Reason = Reason::new(
        "IMPORT_FILE_UNREADABLE",
        "Файл не удаётся прочитать: нужен CSV в UTF-8 или книга XLSX со строкой заголовков.",
    );
    /// Required columns are missing (metadata `columns`, their keys, comma-separated).
    pub const IMPORT_COLUMNS_MISSING: Reason = Reason::new(
        "IMPORT_COLUMNS_MISSING",
        "В файле нет обязательных столбцов.",
    );
    /// The file passes the configured limit (metadata `limit_bytes` or `limit_rows`).
    pub const IMPORT_TOO_LARGE: Reason = Reason::new(
        "IMPORT_TOO_LARGE",
        "Файл больше допустимого размера; ничего не импортировано.",
    );
}

/// The variable with the largest upload in bytes.
pub const MAX_UPLOAD_BYTES_VAR: &str = "EDU_AID_MAX_UPLOAD_BYTES";
/// The variable with the most data rows of one upload.
pub const MAX_UPLOAD_ROWS_VAR: &str = "EDU_AID_MAX_UPLOAD_ROWS";
/// The largest upload by default, 32 MiB (import.proto).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 32 * 1024 * 1024;
/// The most data rows of one upload by default.
pub const DEFAULT_MAX_UPLOAD_ROWS: u32 = 200_000;
/// The largest chunk message, 1 MiB (import.proto).
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;

/// The limits of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// The most bytes of a file.
    pub max_bytes: u64,
    /// The most data rows of a file.
    pub max_rows: u32,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_rows: DEFAULT_MAX_UPLOAD_ROWS,
        }
    }
}

impl UploadLimits {
    /// Reads `EDU_AID_MAX_UPLOAD_BYTES` and `EDU_AID_MAX_UPLOAD_ROWS`, with the defaults
    /// when unset.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(UploadLimits {
            max_bytes: env.parse_or(MAX_UPLOAD_BYTES_VAR, DEFAULT_MAX_UPLOAD_BYTES)?,
            max_rows: env.parse_or(MAX_UPLOAD_ROWS_VAR, DEFAULT_MAX_UPLOAD_ROWS)?,
        })
    }
}

/// The import service.
#[derive(Debug, Clone)]
pub struct ImportsApi {
    store: Store,
    limits: UploadLimits,
    spool_dir: PathBuf,
}

/// The columns, in column order, with their Russian headings.
const COLUMNS: [(&str, &str); 12] = [
    ("iin", "иин"),
    ("family_name", "фамилия"),
    ("given_name", "имя"),
    ("patronymic", "отчество"),
    ("birth_date", "дата рождения"),
    ("grade", "класс"),
    ("categories", "категории"),
    ("other_risk_reason", "причина риска"),
    ("identification_source", "источник"),
    ("representative_name", "законный представитель"),
    ("consent_date", "дата согласия"),
    ("consent_document", "документ согласия"),
];
const IIN: usize = 0;
const FAMILY_NAME: usize = 1;
const GIVEN_NAME: usize = 2;
const PATRONYMIC: usize = 3;
const BIRTH_DATE: usize = 4;
const GRADE: usize = 5;
const CATEGORIES: usize = 6;
const OTHER_RISK_REASON: usize = 7;
const SOURCE: usize = 8;
const REPRESENTATIVE: usize = 9;
const CONSENT_DATE: usize = 10;
const CONSENT_DOCUMENT: usize = 11;
/// Columns a file must have.
const REQUIRED: [usize; 7] = [
    FAMILY_NAME,
    GIVEN_NAME,
    BIRTH_DATE,
    GRADE,
    CATEGORIES,
    REPRESENTATIVE,
    CONSENT_DATE,
];

/// Categories by key and Russian word.
const CATEGORY_WORDS: [(Category, &str); 5] = [
    (Category::LowIncome, "малообеспеченная"),
    (Category::LargeFamily, "многодетная"),
    (Category::Orphan, "сирота"),
    (Category::WithoutParentalCare, "без попечения родителей"),
    (Category::OtherRisk, "другое"),
];

const MAX_NAME_CHARS: usize = convert::MAX_NAME_CHARS;
const MAX_REASON_CHARS: usize = 2000;

/// The Russian text of a row problem's reason code.
fn problem_message(code: &str) -> &'static str {
    match code {
        "FIELD_REQUIRED" => "Обязательное поле не заполнено.",
        "VALUE_TOO_LONG" => "Значение слишком длинное.",
        "IIN_INVALID" => {
            "ИИН указан неверно: нужны 12 цифр с датой рождения и верной контрольной цифрой."
        }
        "IIN_BIRTH_DATE_MISMATCH" => "Дата рождения не совпадает с датой рождения в ИИН.",
        "DATE_INVALID" => "Дата указана неверно: нужен формат ДД.ММ.ГГГГ или ГГГГ-ММ-ДД.",
        "DATE_OUT_OF_RANGE" => {
            "Дата вне допустимого диапазона: с 2000 года и не позже сегодняшнего дня."
        }
        "GRADE_INVALID" => "Класс — целое число от 0 (предшкольный класс) до 11.",
        "CATEGORY_UNKNOWN" => "Неизвестная категория.",
        "CATEGORY_REPEATED" => "Категория указана дважды.",
        "OTHER_RISK_REASON_REQUIRED" => "Для категории «другое» укажите причину риска.",
        "SOURCE_UNKNOWN" => "Неизвестный источник выявления.",
        _ => "Значение указано неверно.",
    }
}

fn too_large_bytes(limit: u64) -> ApiError {
    ApiError::new(
        ErrorKind::ResourceExhausted,
        reason::IMPORT_TOO_LARGE,
        format!("the file is larger than {limit} bytes; nothing was imported"),
    )
    .with_metadata("limit_bytes", limit.to_string())
}

fn too_large_rows(limit: u32) -> ApiError {
    ApiError::new(
        ErrorKind::ResourceExhausted,
        reason::IMPORT_TOO_LARGE,
        format!("the file has more than {limit} data rows; nothing was imported"),
    )
    .with_metadata("limit_rows", limit.to_string())
}

fn unreadable(problem: &'static str) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidArgument,
        reason::IMPORT_FILE_UNREADABLE,
        format!("the file cannot be read: {problem}"),
    )
    .with_metadata("problem", problem)
}

fn header_missing(what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidArgument,
        reason::IMPORT_HEADER_MISSING,
        what.to_string(),
    )
}

/// A failure of the client's stream as a refusal. A message the request checks refused
/// keeps its field violations (the codec answers them as `google.rpc.BadRequest`).
fn stream_failed(status: &Status) -> ApiError {
    use tonic_types::StatusExt;
    // The uploader reset its stream or lost its connection: the call ended on its side,
    // which is no mistake in what it sent.
    if status.code() == tonic::Code::Cancelled {
        return ApiError::new(
            ErrorKind::Cancelled,
            kit_reason::CALL_CANCELLED,
            "the uploader went away before its upload arrived whole",
        );
    }
    if status.code() == tonic::Code::InvalidArgument
        && let Some(bad) = status.get_details_bad_request()
        && !bad.field_violations.is_empty()
    {
        return ApiError::invalid_fields(
            bad.field_violations
                .iter()
                .map(|v| edu_kit::error::FieldProblem {
                    field: v.field.clone(),
                    description: v.description.clone(),
                })
                .collect(),
        );
    }
    if status.code() == tonic::Code::ResourceExhausted || status.code() == tonic::Code::OutOfRange {
        ApiError::new(
            ErrorKind::ResourceExhausted,
            reason::MESSAGE_TOO_LARGE,
            "a message of the upload is larger than the service accepts",
        )
    } else {
        ApiError::new(
            ErrorKind::InvalidArgument,
            kit_reason::MESSAGE_UNDECODABLE,
            "the upload stream failed",
        )
    }
}

/// The header, checked.
struct Header {
    campaign_id: String,
    school_id: String,
    format: Format,
    file_name: String,
    size_bytes: i64,
    request_id: String,
}

fn header_of(h: &pb::ImportHeader) -> Result<Header, ApiError> {
    let mut problems = FieldProblems::new();
    let campaign_id = problems.field(convert::campaign_id(&h.parent, "header.parent"));
    let school_id = problems.field(convert::school_id(&h.school, "header.school"));
    let format = match pb::ImportFormat::try_from(h.format) {
        Ok(pb::ImportFormat::Csv) => Some(Format::Csv),
        Ok(pb::ImportFormat::Xlsx) => Some(Format::Xlsx),
        _ => {
            problems.add("header.format", "required: CSV or XLSX");
            None
        }
    };
    let file_name = problems.text("header.file_name", &h.file_name, 255, true);
    let request_id = problems.text("header.request_id", &h.request_id, 200, true);
    if h.size_bytes < 0 {
        problems.add("header.size_bytes", "zero when unknown, or the file's size");
    }
    problems.finish()?;
    match (campaign_id, school_id, format) {
        (Some(campaign_id), Some(school_id), Some(format)) => Ok(Header {
            campaign_id,
            school_id,
            format,
            file_name,
            size_bytes: h.size_bytes,
            request_id,
        }),
        _ => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "header",
            "incomplete header",
        )),
    }
}

/// The spooled upload, removed when dropped.
#[derive(Debug)]
struct Spool {
    path: PathBuf,
}

impl Drop for Spool {
    fn drop(&mut self) {
        // The file may never have been created; nothing to report either way.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the upload was: where its bytes are, how many, their hash.
struct Spooled {
    spool: Spool,
    size: u64,
    sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's rows as text cells, header first.
enum Rows {
    Csv {
        reader: csv::Reader<BufReader<std::fs::File>>,
        record: csv::ByteRecord,
        number: i32,
    },
    Xlsx {
        range: calamine::Range<calamine::Data>,
        next: usize,
        first_row: u32,
    },
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rows(…)")
    }
}

fn io_error(error: &std::io::Error) -> ApiError {
    ApiError::internal(error)
}

/// Opens a spooled CSV file: skips a byte-order mark, and separates by `;` when the
/// header row has one, by `,` otherwise.
fn open_csv(path: &Path) -> Result<Rows, ApiError> {
    let mut file = std::fs::File::open(path).map_err(|e| io_error(&e))?;
    let mut bom = [0u8; 3];
    let mut read = 0;
    while read < 3 {
        let n = file.read(&mut bom[read..]).map_err(|e| io_error(&e))?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let start = if read == 3 && bom == [0xEF, 0xBB, 0xBF] {
        3
    } else {
        0
    };
    file.seek(SeekFrom::Start(start))
        .map_err(|e| io_error(&e))?;
    let mut first_line = Vec::new();
    BufReader::new(&mut file)
        .take(64 * 1024)
        .read_until(b'\n', &mut first_line)
        .map_err(|e| io_error(&e))?;
    let delimiter = if first_line.contains(&b';') {
        b';'
    } else {
        b','
    };
    file.seek(SeekFrom::Start(start))
        .map_err(|e| io_error(&e))?;
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(file));
    Ok(Rows::Csv {
        reader,
        record: csv::ByteRecord::new(),
        number: 0,
    })
}

/// Reads a spooled XLSX file's first worksheet (whole: the format needs it).
fn open_xlsx(path: &Path) -> Result<Rows, ApiError> {
    use calamine::Reader as _;
    let file = std::fs::File::open(path).map_err(|e| io_error(&e))?;
    let mut workbook: calamine::Xlsx<_> =
        calamine::Xlsx::new(BufReader::new(file)).map_err(|_| unreadable("NOT_XLSX"))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("NO_HEADER_ROW"))?
        .map_err(|_| unreadable("NOT_XLSX"))?;
    let first_row = range.start().map(|(row, _)| row).unwrap_or(0);
    Ok(Rows::Xlsx {
        range,
        next: 0,
        first_row,
    })
}

/// The date of an Excel serial day number (1900 date system).
fn excel_date(serial: f64) -> Option<Date> {
    if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    let base = Date::new(1899, 12, 30).ok()?;
    base.checked_add(jiff::Span::new().days(days)).ok()
}

fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                f.to_string()
            }
        }
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => excel_date(d.as_f64())
            .map(|d| d.to_string())
            .unwrap_or_default(),
        Data::DateTimeIso(s) => s.chars().take(10).collect(),
        Data::DurationIso(s) => s.clone(),
    }
}

impl Rows {
    /// The next row: its number as a spreadsheet shows it, and its cells.
    fn next_row(&mut self) -> Result<Option<(i32, Vec<String>)>, ApiError> {
        match self {
            Rows::Csv {
                reader,
                record,
                number,
            } => {
                let more = reader
                    .read_byte_record(record)
                    .map_err(|e| match e.kind() {
                        csv::ErrorKind::Io(_) => ApiError::internal(&e),
                        _ => unreadable("NOT_UTF8"),
                    })?;
                if !more {
                    return Ok(None);
                }
                *number = number.saturating_add(1);
                let mut cells = Vec::with_capacity(record.len());
                for field in record.iter() {
                    let text = std::str::from_utf8(field).map_err(|_| unreadable("NOT_UTF8"))?;
                    cells.push(text.to_string());
                }
                Ok(Some((*number, cells)))
            }
            Rows::Xlsx {
                range,
                next,
                first_row,
            } => {
                let Some(row) = range.rows().nth(*next) else {
                    return Ok(None);
                };
                let cells = row.iter().map(cell_text).collect();
                let number = i64::from(*first_row) + *next as i64 + 1;
                *next += 1;
                Ok(Some((i32::try_from(number).unwrap_or(i32::MAX), cells)))
            }
        }
    }
}

/// Where each column is in the file.
type ColumnMap = [Option<usize>; 12];

fn column_map(header: &[String]) -> ColumnMap {
    let mut map: ColumnMap = [None; 12];
    for (index, heading) in header.iter().enumerate() {
        let heading = heading.trim().trim_start_matches('\u{feff}').to_lowercase();
        if let Some(k) = COLUMNS
            .iter()
            .position(|(key, russian)| heading == *key || heading == *russian)
            && map[k].is_none()
        {
            map[k] = Some(index);
        }
    }
    map
}

/// One row's cells by column.
struct Cells<'a> {
    map: &'a ColumnMap,
    cells: &'a [String],
}

impl Cells<'_> {
    fn get(&self, column: usize) -> &str {
        self.map[column]
            .and_then(|i| self.cells.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    }
}

/// A row's problems, in column order.
#[derive(Default)]
struct RowProblems(Vec<Problem>);

impl RowProblems {
    fn add(&mut self, column: usize, reason: &str) {
        self.0.push(Problem {
            column: COLUMNS[column].0.to_string(),
            reason: reason.to_string(),
        });
    }

    fn text(&mut self, cells: &Cells<'_>, column: usize, max: usize, required: bool) -> String {
        let value = cells.get(column);
        if required && value.is_empty() {
            self.add(column, "FIELD_REQUIRED");
        } else if value.chars().count() > max {
            self.add(column, "VALUE_TOO_LONG");
        }
        value.to_string()
    }

    fn date(&mut self, cells: &Cells<'_>, column: usize, today: Date) -> Option<Date> {
        let value = cells.get(column);
        if value.is_empty() {
            self.add(column, "FIELD_REQUIRED");
            return None;
        }
        match parse_date(value) {
            None => {
                self.add(column, "DATE_INVALID");
                None
            }
            Some(d) if d.year() < 2000 || d > today => {
                self.add(column, "DATE_OUT_OF_RANGE");
                None
            }
            Some(d) => Some(d),
        }
    }
}

/// `ДД.ММ.ГГГГ` or `ГГГГ-ММ-ДД` (a time after the date, from a spreadsheet, is ignored).
fn parse_date(raw: &str) -> Option<Date> {
    let raw = raw.split([' ', 'T']).next().unwrap_or(raw);
    let parts: Vec<&str> = if raw.contains('.') {
        let p: Vec<&str> = raw.split('.').collect();
        if p.len() != 3 || p[2].len() != 4 {
            return None;
        }
        vec![p[2], p[1], p[0]]
    } else {
        let p: Vec<&str> = raw.split('-').collect();
        if p.len() != 3 || p[0].len() != 4 {
            return None;
        }
        p
    };
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let year: i16 = parts[0].parse().ok()?;
    let month: i8 = parts[1].parse().ok()?;
    let day: i8 = parts[2].parse().ok()?;
    Date::new(year, month, day).ok()
}

fn category_of(word: &str) -> Option<Category> {
    let lower = word.to_lowercase();
    CATEGORY_WORDS
        .iter()
        .find(|(c, russian)| lower == c.as_str().to_lowercase() || lower == *russian)
        .map(|(c, _)| *c)
}

/// A row as a listing, or its problems in column order.
fn row_draft(cells: &Cells<'_>, school_id: &str, today: Date) -> Result<ChildDraft, Vec<Problem>> {
    let mut p = RowProblems::default();
    let iin_raw = cells.get(IIN);
    let iin = if iin_raw.is_empty() {
        None
    } else {
        match Iin::parse(iin_raw) {
            Ok(iin) => Some(iin),
            Err(_) => {
                p.add(IIN, "IIN_INVALID");
                None
            }
        }
    };
    let family_name = p.text(cells, FAMILY_NAME, MAX_NAME_CHARS, true);
    let given_name = p.text(cells, GIVEN_NAME, MAX_NAME_CHARS, true);
    let patronymic = p.text(cells, PATRONYMIC, MAX_NAME_CHARS, false);
    let birth_date = p.date(cells, BIRTH_DATE, today);
    if let (Some(iin), Some(born)) = (&iin, birth_date)
        && iin.birth_date() != born
    {
        p.add(BIRTH_DATE, "IIN_BIRTH_DATE_MISMATCH");
    }
    let grade_raw = cells.get(GRADE);
    let grade = if grade_raw.is_empty() {
        p.add(GRADE, "FIELD_REQUIRED");
        0
    } else {
        match grade_raw.parse::<i16>() {
            Ok(g) if (0..=11).contains(&g) => g,
            _ => {
                p.add(GRADE, "GRADE_INVALID");
                0
            }
        }
    };
    let mut categories = Vec::new();
    let categories_raw = cells.get(CATEGORIES);
    let words: Vec<&str> = categories_raw
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        p.add(CATEGORIES, "FIELD_REQUIRED");
    }
    for word in words {
        match category_of(word) {
            None => p.add(CATEGORIES, "CATEGORY_UNKNOWN"),
            Some(c) if categories.contains(&c) => p.add(CATEGORIES, "CATEGORY_REPEATED"),
            Some(c) => categories.push(c),
        }
    }
    let mut other_risk_reason = p.text(cells, OTHER_RISK_REASON, MAX_REASON_CHARS, false);
    if categories.contains(&Category::OtherRisk) {
        if other_risk_reason.is_empty() {
            p.add(OTHER_RISK_REASON, "OTHER_RISK_REASON_REQUIRED");
        }
    } else {
        // The reason belongs to OTHER_RISK only; without it the column is ignored.
        other_risk_reason.clear();
    }
    let source_raw = cells.get(SOURCE);
    let identification_source = if source_raw.is_empty() {
        Source::SocialPassport
    } else {
        match Source::parse(&source_raw.to_uppercase()) {
            Some(s) => s,
            None => {
                p.add(SOURCE, "SOURCE_UNKNOWN");
                Source::SocialPassport
            }
        }
    };
    let representative_name = p.text(cells, REPRESENTATIVE, MAX_NAME_CHARS, true);
    let consent_date = p.date(cells, CONSENT_DATE, today);
    let document = p.text(cells, CONSENT_DOCUMENT, MAX_NAME_CHARS, false);
    match (birth_date, consent_date) {
        (Some(birth_date), Some(give_date)) if p.0.is_empty() => Ok(ChildDraft {
            iin,
            family_name,
            given_name,
            patronymic,
            birth_date,
            grade,
            categories,
            other_risk_reason,
            identification_source,
            school_id: school_id.to_string(),
            consent: Consent {
                representative_name,
                give_date,
                document,
            },
        }),
        _ => Err(p.0),
    }
}

fn format_pb(f: Format) -> pb::ImportFormat {
    match f {
        Format::Csv => pb::ImportFormat::Csv,
        Format::Xlsx => pb::ImportFormat::Xlsx,
    }
}

fn outcome_pb(o: Outcome) -> pb::ImportRowOutcome {
    match o {
        Outcome::Imported => pb::ImportRowOutcome::Imported,
        Outcome::AlreadyListed => pb::ImportRowOutcome::AlreadyListed,
        Outcome::DuplicateInFile => pb::ImportRowOutcome::DuplicateInFile,
        Outcome::Invalid => pb::ImportRowOutcome::Invalid,
    }
}

fn import_pb(i: &Import) -> pb::ChildImport {
    pb::ChildImport {
        name: i.name(),
        school: format!("schools/{}", i.school_id),
        file_name: i.file_name.clone(),
        format: format_pb(i.format) as i32,
        size_bytes: i.size_bytes,
        sha256: i.sha256.clone(),
        rows: i.counts.rows,
        imported: i.counts.imported,
        imported_probable_duplicates: i.counts.imported_probable_duplicates,
        already_listed: i.counts.already_listed,
        duplicate_in_file: i.counts.duplicate_in_file,
        invalid: i.counts.invalid,
        create_time: Some(convert::timestamp(i.create_time)),
        complete_time: Some(convert::timestamp(i.complete_time)),
    }
}

impl ImportsApi {
    /// The service on `store`, its upload limits from `EDU_AID_MAX_UPLOAD_BYTES` and
    /// `EDU_AID_MAX_UPLOAD_ROWS` (the defaults when unset or unreadable, with a warning;
    /// [`UploadLimits::from_env`] refuses an unreadable value at start-up instead).
    pub fn new(store: Store) -> Self {
        let limits = UploadLimits::from_env(&Env::process()).unwrap_or_else(|error| {
            tracing::warn!(
                variable = error.variable,
                "upload limit unreadable; default used"
            );
            UploadLimits::default()
        });
        Self::with_limits(store, limits)
    }

    /// The service on `store` with `limits`.
    pub fn with_limits(store: Store, limits: UploadLimits) -> Self {
        ImportsApi {
            store,
            limits,
            spool_dir: std::env::temp_dir(),
        }
    }

    /// Spools the chunks that follow the header, checking the limits as they come.
    async fn spool<S>(&self, messages: &mut S) -> Result<Spooled, ApiError>
    where
        S: Stream<Item = Result<pb::ImportChildrenRequest, Status>> + Unpin,
    {
        let spool = Spool {
            path: self.spool_dir.join(format!(
                "edu-aid-import-{}.part",
                edu_kit::resource::new_id()
            )),
        };
        let mut file = tokio::fs::File::create(&spool.path)
            .await
            .map_err(|e| io_error(&e))?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(message) = messages.next().await {
            let message = message.map_err(|s| stream_failed(&s))?;
            match message.part {
                Some(pb::import_children_request::Part::Header(_)) => {
                    return Err(header_missing("a second header came after the first"));
                }
                Some(pb::import_children_request::Part::Chunk(chunk)) => {
                    if chunk.len() > MAX_CHUNK_BYTES {
                        return Err(ApiError::new(
                            ErrorKind::ResourceExhausted,
                            reason::MESSAGE_TOO_LARGE,
                            format!("a chunk is larger than {MAX_CHUNK_BYTES} bytes"),
                        )
                        .with_metadata("limit_bytes", MAX_CHUNK_BYTES.to_string()));
                    }
                    size = size.saturating_add(chunk.len() as u64);
                    if size > self.limits.max_bytes {
                        return Err(too_large_bytes(self.limits.max_bytes));
                    }
                    hasher.update(&chunk);
                    file.write_all(&chunk).await.map_err(|e| io_error(&e))?;
                }
                None => {}
            }
        }
        file.flush().await.map_err(|e| io_error(&e))?;
        drop(file);
        Ok(Spooled {
            spool,
            size,
            sha256: hex(&hasher.finalize()),
        })
    }

    /// ImportChildren over a stream of messages, header first: the trait method adapts
    /// tonic's `Streaming` to this, and tests drive it with any stream.
    pub async fn import<S>(
        &self,
        context: &CallContext,
        mut messages: S,
    ) -> Result<pb::ChildImport, ApiError>
    where
        S: Stream<Item = Result<pb::ImportChildrenRequest, Status>> + Unpin,
    {
        let caller = context.caller()?;
        let viewer = Viewer::of(caller)?;
        viewer.require_staff()?;
        let actor = caller.subject().to_string();
        let now = context.now();
        let first = messages
            .next()
            .await
            .ok_or_else(|| header_missing("the stream ended without a header"))?
            .map_err(|s| stream_failed(&s))?;
        let Some(pb::import_children_request::Part::Header(raw)) = first.part else {
            return Err(header_missing("the first message must be the header"));
        };
        let header = header_of(&raw)?;
        if !viewer.is_school(&header.school_id) && viewer.regional.is_empty() {
            return Err(scope_required(&format!("the school {}", raw.school)));
        }
        if u64::try_from(header.size_bytes).unwrap_or(0) > self.limits.max_bytes {
            return Err(too_large_bytes(self.limits.max_bytes));
        }
        let spooled = self.spool(&mut messages).await?;
        let size_bytes = i64::try_from(spooled.size).unwrap_or(i64::MAX);

        let mut tx = self.store.begin().await?;
        if !imports::try_hold_request(&mut tx, &actor, &header.request_id).await? {
            return Err(ApiError::new(
                ErrorKind::Aborted,
                kit_reason::CONCURRENT_CHANGE,
                "an upload with this request_id is still running; retry later",
            ));
        }
        if let Some(done) = imports::find_by_request(&mut tx, &actor, &header.request_id).await? {
            if done.campaign_id == header.campaign_id
                && done.school_id == header.school_id
                && done.sha256 == spooled.sha256
            {
                return Ok(import_pb(&done));
            }
            return Err(ApiError::invalid_field(
                kit_reason::REQUEST_ID_REUSED,
                "header.request_id",
                "this request_id was used for another upload",
            ));
        }
        children::hold_campaign(&mut tx, &header.campaign_id).await?;
        let campaign = campaigns::fetch(&mut tx, &header.campaign_id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(raw.parent.clone()))?;
        let school = schools::fetch(&mut tx, &header.school_id, false)
            .await?
            .filter(|s| viewer.sees_children_of(&s.id, &s.region_code))
            .ok_or_else(|| ApiError::not_found(raw.school.clone()))?;
        campaign.ensure_region(&school.region_code)?;
        campaign.ensure_not_ended(now)?;
        if spooled.size == 0 {
            return Err(unreadable("EMPTY"));
        }
        let today = campaign.today(now);

        let path = spooled.spool.path.clone();
        let mut rows = match header.format {
            Format::Csv => open_csv(&path)?,
            Format::Xlsx => tokio::task::spawn_blocking(move || open_xlsx(&path))
                .await
                .map_err(|e| ApiError::internal(&e))??,
        };
        let columns = loop {
            match rows.next_row()? {
                None => return Err(unreadable("NO_HEADER_ROW")),
                Some((_, cells)) if cells.iter().all(|c| c.trim().is_empty()) => continue,
                Some((_, cells)) => break column_map(&cells),
            }
        };
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|c| columns[**c].is_none())
            .map(|c| COLUMNS[*c].0)
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::new(
                ErrorKind::InvalidArgument,
                reason::IMPORT_COLUMNS_MISSING,
                format!("required columns are missing: {}", missing.join(", ")),
            )
            .with_metadata("columns", missing.join(",")));
        }

        let mut import = Import {
            id: edu_kit::resource::new_id(),
            campaign_id: campaign.id.clone(),
            school_id: school.id.clone(),
            region_code: school.region_code.clone(),
            actor,
            request_id: header.request_id.clone(),
            file_name: header.file_name.clone(),
            format: header.format,
            size_bytes,
            sha256: spooled.sha256.clone(),
            counts: Counts::default(),
            create_time: now,
            complete_time: now,
        };
        imports::insert(&mut tx, &import).await?;
        let mut counts = Counts::default();
        while let Some((row_number, cells)) = rows.next_row()? {
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            counts.rows += 1;
            if u32::try_from(counts.rows).unwrap_or(u32::MAX) > self.limits.max_rows {
                return Err(too_large_rows(self.limits.max_rows));
            }
            let view = Cells {
                map: &columns,
                cells: &cells,
            };
            let mut row = Row {
                row_number,
                outcome: Outcome::Invalid,
                child_id: None,
                probable_duplicate: false,
                first_row: None,
                problems: Vec::new(),
            };
            match row_draft(&view, &school.id, today) {
                Err(problems) => {
                    counts.invalid += 1;
                    row.problems = problems;
                }
                Ok(draft) => {
                    match children::create(
                        &mut tx,
                        context,
                        &campaign.id,
                        &school.region_code,
                        &draft,
                    )
                    .await?
                    {
                        Listed::New(child) => {
                            counts.imported += 1;
                            if child.probable_duplicate {
                                counts.imported_probable_duplicates += 1;
                            }
                            row.outcome = Outcome::Imported;
                            row.probable_duplicate = child.probable_duplicate;
                            row.child_id = Some(child.id.clone());
                        }
                        Listed::Existing(holder) => {
                            let id = holder.name.rsplit('/').next().unwrap_or("").to_string();
                            match imports::row_that_listed(&mut tx, &import.id, &id).await? {
                                Some(first) => {
                                    counts.duplicate_in_file += 1;
                                    row.outcome = Outcome::DuplicateInFile;
                                    row.first_row = Some(first);
                                }
                                None => {
                                    counts.already_listed += 1;
                                    row.outcome = Outcome::AlreadyListed;
                                    row.child_id = Some(id);
                                }
                            }
                        }
                    }
                }
            }
            imports::record_row(&mut tx, &import.id, &row).await?;
        }
        drop(rows);
        imports::complete(&mut tx, &import.id, &counts, now).await?;
        tx.commit().await?;
        import.counts = counts;
        tracing::info!(
            import = %import.name(),
            rows = counts.rows,
            imported = counts.imported,
            invalid = counts.invalid,
            "children imported"
        );
        Ok(import_pb(&import))
    }

    /// ListChildImportRows.
    pub async fn list_rows(
        &self,
        context: &CallContext,
        body: &pb::ListChildImportRowsRequest,
    ) -> Result<pb::ListChildImportRowsResponse, ApiError> {
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let (campaign, id) = convert::campaign_child(&body.parent, "childImports", "parent")?;
        let outcome = convert::enum_filter(body.outcome, "outcome", |raw| {
            [
                Outcome::Imported,
                Outcome::AlreadyListed,
                Outcome::DuplicateInFile,
                Outcome::Invalid,
            ]
            .into_iter()
            .find(|o| outcome_pb(*o) as i32 == raw)
        })?;
        let size = match body.page_size {
            0 => 500,
            n @ 1..=1000 => n as usize,
            _ => {
                return Err(ApiError::invalid_field(
                    kit_reason::INVALID_FIELDS,
                    "page_size",
                    "1 to 1000, or 0 for 500",
                ));
            }
        };
        let outcome_key = body.outcome.to_string();
        let query = QueryFingerprint::of(&["ListChildImportRows", &body.parent, &outcome_key]);
        let after: i32 = decode_token(query, &body.page_token)?.unwrap_or(0);
        let mut conn = self.store.read().await?;
        imports::fetch(&mut conn, &campaign, &id)
            .await?
            .filter(|i| viewer.sees_children_of(&i.school_id, &i.region_code))
            .ok_or_else(|| ApiError::not_found(body.parent.clone()))?;
        let mut stored = imports::list_rows(&mut conn, &id, outcome, after, size + 1).await?;
        conn.finish();
        let next = if stored.len() > size {
            stored.truncate(size);
            stored
                .last()
                .map(|r| encode_token(query, &r.row.row_number))
        } else {
            None
        };
        let rows = stored
            .into_iter()
            .map(|s| {
                let visible = match (&s.child_school_id, &s.child_region_code) {
                    (Some(school), Some(region)) => viewer.sees_children_of(school, region),
                    _ => false,
                };
                pb::ChildImportRow {
                    row_number: s.row.row_number,
                    outcome: outcome_pb(s.row.outcome) as i32,
                    child: s
                        .row
                        .child_id
                        .as_deref()
                        .filter(|_| visible)
                        .map(|c| children::name(&campaign, c))
                        .unwrap_or_default(),
                    probable_duplicate: s.row.probable_duplicate,
                    first_row: s.row.first_row.unwrap_or(0),
                    problems: s
                        .row
                        .problems
                        .iter()
                        .map(|p| pb::ImportRowProblem {
                            column: p.column.clone(),
                            reason: p.reason.clone(),
                            message: problem_message(&p.reason).to_string(),
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(pb::ListChildImportRowsResponse {
            rows,
            next_page_token: next.unwrap_or_default(),
        })
    }
}

#[tonic::async_trait]
impl ImportService for ImportsApi {
    async fn import_children(
        &self,
        request: Request<Streaming<pb::ImportChildrenRequest>>,
    ) -> Result<Response<pb::ChildImport>, Status> {
        let context = match CallContext::of(&request) {
            Ok(context) => context.clone(),
            Err(error) => return Err(error.into()),
        };
        let messages = request.into_inner();
        respond(self.import(&context, messages).await)
    }

    async fn list_child_import_rows(
        &self,
        request: Request<pb::ListChildImportRowsRequest>,
    ) -> Result<Response<pb::ListChildImportRowsResponse>, Status> {
        let result = match CallContext::of(&request) {
            Ok(context) => self.list_rows(context, request.get_ref()).await,
            Err(error) => Err(error),
        };
        respond(result)
    }
}
