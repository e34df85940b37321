//! Contracts (rules 2-4 and 6): proposals, signatures under the year's lock, withdrawals.
//! The module doc of [`super`] explains why signatures cannot exceed a cap.

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::{Cursor, Page};
use edu_kit::{ApiError, CallContext, audit, etag};

use super::applications::{modules_from_sql, modules_to_sql, submitted_modules};
use super::years::{self, YearRecord};
use super::{Store, Visibility, events, groups, schools};
use crate::domain::PartnershipError;
use crate::domain::pairing::{self, ContractKind, Party, SchoolKind, Standing};
use crate::domain::year::Contracted;

/// A contract between two schools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// Its ID.
    pub id: String,
    /// The year.
    pub year_id: String,
    /// `INNOVATIVE_PAIR` or `INNOVATIVE_AND_NON_INNOVATIVE`.
    pub kind: String,
    /// The proposing school.
    pub proposer_id: String,
    /// The school asked to sign.
    pub counterparty_id: String,
    /// The proposer's region.
    pub proposer_region: String,
    /// The counterparty's region.
    pub counterparty_region: String,
    /// The innovation (school, ID), for a mixed contract.
    pub innovation: Option<(String, String)>,
    /// The interest it rests on.
    pub interest_id: Option<String>,
    /// The proposer's note.
    pub note: String,
    /// Modules both applied for.
    pub shared_modules: Vec<u8>,
    /// `PROPOSED`, `SIGNED`, `WITHDRAWN` or `LAPSED`.
    pub state: String,
    /// Its group, once formed.
    pub group_id: Option<String>,
    /// Who withdrew it.
    pub withdrawn_by: Option<String>,
    /// Why.
    pub withdraw_reason: String,
    /// Why it lapsed (a reason code).
    pub lapse_reason: String,
    /// The school whose limit made it lapse.
    pub lapse_school: Option<String>,
    /// The signed contract that made it lapse.
    pub superseded_by: Option<String>,
    /// Proposed.
    pub create_time: Timestamp,
    /// Signed.
    pub sign_time: Option<Timestamp>,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

struct ContractRow {
    id: String,
    year_id: String,
    kind: String,
    proposer_id: String,
    counterparty_id: String,
    proposer_region: String,
    counterparty_region: String,
    innovation_school_id: Option<String>,
    innovation_id: Option<String>,
    interest_id: Option<String>,
    note: String,
    shared_modules: Vec<i16>,
    state: String,
    group_id: Option<String>,
    withdrawn_by: Option<String>,
    withdraw_reason: String,
    lapse_reason: String,
    lapse_school: Option<String>,
    superseded_by: Option<String>,
    create_time: jiff_sqlx::Timestamp,
    sign_time: Option<jiff_sqlx::Timestamp>,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl From<ContractRow> for Contract {
    fn from(r: ContractRow) -> Contract {
        Contract {
            id: r.id,
            year_id: r.year_id,
            kind: r.kind,
            proposer_id: r.proposer_id,
            counterparty_id: r.counterparty_id,
            proposer_region: r.proposer_region,
            counterparty_region: r.counterparty_region,
            innovation: r.innovation_school_id.zip(r.innovation_id),
            interest_id: r.interest_id,
            note: r.note,
            shared_modules: modules_from_sql(&r.shared_modules),
            state: r.state,
            group_id: r.group_id,
            withdrawn_by: r.withdrawn_by,
            withdraw_reason: r.withdraw_reason,
            lapse_reason: r.lapse_reason,
            lapse_school: r.lapse_school,
            superseded_by: r.superseded_by,
            create_time: r.create_time.to_jiff(),
            sign_time: r.sign_time.map(|t| t.to_jiff()),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        }
    }
}

impl Contract {
    /// Whether `school` is one of its two parties.
    pub fn is_party(&self, school: &str) -> bool {
        self.proposer_id == school || self.counterparty_id == school
    }
}

/// The resource name of a contract.
pub fn name(year: &str, id: &str) -> String {
    format!("years/{year}/contracts/{id}")
}

/// A school's signed contracts in `year`, by the slots they fill.
pub async fn standing(
    conn: &mut PgConnection,
    year: &str,
    school: &str,
) -> Result<Standing, ApiError> {
    let slots = sqlx::query!(
        "SELECT slot, contract_id FROM partnerships.partner_slots
         WHERE year_id = $1 AND school_id = $2",
        year,
        school
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut standing = Standing::default();
    for s in slots {
        let contract = Some(name(year, &s.contract_id));
        match s.slot.as_str() {
            "INNOVATIVE_PARTNER" => standing.innovative_partner = contract,
            "NON_INNOVATIVE_PARTNER" => standing.non_innovative_partner = contract,
            _ => standing.contracted_with = contract,
        }
    }
    Ok(standing)
}

/// A new proposal.
#[derive(Debug, Clone)]
pub struct NewContract {
    /// Its ID.
    pub id: String,
    /// The proposing school.
    pub proposer_id: String,
    /// The school asked to sign.
    pub counterparty_id: String,
    /// The innovation named, (school, ID).
    pub innovation: Option<(String, String)>,
    /// The proposer's note.
    pub note: String,
}

/// The two parties of a contract as the rules see them, with their standings; refused
/// when a school is missing or did not apply.
async fn parties(
    conn: &mut PgConnection,
    year: &str,
    a: &str,
    b: &str,
) -> Result<[(Party, Standing); 2], ApiError> {
    let held = schools::share(conn, &[a, b]).await?;
    let mut out = Vec::with_capacity(2);
    for id in [a, b] {
        let school = held
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found(format!("schools/{id}")))?;
        let modules = submitted_modules(conn, year, id).await?.ok_or_else(|| {
            PartnershipError::NotApplied {
                school: format!("schools/{id}"),
            }
        })?;
        let party = Party {
            school: id.to_string(),
            kind: if school.innovative {
                SchoolKind::Innovative
            } else {
                SchoolKind::NonInnovative
            },
            modules,
        };
        out.push((party, standing(conn, year, id).await?));
    }
    let second = out.pop().expect("two parties");
    let first = out.pop().expect("two parties");
    Ok([first, second])
}

/// The schools a signature between `parties` would add to the counts.
async fn newly_contracted(
    conn: &mut PgConnection,
    year: &str,
    parties: &[(Party, Standing); 2],
) -> Result<Contracted, ApiError> {
    let mut adding = Contracted::default();
    for (party, _) in parties {
        let counted = sqlx::query_scalar!(
            r#"SELECT 1 AS "one!" FROM partnerships.contracted_schools
               WHERE year_id = $1 AND school_id = $2"#,
            year,
            party.school
        )
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
        if !counted {
            match party.kind {
                SchoolKind::Innovative => adding.innovative += 1,
                SchoolKind::NonInnovative => adding.non_innovative += 1,
            }
        }
    }
    Ok(adding)
}

fn schools_named(id: &str) -> String {
    format!("schools/{id}")
}

/// Proposes a contract, checked in the order the contract documents; the signature
/// checks again under the year's lock and decides.
pub async fn propose(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &YearRecord,
    new: &NewContract,
) -> Result<Contract, ApiError> {
    let y = &year.year.id;
    if new.proposer_id == new.counterparty_id {
        return Err(PartnershipError::SameSchool.into());
    }
    if schools::fetch(conn, &new.counterparty_id, false)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(schools_named(&new.counterparty_id)));
    }
    year.year.ensure_window_open(context.now())?;
    let parties = parties(conn, y, &new.proposer_id, &new.counterparty_id).await?;
    let (kind, first, second) = pairing::kind_of(&parties[0].0, &parties[1].0)?;
    let shared = pairing::shared_modules(&first.modules, &second.modules);
    let (innovative, other) = (first.school.clone(), second.school.clone());
    let interest = match (kind, &new.innovation) {
        (ContractKind::InnovativePair, Some(_)) => {
            return Err(ApiError::invalid_field(
                edu_kit::error::reason::INVALID_FIELDS,
                "contract.innovation",
                "must be empty for a contract between two innovative schools",
            ));
        }
        (ContractKind::InnovativePair, None) => None,
        (ContractKind::InnovativeAndNonInnovative, None) => {
            return Err(ApiError::invalid_field(
                edu_kit::error::reason::INVALID_FIELDS,
                "contract.innovation",
                "required: the innovation the school not on the List declared interest in",
            ));
        }
        (ContractKind::InnovativeAndNonInnovative, Some((school, id))) => {
            if *school != innovative {
                return Err(ApiError::invalid_field(
                    crate::api::errors::reason::INNOVATION_NOT_OF_PARTNER,
                    "contract.innovation",
                    format!("not an innovation of {}", schools_named(&innovative)),
                ));
            }
            let innovation_name = format!("schools/{school}/innovations/{id}");
            if schools::innovation(conn, school, id).await?.is_none() {
                return Err(ApiError::not_found(innovation_name));
            }
            let declared = sqlx::query_scalar!(
                "SELECT id FROM partnerships.interests
                 WHERE year_id = $1 AND school_id = $2 AND innovation_school_id = $3
                   AND innovation_id = $4 AND state = 'DECLARED'",
                y,
                other,
                school,
                id
            )
            .fetch_optional(&mut *conn)
            .await?;
            Some(
                declared.ok_or_else(|| PartnershipError::InterestNotDeclared {
                    school: schools_named(&other),
                    innovation: innovation_name,
                })?,
            )
        }
    };
    if let Some(existing) = open_between(conn, y, &new.proposer_id, &new.counterparty_id).await? {
        return Err(PartnershipError::ContractExists {
            contract: name(y, &existing),
        }
        .into());
    }
    let standing_of = |id: &str| {
        parties
            .iter()
            .find(|(p, _)| p.school == id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    pairing::ensure_may_pair(
        kind,
        (&schools_named(&innovative), &standing_of(&innovative)),
        (&schools_named(&other), &standing_of(&other)),
    )?;
    let adding = newly_contracted(conn, y, &parties).await?;
    year.year.caps.admit(year.contracted, adding)?;
    let inserted = sqlx::query!(
        "INSERT INTO partnerships.contracts
            (id, year_id, kind, proposer_id, counterparty_id, innovation_school_id,
             innovation_id, interest_id, note, shared_modules, state, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'PROPOSED', $11, $11)
         ON CONFLICT DO NOTHING",
        new.id,
        y,
        kind.as_str(),
        new.proposer_id,
        new.counterparty_id,
        new.innovation.as_ref().map(|i| i.0.clone()),
        new.innovation.as_ref().map(|i| i.1.clone()),
        interest,
        new.note,
        &modules_to_sql(&shared),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        // A concurrent proposal between the same two schools committed first.
        let existing = open_between(conn, y, &new.proposer_id, &new.counterparty_id)
            .await?
            .unwrap_or_default();
        return Err(PartnershipError::ContractExists {
            contract: name(y, &existing),
        }
        .into());
    }
    let resource = name(y, &new.id);
    audit::record(
        conn,
        context,
        "contract.proposed",
        &resource,
        json!({ "proposer": new.proposer_id, "counterparty": new.counterparty_id,
                "kind": kind.as_str() }),
    )
    .await?;
    fetch(conn, y, &new.id)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

async fn open_between(
    conn: &mut PgConnection,
    year: &str,
    a: &str,
    b: &str,
) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM partnerships.contracts
         WHERE year_id = $1 AND state IN ('PROPOSED', 'SIGNED')
           AND ((proposer_id = $2 AND counterparty_id = $3)
                OR (proposer_id = $3 AND counterparty_id = $2))",
        year,
        a,
        b
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// Why a lapsed contract can no longer be signed, as the signature would answer.
fn lapse_error(c: &Contract) -> ApiError {
    let school = c
        .lapse_school
        .clone()
        .map(|s| schools_named(&s))
        .unwrap_or_default();
    let contract = c
        .superseded_by
        .as_deref()
        .map(|id| name(&c.year_id, id))
        .unwrap_or_default();
    match c.lapse_reason.as_str() {
        "ALREADY_HAS_INNOVATIVE_PARTNER" => {
            PartnershipError::AlreadyHasInnovativePartner { school, contract }.into()
        }
        "ALREADY_HAS_NON_INNOVATIVE_PARTNER" => {
            PartnershipError::AlreadyHasNonInnovativePartner { school, contract }.into()
        }
        "NON_INNOVATIVE_ALREADY_CONTRACTED" => {
            PartnershipError::NonInnovativeAlreadyContracted { school, contract }.into()
        }
        "NOT_APPLIED" => PartnershipError::NotApplied { school }.into(),
        _ => PartnershipError::ContractNotProposed { state: "LAPSED" }.into(),
    }
}

fn state_name(state: &str) -> &'static str {
    match state {
        "SIGNED" => "SIGNED",
        "WITHDRAWN" => "WITHDRAWN",
        "LAPSED" => "LAPSED",
        _ => "PROPOSED",
    }
}

/// The counterparty signs. Runs under the year's lock (taken first, then the contract's):
/// signatures of a year happen one after another, each seeing every earlier one.
pub async fn sign(
    conn: &mut PgConnection,
    context: &CallContext,
    year_id: &str,
    id: &str,
    supplied_etag: &str,
) -> Result<Contract, ApiError> {
    let now = context.now();
    let year = years::get(conn, year_id, true).await?;
    let resource = name(year_id, id);
    sqlx::query!(
        "SELECT 1 AS found FROM partnerships.contracts WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let contract = fetch(conn, year_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(resource.clone()))?;
    etag::check(supplied_etag, contract.version, &resource)?;
    match contract.state.as_str() {
        "PROPOSED" => {}
        "LAPSED" => return Err(lapse_error(&contract)),
        other => {
            return Err(PartnershipError::ContractNotProposed {
                state: state_name(other),
            }
            .into());
        }
    }
    if now >= year.year.closes_at() {
        year.year.ensure_window_open(now)?;
    }
    let parties = parties(
        conn,
        year_id,
        &contract.proposer_id,
        &contract.counterparty_id,
    )
    .await?;
    let kind = ContractKind::parse(&contract.kind).unwrap_or(ContractKind::InnovativePair);
    let (innovative, other) = match kind {
        ContractKind::InnovativePair => (&parties[0], &parties[1]),
        ContractKind::InnovativeAndNonInnovative => {
            if parties[0].0.kind == SchoolKind::Innovative {
                (&parties[0], &parties[1])
            } else {
                (&parties[1], &parties[0])
            }
        }
    };
    pairing::ensure_may_pair(
        kind,
        (&schools_named(&innovative.0.school), &innovative.1),
        (&schools_named(&other.0.school), &other.1),
    )?;
    let adding = newly_contracted(conn, year_id, &parties).await?;
    year.year.caps.admit(year.contracted, adding)?;

    sqlx::query!(
        "UPDATE partnerships.contracts
         SET state = 'SIGNED', sign_time = $2, update_time = $2, version = version + 1
         WHERE id = $1",
        id,
        now.to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    // The slots the signature fills; their key refuses a second partner of a kind.
    let (a, b) = (&innovative.0.school, &other.0.school);
    let slots: [(&str, &str, &str); 2] = match kind {
        ContractKind::InnovativePair => {
            [(a, "INNOVATIVE_PARTNER", b), (b, "INNOVATIVE_PARTNER", a)]
        }
        ContractKind::InnovativeAndNonInnovative => {
            [(a, "NON_INNOVATIVE_PARTNER", b), (b, "CONTRACTED", a)]
        }
    };
    for (school, slot, partner) in slots {
        sqlx::query!(
            "INSERT INTO partnerships.partner_slots
                (year_id, school_id, slot, partner_id, contract_id)
             VALUES ($1, $2, $3, $4, $5)",
            year_id,
            school,
            slot,
            partner,
            id
        )
        .execute(&mut *conn)
        .await?;
    }
    for (party, _) in &parties {
        sqlx::query!(
            "INSERT INTO partnerships.contracted_schools (year_id, school_id, innovative)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            year_id,
            party.school,
            party.kind == SchoolKind::Innovative
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        "UPDATE partnerships.years
         SET innovative_contracted = innovative_contracted + $2,
             non_innovative_contracted = non_innovative_contracted + $3
         WHERE id = $1",
        year_id,
        i32::try_from(adding.innovative).unwrap_or(0),
        i32::try_from(adding.non_innovative).unwrap_or(0),
    )
    .execute(&mut *conn)
    .await?;
    lapse_superseded(conn, year_id, id, kind, a, b, now).await?;
    audit::record(
        conn,
        context,
        "contract.signed",
        &resource,
        json!({ "kind": contract.kind }),
    )
    .await?;
    events::record(
        conn,
        events::EventKind::ContractSigned,
        &resource,
        year_id,
        now,
    )
    .await?;
    groups::form_if_complete(conn, context, year_id, kind, a).await?;
    fetch(conn, year_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// Proposals the signature of `signed` made impossible lapse, each naming the limit.
async fn lapse_superseded(
    conn: &mut PgConnection,
    year: &str,
    signed: &str,
    kind: ContractKind,
    innovative: &str,
    other: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    // (school, the kind of proposals of that school that lapse, the reason)
    let rules: Vec<(&str, &str, &str)> = match kind {
        ContractKind::InnovativePair => vec![
            (
                innovative,
                "INNOVATIVE_PAIR",
                "ALREADY_HAS_INNOVATIVE_PARTNER",
            ),
            (other, "INNOVATIVE_PAIR", "ALREADY_HAS_INNOVATIVE_PARTNER"),
        ],
        ContractKind::InnovativeAndNonInnovative => vec![
            (
                innovative,
                "INNOVATIVE_AND_NON_INNOVATIVE",
                "ALREADY_HAS_NON_INNOVATIVE_PARTNER",
            ),
            (
                other,
                "INNOVATIVE_AND_NON_INNOVATIVE",
                "NON_INNOVATIVE_ALREADY_CONTRACTED",
            ),
        ],
    };
    for (school, of_kind, reason) in rules {
        sqlx::query!(
            "UPDATE partnerships.contracts
             SET state = 'LAPSED', lapse_reason = $4, lapse_school = $3, superseded_by = $5,
                 update_time = $6, version = version + 1
             WHERE year_id = $1 AND state = 'PROPOSED' AND kind = $2 AND id <> $5
               AND (proposer_id = $3 OR counterparty_id = $3)",
            year,
            of_kind,
            school,
            reason,
            signed,
            now.to_sqlx()
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Either school withdraws a PROPOSED contract.
pub async fn withdraw(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &str,
    id: &str,
    supplied_etag: &str,
    by: &str,
    reason: &str,
) -> Result<Contract, ApiError> {
    let resource = name(year, id);
    sqlx::query!(
        "SELECT 1 AS found FROM partnerships.contracts WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let contract = fetch(conn, year, id)
        .await?
        .ok_or_else(|| ApiError::not_found(resource.clone()))?;
    etag::check(supplied_etag, contract.version, &resource)?;
    match contract.state.as_str() {
        "WITHDRAWN" => return Ok(contract),
        "PROPOSED" => {}
        other => {
            return Err(PartnershipError::ContractNotProposed {
                state: state_name(other),
            }
            .into());
        }
    }
    sqlx::query!(
        "UPDATE partnerships.contracts
         SET state = 'WITHDRAWN', withdrawn_by = $2, withdraw_reason = $3, update_time = $4,
             version = version + 1
         WHERE id = $1",
        id,
        by,
        reason,
        context.now().to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "contract.withdrawn",
        &resource,
        json!({ "by": by }),
    )
    .await?;
    fetch(conn, year, id)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// Filters of ListContracts.
#[derive(Debug, Clone, Default)]
pub struct ContractFilter {
    /// One year, or every year.
    pub year: Option<String>,
    /// Contracts this school is a party to.
    pub school: Option<String>,
    /// With a party of this region.
    pub region: Option<String>,
    /// Of this kind.
    pub kind: Option<String>,
    /// In this state.
    pub state: Option<String>,
}

/// A contract of `year`.
pub async fn fetch(
    conn: &mut PgConnection,
    year: &str,
    id: &str,
) -> Result<Option<Contract>, ApiError> {
    let vis = Visibility {
        all: true,
        ..Visibility::default()
    };
    Ok(select(
        conn,
        &vis,
        &ContractFilter::default(),
        Some((year, id)),
        1,
        None,
    )
    .await?
    .into_iter()
    .next())
}

async fn select(
    conn: &mut PgConnection,
    vis: &Visibility,
    filter: &ContractFilter,
    one: Option<(&str, &str)>,
    size: usize,
    after: Option<Cursor>,
) -> Result<Vec<Contract>, ApiError> {
    let (one_year, one_id) = one.unzip();
    let (after_time, after_id) = Cursor::split(after);
    let rows = sqlx::query_as!(
        ContractRow,
        "SELECT c.id, c.year_id, c.kind, c.proposer_id, c.counterparty_id,
                p.region_code AS proposer_region, q.region_code AS counterparty_region,
                c.innovation_school_id, c.innovation_id, c.interest_id, c.note,
                c.shared_modules, c.state, c.group_id, c.withdrawn_by, c.withdraw_reason,
                c.lapse_reason, c.lapse_school, c.superseded_by, c.create_time, c.sign_time,
                c.update_time, c.version
         FROM partnerships.contracts c
         JOIN partnerships.schools p ON p.id = c.proposer_id
         JOIN partnerships.schools q ON q.id = c.counterparty_id
         WHERE ($1::text IS NULL OR (c.year_id = $1 AND c.id = $2))
           AND ($3::text IS NULL OR c.year_id = $3)
           AND ($4::text IS NULL OR c.proposer_id = $4 OR c.counterparty_id = $4)
           AND ($5::text IS NULL OR p.region_code = $5 OR q.region_code = $5)
           AND ($6::text IS NULL OR c.kind = $6)
           AND ($7::text IS NULL OR c.state = $7)
           AND ($8 OR p.region_code = ANY ($9) OR q.region_code = ANY ($9)
                OR c.proposer_id = ANY ($10) OR c.counterparty_id = ANY ($10))
           AND ($11::timestamptz IS NULL OR (c.create_time, c.id) > ($11, $12::text))
         ORDER BY c.create_time, c.id
         LIMIT $13",
        one_year,
        one_id,
        filter.year,
        filter.school,
        filter.region,
        filter.kind,
        filter.state,
        vis.all,
        &vis.regions,
        &vis.schools,
        after_time as _,
        after_id,
        size as i64,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Contract::from).collect())
}

impl Store {
    /// A contract.
    pub async fn contract(&self, year: &str, id: &str) -> Result<Option<Contract>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, year, id).await?))
            .await
    }

    /// Contracts the caller sees, oldest first.
    pub async fn list_contracts(
        &self,
        vis: &Visibility,
        filter: &ContractFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Contract>, ApiError> {
        let mut conn = self.read().await?;
        let items = select(&mut conn, vis, filter, None, size + 1, after).await?;
        conn.finish();
        Ok(Page::from_overfetch(items, size, |c| Cursor {
            time: c.create_time,
            id: c.id.clone(),
        }))
    }
}
