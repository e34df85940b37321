//! The public catalogues at size (issue 13, target 4): `entries` practices and `entries`
//! programmes, searched at `concurrency` callers through the gateway, each side printing its
//! rate, p50 and p99. Practices carry Russian-looking text drawn from a vocabulary of 20 000
//! words, 46 words an entry, so that a searched word matches about one entry in 400 (some
//! 230 of 100 000), as a specific word of a large catalogue would; the cost of a search grows
//! with the entries its words match (relevance is computed for each). One search in five has
//! no words (the newest first), one in five a region as well. Programme searches filter by a
//! random direction and age, one in four by price as well.

use sqlx::{AssertSqlSafe, PgPool};
use tonic::transport::Channel;

use edu_proto::edu::certificates::v1 as cert;
use edu_proto::edu::certificates::v1::programme_service_client::ProgrammeServiceClient;
use edu_proto::edu::competitions::v1 as comp;
use edu_proto::edu::competitions::v1::catalogue_service_client::CatalogueServiceClient;

use super::BenchOptions;
use super::drive::{Driven, Outcome, drive, pick};

/// Stems the vocabulary is made of.
const STEMS: [&str; 40] = [
    "семь",
    "школ",
    "наставник",
    "волонтёр",
    "музе",
    "театр",
    "спорт",
    "краевед",
    "экологи",
    "робот",
    "шахмат",
    "хор",
    "танц",
    "поход",
    "библиотек",
    "лагер",
    "фестивал",
    "проект",
    "клуб",
    "студи",
    "мастерск",
    "олимпиад",
    "конкурс",
    "форум",
    "практик",
    "инклюзи",
    "здоров",
    "медиа",
    "истори",
    "культур",
    "природ",
    "техник",
    "наук",
    "чтени",
    "дворов",
    "сельск",
    "город",
    "родител",
    "педагог",
    "подрост",
];
/// Words in the vocabulary.
const VOCABULARY: usize = 20_000;
/// Tails joined to a stem; each word is a stem and a tail.
const TAILS: usize = VOCABULARY / STEMS.len();

/// The `i`-th tail: consonant, vowel, consonant.
fn tail(i: usize) -> String {
    const CONSONANTS: [char; 13] = [
        'б', 'в', 'г', 'д', 'з', 'к', 'л', 'м', 'н', 'п', 'р', 'с', 'т',
    ];
    const VOWELS: [char; 5] = ['а', 'е', 'и', 'о', 'у'];
    [
        CONSONANTS[i % 13],
        VOWELS[(i / 13) % 5],
        CONSONANTS[(i / 65) % 13],
    ]
    .iter()
    .collect()
}

/// The `k`-th word of the vocabulary.
fn word(k: usize) -> String {
    format!(
        "{}{}",
        STEMS[k % STEMS.len()],
        tail((k / STEMS.len()) % TAILS)
    )
}

/// Seeds `entries` practices and `entries` programmes. Practices point at applications the
/// seed does not create (foreign keys are not checked for the seed's session), as the
/// search reads the catalogue alone.
pub async fn seed(admin: &PgPool, entries: usize) -> Result<(), sqlx::Error> {
    let n = entries as i64;
    let stems: Vec<String> = STEMS.iter().map(|s| s.to_string()).collect();
    let tails: Vec<String> = (0..TAILS).map(tail).collect();
    // Word k of the vocabulary, in SQL as in `word`.
    let text = |words: usize, salt: i64| {
        format!(
            "(SELECT string_agg($1[1 + (x % 40)::int] || $2[1 + ((x / 40) % {TAILS})::int], ' ')
              FROM (SELECT (i * {salt} + k * 7919) % {VOCABULARY} AS x
                    FROM generate_series(1, {words}) k) w)"
        )
    };
    let mut tx = admin.begin().await?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO competitions.practices (id, contest_id, application_id, title, summary,
            description, nomination_id, nomination_title, region_code, team_display_name, year,
            publish_time)
         SELECT 'bench-' || i, 'bench-contest', 'bench-' || i, {title}, {summary}, {description},
                'health', 'Здоровье', 'RU-' || (ARRAY['ALT','MOW','SPE','TVE','KDA'])[1 + i % 5],
                'Команда ' || i, 2020 + i % 6, now() - (i || ' minutes')::interval
         FROM generate_series(1, {n}) i",
        title = text(4, 31),
        summary = text(12, 57),
        description = text(30, 101),
    )))
    .bind(&stems)
    .bind(&tails)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO certificates.providers (id, display_name, tax_id, region_code,
            municipality_code, create_time)
         SELECT 'sp' || i, 'Поставщик каталога ' || i, lpad((1000000 + i)::text, 10, '0'),
                'RU-ALT', 'catalogue-' || (i % 10), now()
         FROM generate_series(1, 100) i",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO certificates.programmes (provider_id, id, title, direction, min_age,
            max_age, seats, monthly_price, certified, create_time)
         SELECT 'sp' || (1 + i % 100), 'cg' || i, {title},
                (ARRAY['TECHNICAL','NATURAL_SCIENCE','PHYSICAL_CULTURE_AND_SPORTS','ARTISTIC',
                       'TOURISM_AND_LOCAL_HISTORY','SOCIAL_HUMANITARIAN'])
                    [1 + abs(hashint4(i::int)) % 6],
                5 + abs(hashint4(i::int + 1000003)) % 6, 11 + abs(hashint4(i::int + 2000003)) % 8,
                20, (abs(hashint4(i::int + 3000017)) % 20) * 10000, true, now()
         FROM generate_series(1, {n}) i",
        title = text(3, 13),
    )))
    .bind(&stems)
    .bind(&tails)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// One catalogue's search.
#[derive(Debug, Clone)]
pub struct SearchReport {
    /// The method.
    pub method: &'static str,
    /// Through the gateway.
    pub driven: Driven,
}

/// Runs both searches through the gateway.
pub async fn run(gateway: Channel, options: &BenchOptions) -> anyhow::Result<Vec<SearchReport>> {
    let (concurrency, seconds) = (options.concurrency, options.seconds as f64);
    let practices = drive(concurrency, seconds, usize::MAX, {
        let gateway = gateway.clone();
        move |i| {
            let mut client = CatalogueServiceClient::new(gateway.clone());
            let query = match i % 5 {
                0 => String::new(),
                _ => word(pick(i, VOCABULARY)),
            };
            let region_code = if i % 5 == 1 {
                "RU-ALT".to_string()
            } else {
                String::new()
            };
            async move {
                let request = tonic::Request::new(comp::SearchPracticesRequest {
                    query,
                    region_code,
                    page_size: 20,
                    ..Default::default()
                });
                match client.search_practices(request).await {
                    Ok(_) => Outcome::Done,
                    Err(_) => Outcome::Failed,
                }
            }
        }
    })
    .await;
    let programmes = drive(concurrency, seconds, usize::MAX, move |i| {
        let mut client = ProgrammeServiceClient::new(gateway.clone());
        let request = tonic::Request::new(cert::SearchProgrammesRequest {
            direction: 1 + (pick(i, 6) as i32),
            age: 6 + (pick(i + 1, 10) as i32),
            max_monthly_price_kopecks: if i % 4 == 0 { 100_000 } else { 0 },
            page_size: 20,
            ..Default::default()
        });
        async move {
            match client.search_programmes(request).await {
                Ok(_) => Outcome::Done,
                Err(_) => Outcome::Failed,
            }
        }
    })
    .await;
    Ok(vec![
        SearchReport {
            method: "SearchPractices",
            driven: practices,
        },
        SearchReport {
            method: "SearchProgrammes",
            driven: programmes,
        },
    ])
}
