//! The aid service's import benchmark (issue 15): a generated CSV of children uploaded
//! through the gateway with `ImportService.ImportChildren`, one upload per size, each to a
//! school of its own so that every row is listed afresh. It measures the rows listed per
//! second and the aid process's resident memory just before and at its peak during the
//! upload, which should not grow with the file: the service spools the upload to disk and
//! reads it row by row (import.proto).
//!
//! The file is what a school exports from a spreadsheet in a Russian locale: the Russian
//! headings, `;` between fields, dates as `ДД.ММ.ГГГГ`, valid IINs unique over the whole
//! run, Kazakh and Russian names, birth dates from 2009 to 2017, grades 1 to 11 and the
//! categories in words. It is built in the driver's memory, which is not measured.

use std::time::{Duration, Instant};

use jiff::civil::Date;
use tonic::transport::Channel;

use edu_aid::domain::iin::Iin;
use edu_kit::client::with_bearer;
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::campaign_service_client::CampaignServiceClient;
use edu_proto::edu::aid::v1::import_service_client::ImportServiceClient;
use edu_proto::edu::aid::v1::school_service_client::SchoolServiceClient;
use edu_proto::google::r#type::Date as PbDate;

use super::drive::pick;
use super::measure::{rss_kib, suite_processes};
use edu_devstack::suite::Suite;

/// The largest chunk message the service accepts, 1 MiB (import.proto).
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;

/// The campaign the benchmark imports into.
pub const CAMPAIGN_ID: &str = "bench-import";

/// The region of the campaign and of its schools (Almaty).
const REGION: &str = "KZ-75";

/// The campaign's time zone: its "today" decides which dates a row may carry.
const TIME_ZONE: &str = "Asia/Almaty";

/// How often the processes' resident memory is read during an upload.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The deadline of one upload: long enough for the largest file the service accepts.
const UPLOAD_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// How many invalid rows an unexpected answer quotes, to say why.
const INVALID_ROWS_QUOTED: i32 = 5;

/// How large a run is.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Data rows of each upload, one upload per entry.
    pub rows: Vec<usize>,
    /// Bytes of each chunk message, at most [`MAX_CHUNK_BYTES`] for the service to accept
    /// them.
    pub chunk_bytes: usize,
}

/// One upload and what it cost.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Data rows of the file.
    pub rows: usize,
    /// Bytes of the file.
    pub bytes: usize,
    /// From the first message sent to the answer.
    pub elapsed: Duration,
    /// The aid process's resident memory just before the upload, in KiB.
    pub aid_before_kib: u64,
    /// The most resident memory of the aid process seen during the upload, in KiB.
    pub aid_peak_kib: u64,
    /// The most resident memory of the gateway seen during the upload, in KiB; every byte
    /// passes through it.
    pub gateway_peak_kib: u64,
    /// Whether every row was imported, or what happened instead.
    pub outcome: Result<(), String>,
}

impl Upload {
    /// Rows listed per second, counting the whole call (upload, checks and commit).
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.rows as f64 / seconds
        } else {
            0.0
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// Bytes of each chunk message.
    pub chunk_bytes: usize,
    /// The uploads, in the order they ran.
    pub uploads: Vec<Upload>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn bytes_mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A size in bytes in the largest unit that divides it: `1 MiB`, `64 KiB`, `1000 bytes`.
fn size(bytes: usize) -> String {
    if bytes > 0 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes > 0 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// A count with a space between thousands, as the README writes them: `100 000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl ImportReport {
    /// The report as the command prints it.
    pub fn render(&self) -> String {
        let mut out = format!(
            "aid import benchmark: CSV through the gateway, one upload per size, chunks of {}\n",
            size(self.chunk_bytes)
        );
        out += &format!(
            "  {:<8} {:>9} {:>9} {:>8} {:>16} {:>13} {:>14}\n",
            "rows", "bytes", "time", "rows/s", "aid RSS before", "peak during", "gateway peak"
        );
        for upload in &self.uploads {
            out += &format!(
                "  {:<8} {:>9} {:>9} {:>8} {:>16} {:>13} {:>14}\n",
                upload.rows,
                format!("{:.1} MiB", bytes_mib(upload.bytes)),
                format!("{:.1} s", upload.elapsed.as_secs_f64()),
                // A failed upload listed nothing: its time is no rate.
                if upload.outcome.is_ok() {
                    format!("{:.0}", upload.rate())
                } else {
                    "-".to_string()
                },
                format!("{:.1} MiB", mib(upload.aid_before_kib)),
                format!("{:.1} MiB", mib(upload.aid_peak_kib)),
                format!("{:.1} MiB", mib(upload.gateway_peak_kib)),
            );
            if let Err(why) = &upload.outcome {
                out += &format!("    failed: {why}\n");
            }
        }
        let imported: Vec<&Upload> = self.uploads.iter().filter(|u| u.outcome.is_ok()).collect();
        let smallest = imported.iter().min_by_key(|u| u.rows);
        let largest = imported.iter().max_by_key(|u| u.rows);
        match (smallest, largest) {
            (Some(small), Some(large)) if large.rows > small.rows => {
                let growth = mib(large.aid_peak_kib) - mib(small.aid_peak_kib);
                let factor = if small.aid_peak_kib > 0 {
                    large.aid_peak_kib as f64 / small.aid_peak_kib as f64
                } else {
                    0.0
                };
                out += &format!(
                    "  aid peak growth {} → {} rows: {growth:+.1} MiB (×{factor:.2})\n",
                    grouped(small.rows),
                    grouped(large.rows)
                );
            }
            _ => {
                out += "  aid peak growth: not measured (fewer than two sizes imported whole)\n";
            }
        }
        out
    }
}

/// Given names, male and female.
const GIVEN_MALE: [&str; 24] = [
    "Нұрлан",
    "Ерасыл",
    "Тимур",
    "Алихан",
    "Санжар",
    "Арман",
    "Данияр",
    "Айдос",
    "Ерлан",
    "Мирас",
    "Нурсултан",
    "Бекзат",
    "Асылбек",
    "Дамир",
    "Руслан",
    "Артём",
    "Максим",
    "Иван",
    "Михаил",
    "Александр",
    "Дмитрий",
    "Кирилл",
    "Егор",
    "Әлихан",
];
const GIVEN_FEMALE: [&str; 24] = [
    "Әлия",
    "Аружан",
    "Айгерім",
    "Амина",
    "Дана",
    "Жансая",
    "Томирис",
    "Мадина",
    "Асель",
    "Камила",
    "Айым",
    "Інкәр",
    "Алина",
    "Дарья",
    "Анна",
    "Мария",
    "София",
    "Виктория",
    "Полина",
    "Ксения",
    "Екатерина",
    "Анастасия",
    "Жанерке",
    "Гүлнар",
];
/// Family names in their male form; the female adds «а».
const FAMILY: [&str; 30] = [
    "Ахметов",
    "Серикбаев",
    "Нурланов",
    "Жумабаев",
    "Касымов",
    "Оспанов",
    "Сулейменов",
    "Искаков",
    "Абдрахманов",
    "Байжанов",
    "Есенов",
    "Кенжебаев",
    "Мукашев",
    "Тулегенов",
    "Омаров",
    "Садыков",
    "Иванов",
    "Петров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
];
/// Patronymics, male and female, from the same fathers' names.
const PATRONYMIC: [(&str, &str); 12] = [
    ("Нурланович", "Нурлановна"),
    ("Серикович", "Сериковна"),
    ("Ерланович", "Ерлановна"),
    ("Маратович", "Маратовна"),
    ("Болатович", "Болатовна"),
    ("Арманович", "Армановна"),
    ("Сергеевич", "Сергеевна"),
    ("Александрович", "Александровна"),
    ("Андреевич", "Андреевна"),
    ("Викторович", "Викторовна"),
    ("Дмитриевич", "Дмитриевна"),
    ("Игоревич", "Игоревна"),
];
/// The categories as a school writes them, the commonest first.
const CATEGORIES: [&str; 6] = [
    "малообеспеченная",
    "многодетная",
    "малообеспеченная, многодетная",
    "без попечения родителей",
    "сирота",
    "другое",
];
/// How a child was identified; empty means the social passport.
const SOURCES: [&str; 5] = [
    "",
    "SOCIAL_PASSPORT",
    "SURVEY",
    "RAID",
    "FAMILY_APPLICATION",
];

/// The header row: the service's Russian headings (import.proto).
const HEADER: &str = "ИИН;Фамилия;Имя;Отчество;Дата рождения;Класс;Категории;Причина риска;\
                      Источник;Законный представитель;Дата согласия;Документ согласия\n";

/// The first birth date, and how many days of birth dates there are (2009 to 2017).
const FIRST_BIRTH: (i16, i8, i8) = (2009, 1, 1);
const BIRTH_DAYS: usize = 3287;
/// A multiplier prime to [`BIRTH_DAYS`] (19 × 173): consecutive rows get scattered birth
/// dates while each block of [`BIRTH_DAYS`] rows still uses every date once.
const BIRTH_STRIDE: usize = 1237;

/// The `k`-th child of the run: its birth date, whether a girl, and its IIN. IINs are
/// unique over the run: row `k` has its own date, sex and block of ten serial numbers, of
/// which the first with a valid check digit is taken, as the service's own parser judges
/// it.
fn child_identity(k: usize) -> anyhow::Result<(Date, bool, String)> {
    let first = Date::new(FIRST_BIRTH.0, FIRST_BIRTH.1, FIRST_BIRTH.2)?;
    let day = (k % BIRTH_DAYS) * BIRTH_STRIDE % BIRTH_DAYS;
    let born = first.checked_add(jiff::Span::new().days(i64::try_from(day)?))?;
    let girl = (k / BIRTH_DAYS) % 2 == 1;
    let block = k / (2 * BIRTH_DAYS);
    anyhow::ensure!(
        block < 1000,
        "more rows than the generator has distinct IINs"
    );
    // The seventh digit: 5 for a boy and 6 for a girl born from 2000 on.
    let century = if girl { 6 } else { 5 };
    let prefix = format!(
        "{:02}{:02}{:02}{century}",
        born.year() % 100,
        born.month(),
        born.day()
    );
    for serial in block * 10..block * 10 + 10 {
        for check in 0..10 {
            let candidate = format!("{prefix}{serial:04}{check}");
            if Iin::parse(&candidate).is_ok() {
                return Ok((born, girl, candidate));
            }
        }
    }
    anyhow::bail!("no valid IIN in a block of ten serial numbers")
}

fn dotted(date: Date) -> String {
    format!("{:02}.{:02}.{:04}", date.day(), date.month(), date.year())
}

/// One data row for the `k`-th child of the run.
fn row(k: usize, today: Date, consent: Date) -> anyhow::Result<String> {
    let (born, girl, iin) = child_identity(k)?;
    let family = FAMILY[pick(k, FAMILY.len())];
    let family = if girl {
        format!("{family}а")
    } else {
        family.to_string()
    };
    let given = if girl {
        GIVEN_FEMALE[pick(k + 1, GIVEN_FEMALE.len())]
    } else {
        GIVEN_MALE[pick(k + 1, GIVEN_MALE.len())]
    };
    // One child in five has no patronymic, as many Kazakh names are written.
    let patronymic = match pick(k + 2, PATRONYMIC.len() + 3) {
        i if i < PATRONYMIC.len() => {
            let (male, female) = PATRONYMIC[i];
            if girl { female } else { male }
        }
        _ => "",
    };
    let grade = (i32::from(today.year()) - i32::from(born.year()) - 6).clamp(1, 11);
    // Most rows one category, a few two; one in forty «другое» with its reason.
    let category = match pick(k + 3, 40) {
        0 => CATEGORIES[5],
        i => CATEGORIES[i % 5],
    };
    let reason = if category == CATEGORIES[5] {
        "семья в трудной жизненной ситуации"
    } else {
        ""
    };
    let source = SOURCES[pick(k + 4, SOURCES.len())];
    let mother = GIVEN_FEMALE[pick(k + 5, GIVEN_FEMALE.len())];
    let mother_family = FAMILY[pick(k + 6, FAMILY.len())];
    Ok(format!(
        "{iin};{family};{given};{patronymic};{};{grade};{category};{reason};{source};\
         {mother_family}а {mother};{};заявление № {}\n",
        dotted(born),
        dotted(consent),
        k + 1
    ))
}

/// A CSV file of `rows` children, the first of them the run's `first`-th: valid for a
/// campaign whose today is `today`, with consent given on `consent`.
pub fn csv(first: usize, rows: usize, today: Date, consent: Date) -> anyhow::Result<Vec<u8>> {
    let mut out = String::with_capacity(HEADER.len() + rows * 200);
    out += HEADER;
    for k in first..first + rows {
        out += &row(k, today, consent)?;
    }
    Ok(out.into_bytes())
}

fn pb_date(date: Date) -> Option<PbDate> {
    Some(PbDate {
        year: i32::from(date.year()),
        month: i32::from(date.month()),
        day: i32::from(date.day()),
    })
}

/// The process named `name` of the suite.
fn pid_of(suite: &Suite, name: &str) -> Option<u32> {
    suite_processes(suite)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, pid)| pid)
}

/// Runs `work` while reading the resident memory of `pids` every [`SAMPLE_EVERY`]; returns
/// its output and the most seen of each, in KiB (0 for a process that is not running).
async fn while_sampling<F: std::future::Future>(
    pids: &[Option<u32>],
    work: F,
) -> (F::Output, Vec<u64>) {
    let read = || -> Vec<u64> { pids.iter().map(|p| p.map_or(0, rss_kib)).collect() };
    let mut peak = read();
    let mut work = std::pin::pin!(work);
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            output = &mut work => {
                for (most, now) in peak.iter_mut().zip(read()) {
                    *most = (*most).max(now);
                }
                return (output, peak);
            }
            _ = tick.tick() => {
                for (most, now) in peak.iter_mut().zip(read()) {
                    *most = (*most).max(now);
                }
            }
        }
    }
}

/// Creates the campaign (as the national coordinator) around `today`, in [`REGION`].
async fn create_campaign(gateway: &Channel, today: Date) -> anyhow::Result<()> {
    let start = today.checked_sub(jiff::Span::new().days(30))?;
    let end = today.checked_add(jiff::Span::new().days(60))?;
    CampaignServiceClient::new(gateway.clone())
        .create_campaign(with_bearer(
            tonic::Request::new(pb::CreateCampaignRequest {
                campaign: Some(pb::Campaign {
                    display_name: "«Дорога в школу»: нагрузочный импорт".into(),
                    time_zone: TIME_ZONE.into(),
                    start_date: pb_date(start),
                    end_date: pb_date(end),
                    school_start_date: pb_date(today),
                    region_codes: vec![REGION.into()],
                    ..edu_aid::demo::campaign()
                }),
                campaign_id: CAMPAIGN_ID.into(),
                request_id: uuid::Uuid::new_v4().to_string(),
            }),
            &edu_aid::demo::coordinator(),
        ))
        .await
        .map_err(|s| anyhow::anyhow!("creating the campaign: {}", refusal(&s)))?;
    Ok(())
}

/// Creates school `id` (as the national coordinator, as the demo does).
async fn create_school(gateway: &Channel, id: &str, rows: usize) -> anyhow::Result<()> {
    SchoolServiceClient::new(gateway.clone())
        .create_school(with_bearer(
            tonic::Request::new(pb::CreateSchoolRequest {
                school: Some(pb::School {
                    display_name: format!("Школа нагрузочного импорта на {} детей", grouped(rows)),
                    region_code: REGION.into(),
                    locality: "Алмалинский район, г. Алматы".into(),
                    ..Default::default()
                }),
                school_id: id.into(),
                request_id: uuid::Uuid::new_v4().to_string(),
            }),
            &edu_aid::demo::coordinator(),
        ))
        .await
        .map_err(|s| anyhow::anyhow!("creating the school {id}: {}", refusal(&s)))?;
    Ok(())
}

/// A refusal as one line: the code, the `ErrorInfo` reason and the limit it names, if
/// any, and the message.
fn refusal(status: &tonic::Status) -> String {
    let mut out = format!("{:?}", status.code());
    let reason = edu_kit::testing::reason(status);
    if !reason.is_empty() {
        out += &format!(" {reason}");
    }
    for key in ["limit_bytes", "limit_rows"] {
        if let Some(limit) = edu_kit::testing::error_metadata(status, key) {
            out += &format!(" ({key} {limit})");
        }
    }
    out += &format!(": {}", status.message());
    // The id the service's log lines carry, to find why in the logs.
    if let Some(id) = status
        .metadata()
        .get(edu_kit::context::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        out += &format!(" (request id {id})");
    }
    out
}

/// Uploads `file` for school `school_id` as its staff: the header, then chunks of
/// `chunk_bytes`.
async fn upload(
    gateway: &Channel,
    school_id: &str,
    file: Vec<u8>,
    chunk_bytes: usize,
) -> Result<pb::ChildImport, tonic::Status> {
    let mut messages = vec![pb::ImportChildrenRequest {
        part: Some(pb::import_children_request::Part::Header(
            pb::ImportHeader {
                parent: format!("campaigns/{CAMPAIGN_ID}"),
                school: format!("schools/{school_id}"),
                format: pb::ImportFormat::Csv as i32,
                file_name: format!("{school_id}.csv"),
                size_bytes: i64::try_from(file.len()).unwrap_or(i64::MAX),
                request_id: uuid::Uuid::new_v4().to_string(),
            },
        )),
    }];
    messages.extend(
        file.chunks(chunk_bytes.max(1))
            .map(|chunk| pb::ImportChildrenRequest {
                part: Some(pb::import_children_request::Part::Chunk(chunk.to_vec())),
            }),
    );
    drop(file);
    // tonic's own re-export of `tokio_stream`, so that the crate needs no stream library
    // of its own for one client stream.
    let mut request = with_bearer(
        tonic::Request::new(tonic::codegen::tokio_stream::iter(messages)),
        &edu_aid::demo::school(school_id),
    );
    request.set_timeout(UPLOAD_DEADLINE);
    ImportServiceClient::new(gateway.clone())
        .import_children(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Whether the answer lists every one of `rows` rows as imported; otherwise what it says,
/// with the problems of the first invalid rows (columns and reasons; never a value).
async fn judge(
    gateway: &Channel,
    school_id: &str,
    answer: &pb::ChildImport,
    rows: usize,
) -> Result<(), String> {
    let whole = usize::try_from(answer.rows).ok() == Some(rows)
        && usize::try_from(answer.imported).ok() == Some(rows)
        && answer.invalid == 0;
    if whole {
        return Ok(());
    }
    let mut why = format!(
        "{} rows read of {rows}: {} imported, {} already listed, {} duplicate in file, {} invalid",
        answer.rows,
        answer.imported,
        answer.already_listed,
        answer.duplicate_in_file,
        answer.invalid
    );
    if answer.invalid > 0 {
        let listed = ImportServiceClient::new(gateway.clone())
            .list_child_import_rows(with_bearer(
                tonic::Request::new(pb::ListChildImportRowsRequest {
                    parent: answer.name.clone(),
                    outcome: pb::ImportRowOutcome::Invalid as i32,
                    page_size: INVALID_ROWS_QUOTED,
                    page_token: String::new(),
                }),
                &edu_aid::demo::school(school_id),
            ))
            .await;
        match listed {
            Ok(page) => {
                for r in page.into_inner().rows {
                    let problems: Vec<String> = r
                        .problems
                        .iter()
                        .map(|p| format!("{} {}", p.column, p.reason))
                        .collect();
                    why += &format!("; row {}: {}", r.row_number, problems.join(", "));
                }
            }
            Err(status) => {
                why += &format!("; the invalid rows could not be read: {}", refusal(&status))
            }
        }
    }
    Err(why)
}

/// Runs the uploads against a started suite through `gateway`; `progress` hears a line as
/// each upload begins and ends, since the largest take minutes.
pub async fn run(
    suite: &Suite,
    gateway: Channel,
    options: &ImportOptions,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<ImportReport> {
    let aid =
        pid_of(suite, "aid").ok_or_else(|| anyhow::anyhow!("the aid service is not running"))?;
    let gateway_pid = pid_of(suite, "gateway");
    let today = jiff::Zoned::now().in_tz(TIME_ZONE)?.date();
    create_campaign(&gateway, today).await?;
    // Consent given when the campaign began, a date every row may carry.
    let consent = today.checked_sub(jiff::Span::new().days(30))?;
    let mut uploads = Vec::new();
    let mut first = 0;
    for (index, &rows) in options.rows.iter().enumerate() {
        let school_id = format!("bench-import-{}", index + 1);
        create_school(&gateway, &school_id, rows).await?;
        let file = csv(first, rows, today, consent)?;
        first += rows;
        let bytes = file.len();
        progress(&format!(
            "uploading {} rows ({:.1} MiB) for schools/{school_id}…",
            grouped(rows),
            bytes_mib(bytes)
        ));
        let aid_before_kib = rss_kib(aid);
        let started = Instant::now();
        let (answer, peak) = while_sampling(
            &[Some(aid), gateway_pid],
            upload(&gateway, &school_id, file, options.chunk_bytes),
        )
        .await;
        let elapsed = started.elapsed();
        let outcome = match answer {
            Ok(answer) => judge(&gateway, &school_id, &answer, rows).await,
            Err(status) => Err(refusal(&status)),
        };
        progress(&format!(
            "  {} in {:.1} s",
            if outcome.is_ok() {
                "imported"
            } else {
                "failed"
            },
            elapsed.as_secs_f64()
        ));
        uploads.push(Upload {
            rows,
            bytes,
            elapsed,
            aid_before_kib,
            aid_peak_kib: peak.first().copied().unwrap_or(0),
            gateway_peak_kib: peak.get(1).copied().unwrap_or(0),
            outcome,
        });
    }
    Ok(ImportReport {
        chunk_bytes: options.chunk_bytes,
        uploads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_iin_is_valid_unique_and_carries_the_birth_date() {
        let mut seen = std::collections::HashSet::new();
        // Past two blocks of every date and sex, where serial numbers start to repeat
        // blocks.
        for k in 0..(4 * BIRTH_DAYS + 17) {
            let (born, _, iin) = child_identity(k).expect("an IIN");
            let parsed = Iin::parse(&iin).expect("valid");
            assert_eq!(parsed.birth_date(), born);
            assert!((2009..=2017).contains(&born.year()));
            assert!(seen.insert(iin), "IIN of row {k} repeated");
        }
    }

    #[test]
    fn the_file_has_the_header_and_one_line_per_row() {
        let today = jiff::civil::date(2025, 9, 1);
        let file = csv(0, 50, today, jiff::civil::date(2025, 8, 1)).expect("a file");
        let text = String::from_utf8(file).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 51);
        assert!(lines[0].starts_with("ИИН;Фамилия;Имя"));
        for line in &lines {
            assert_eq!(line.split(';').count(), 12, "{line}");
        }
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(100_000), "100 000");
        assert_eq!(grouped(10_000), "10 000");
        assert_eq!(grouped(999), "999");
    }
}
