//! The data bank of children (rule 2) and its probable duplicates.
//!
//! Identity. A record with an IIN is unique by it in its campaign: listing relies on the
//! unique index `children_one_per_iin` (`INSERT … ON CONFLICT DO NOTHING`, then the record
//! that holds the IIN is read), so of two concurrent listings of one IIN one inserts and the
//! other finds the child already listed; setting an IIN on a record runs its `UPDATE` in a
//! savepoint, so that losing the same race is an answer, not a failure. A record's
//! normalised name and birth date are compared with the campaign's ACTIVE records under a
//! lock on that identity's row of `child_identity_locks` (a row lock, held to the end of the
//! transaction, so an import of 100 000 children holds 100 000 of them without exhausting
//! Postgres's shared lock table, as advisory locks did): listings
//! and corrections of the same name and date happen one after another and each sees the
//! others, so a probable duplicate is never missed and a school's record without an IIN is
//! never listed twice.
//!
//! Personal data. Names, birth dates, the IIN and the consent are read here and returned
//! to the API room only in [`Child`]; the full IIN is only written and compared, never read
//! back (a read carries its last four digits). `Debug` of every type here hides them, and
//! no error text holds them. Removal erases them for good.
//!
//! Decisions on probable duplicates lock the pair, then its two records (in ID order), and
//! are audited with the deciding staff's reason; a pair is superseded when a record of it
//! was merged into a third record or removed, which is derived from the records.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::{Acquire, PgConnection};

use edu_kit::paging::{Cursor, Page};
use edu_kit::{ApiError, CallContext, audit};

use super::events::{self, EventKind};
use super::{Visibility, corrupt};
use crate::domain::iin::Iin;
use crate::domain::names;

/// Why a child needs help (rule 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// From a low-income family.
    LowIncome,
    /// From a large family.
    LargeFamily,
    /// An orphan.
    Orphan,
    /// Left without parental care.
    WithoutParentalCare,
    /// Another risk, with a reason.
    OtherRisk,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 5] = [
        Category::LowIncome,
        Category::LargeFamily,
        Category::Orphan,
        Category::WithoutParentalCare,
        Category::OtherRisk,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::LowIncome => "LOW_INCOME",
            Category::LargeFamily => "LARGE_FAMILY",
            Category::Orphan => "ORPHAN",
            Category::WithoutParentalCare => "WITHOUT_PARENTAL_CARE",
            Category::OtherRisk => "OTHER_RISK",
        }
    }

    /// The category a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// How a child came to be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The survey «Готов ли Ваш ребёнок к школе?».
    Survey,
    /// The school's social passport.
    SocialPassport,
    /// A raid.
    Raid,
    /// A citizen's appeal.
    Appeal,
    /// The guardianship authority or the commission for minors' affairs.
    GuardianshipAuthority,
    /// A parent's or guardian's own application.
    FamilyApplication,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 6] = [
        Source::Survey,
        Source::SocialPassport,
        Source::Raid,
        Source::Appeal,
        Source::GuardianshipAuthority,
        Source::FamilyApplication,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Survey => "SURVEY",
            Source::SocialPassport => "SOCIAL_PASSPORT",
            Source::Raid => "RAID",
            Source::Appeal => "APPEAL",
            Source::GuardianshipAuthority => "GUARDIANSHIP_AUTHORITY",
            Source::FamilyApplication => "FAMILY_APPLICATION",
        }
    }

    /// The source a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Where a child's record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildState {
    /// In the data bank.
    Active,
    /// Merged into another record; read-only.
    Merged,
    /// Removed; its personal data erased.
    Removed,
}

impl ChildState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChildState::Active => "ACTIVE",
            ChildState::Merged => "MERGED",
            ChildState::Removed => "REMOVED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [ChildState::Active, ChildState::Merged, ChildState::Removed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// Why two records were flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DuplicateMatch {
    /// The same normalised name and birth date, one of them at least without an IIN.
    SameNameAndBirthDate,
    /// A record without an IIN was given the IIN the other holds.
    SameIin,
}

impl DuplicateMatch {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateMatch::SameNameAndBirthDate => "SAME_NAME_AND_BIRTH_DATE",
            DuplicateMatch::SameIin => "SAME_IIN",
        }
    }

    /// The match a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            DuplicateMatch::SameNameAndBirthDate,
            DuplicateMatch::SameIin,
        ]
        .into_iter()
        .find(|m| m.as_str() == raw)
    }
}

/// Where a probable duplicate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DuplicateState {
    /// Waiting for a decision.
    Open,
    /// One record was merged into the other.
    Merged,
    /// Two children.
    KeptApart,
}

impl DuplicateState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateState::Open => "OPEN",
            DuplicateState::Merged => "MERGED",
            DuplicateState::KeptApart => "KEPT_APART",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            DuplicateState::Open,
            DuplicateState::Merged,
            DuplicateState::KeptApart,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// What a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DuplicateAction {
    /// Merged the two records.
    Merge,
    /// Kept them apart.
    KeepApart,
    /// Reopened an earlier decision.
    Reopen,
}

impl DuplicateAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateAction::Merge => "MERGE",
            DuplicateAction::KeepApart => "KEEP_APART",
            DuplicateAction::Reopen => "REOPEN",
        }
    }

    /// The action a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            DuplicateAction::Merge,
            DuplicateAction::KeepApart,
            DuplicateAction::Reopen,
        ]
        .into_iter()
        .find(|a| a.as_str() == raw)
    }
}

/// What the data bank's rules refuse. Texts name records by their random IDs, never by a
/// child's name or IIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChildError {
    /// The record (or one of a pair) was merged into another; read-only.
    #[error("the record {child} was merged into {merged_into}")]
    Merged {
        /// The merged record, `campaigns/{campaign}/children/{child}`.
        child: String,
        /// The record it was merged into.
        merged_into: String,
    },
    /// The record (or one of a pair) was removed.
    #[error("the record {child} was removed")]
    Removed {
        /// The removed record.
        child: String,
    },
    /// A decision a probable duplicate's state does not allow.
    #[error("the probable duplicate is {state}")]
    DuplicateState {
        /// Its state.
        state: &'static str,
    },
    /// The survivor of a merge is not one of the pair.
    #[error("the survivor must be one of the two records")]
    SurvivorNotInPair,
    /// Merging a record with an IIN into one without.
    #[error("the other record has an IIN and the survivor none: the record with the IIN survives")]
    SurvivorWithoutIin,
    /// Both records have (different) IINs: two children.
    #[error("both records have an IIN and the IINs differ: they are two children")]
    DifferentIins,
}

/// The legal representative's consent, as recorded with the listing.
#[derive(Clone, PartialEq, Eq)]
pub struct Consent {
    /// Who consented.
    pub representative_name: String,
    /// When.
    pub give_date: Date,
    /// In which document; may be empty.
    pub document: String,
}

impl std::fmt::Debug for Consent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Consent(…)")
    }
}

/// A child's record as stored, with its school's name and region. Its `Debug` shows no
/// personal data.
#[derive(Clone, PartialEq, Eq)]
pub struct Child {
    /// The random ID.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// The school answering for the record.
    pub school_id: String,
    /// The school's display name.
    pub school_display_name: String,
    /// The school's region, `KZ-xx`.
    pub region_code: String,
    /// The IIN's last four digits; `None` without an IIN.
    pub iin_suffix: Option<String>,
    /// The family name; `None` once removed.
    pub family_name: Option<String>,
    /// The given name; `None` once removed.
    pub given_name: Option<String>,
    /// The patronymic; `None` once removed, empty without one.
    pub patronymic: Option<String>,
    /// The birth date; `None` once removed.
    pub birth_date: Option<Date>,
    /// The grade, 0 to 11.
    pub grade: i16,
    /// Why the child needs help.
    pub categories: Vec<Category>,
    /// The risk, with [`Category::OtherRisk`].
    pub other_risk_reason: String,
    /// How the child came to be listed.
    pub identification_source: Source,
    /// The consent; `None` once removed.
    pub consent: Option<Consent>,
    /// Where the record is.
    pub state: ChildState,
    /// The record this one was merged into.
    pub merged_into: Option<String>,
    /// Why it was removed.
    pub remove_reason: String,
    /// Whether it takes part in an OPEN probable duplicate not superseded.
    pub probable_duplicate: bool,
    /// Listed.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id)
            .field("campaign_id", &self.campaign_id)
            .field("school_id", &self.school_id)
            .field("state", &self.state)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Child {
    /// The resource name.
    pub fn name(&self) -> String {
        name(&self.campaign_id, &self.id)
    }

    /// Whether the record has an IIN.
    pub fn has_iin(&self) -> bool {
        self.iin_suffix.is_some()
    }

    /// Changes (needs, help, attendance, corrections) only to an ACTIVE record:
    /// [`ChildError::Merged`] or [`ChildError::Removed`] otherwise.
    pub fn ensure_active(&self) -> Result<(), ChildError> {
        match (self.state, &self.merged_into) {
            (ChildState::Active, _) => Ok(()),
            (ChildState::Merged, Some(into)) => Err(ChildError::Merged {
                child: self.name(),
                merged_into: name(&self.campaign_id, into),
            }),
            (ChildState::Merged, None) | (ChildState::Removed, _) => {
                Err(ChildError::Removed { child: self.name() })
            }
        }
    }
}

/// A record as a listing or a correction gives it: every field a caller sets. Its `Debug`
/// shows no personal data.
#[derive(Clone, PartialEq, Eq)]
pub struct ChildDraft {
    /// The IIN, when the child has one.
    pub iin: Option<Iin>,
    /// The family name.
    pub family_name: String,
    /// The given name.
    pub given_name: String,
    /// The patronymic; may be empty.
    pub patronymic: String,
    /// The birth date.
    pub birth_date: Date,
    /// The grade, 0 to 11.
    pub grade: i16,
    /// One or more distinct categories.
    pub categories: Vec<Category>,
    /// The risk, with [`Category::OtherRisk`]; empty otherwise.
    pub other_risk_reason: String,
    /// How the child came to be listed.
    pub identification_source: Source,
    /// The school answering for the record.
    pub school_id: String,
    /// The consent.
    pub consent: Consent,
}

impl std::fmt::Debug for ChildDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildDraft")
            .field("school_id", &self.school_id)
            .finish_non_exhaustive()
    }
}

/// A record that already holds what a listing or correction asked for: the one with the
/// IIN, or the school's record of the same child without an IIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its resource name.
    pub name: String,
    /// Its school.
    pub school_id: String,
    /// Its region.
    pub region_code: String,
}

/// How a listing ended.
#[derive(Debug, Clone)]
pub enum Listed {
    /// A new record (flagged as a probable duplicate when `probable_duplicate` says so).
    New(Box<Child>),
    /// The campaign has the child already: nothing was written.
    Existing(Holder),
}

/// How a correction ended.
#[derive(Debug, Clone)]
pub enum Corrected {
    /// The record as changed.
    Changed(Box<Child>),
    /// The IIN asked for is another record's: nothing changed, but when the record had no
    /// IIN the two were flagged (`SAME_IIN`); commit, then refuse.
    IinHeld(Holder),
}

/// A record locked for a change, with what a change compares but never returns.
pub struct Locked {
    /// The record.
    pub child: Child,
    /// Its IIN.
    pub iin: Option<Iin>,
}

impl std::fmt::Debug for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locked")
            .field("child", &self.child)
            .finish_non_exhaustive()
    }
}

/// The resource name of child `id` of campaign `campaign`.
pub fn name(campaign: &str, id: &str) -> String {
    format!("campaigns/{campaign}/children/{id}")
}

/// The resource name of probable duplicate `id` of campaign `campaign`.
pub fn duplicate_name(campaign: &str, id: &str) -> String {
    format!("campaigns/{campaign}/probableDuplicates/{id}")
}

struct ChildRow {
    id: String,
    campaign_id: String,
    school_id: String,
    school_display_name: String,
    region_code: String,
    iin_suffix: Option<String>,
    family_name: Option<String>,
    given_name: Option<String>,
    patronymic: Option<String>,
    birth_date: Option<jiff_sqlx::Date>,
    grade: Option<i16>,
    categories: Vec<String>,
    other_risk_reason: String,
    identification_source: String,
    consent_representative: Option<String>,
    consent_date: Option<jiff_sqlx::Date>,
    consent_document: Option<String>,
    state: String,
    merged_into: Option<String>,
    remove_reason: String,
    probable_duplicate: bool,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl TryFrom<ChildRow> for Child {
    type Error = ApiError;

    fn try_from(r: ChildRow) -> Result<Child, ApiError> {
        let categories = r
            .categories
            .iter()
            .map(|c| Category::parse(c).ok_or_else(|| corrupt("child category", c)))
            .collect::<Result<Vec<_>, _>>()?;
        let consent = match (r.consent_representative, r.consent_date) {
            (Some(representative_name), Some(date)) => Some(Consent {
                representative_name,
                give_date: date.to_jiff(),
                document: r.consent_document.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(Child {
            identification_source: Source::parse(&r.identification_source)
                .ok_or_else(|| corrupt("identification source", &r.identification_source))?,
            state: ChildState::parse(&r.state).ok_or_else(|| corrupt("child state", &r.state))?,
            id: r.id,
            campaign_id: r.campaign_id,
            school_id: r.school_id,
            school_display_name: r.school_display_name,
            region_code: r.region_code,
            iin_suffix: r.iin_suffix,
            family_name: r.family_name,
            given_name: r.given_name,
            patronymic: r.patronymic,
            birth_date: r.birth_date.map(|d| d.to_jiff()),
            grade: r.grade.unwrap_or(0),
            categories,
            other_risk_reason: r.other_risk_reason,
            consent,
            merged_into: r.merged_into,
            remove_reason: r.remove_reason,
            probable_duplicate: r.probable_duplicate,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        })
    }
}

/// Records by ID, of any campaign, in no particular order.
pub async fn fetch_many(conn: &mut PgConnection, ids: &[String]) -> Result<Vec<Child>, ApiError> {
    let rows = sqlx::query_as!(
        ChildRow,
        r#"SELECT c.id, c.campaign_id, c.school_id, s.display_name AS school_display_name,
                  c.region_code, right(c.iin, 4) AS iin_suffix, c.family_name, c.given_name,
                  c.patronymic, c.birth_date, c.grade, c.categories, c.other_risk_reason,
                  c.identification_source, c.consent_representative, c.consent_date,
                  c.consent_document, c.state, c.merged_into, c.remove_reason,
                  EXISTS (SELECT 1 FROM aid.probable_duplicates d
                            JOIN aid.children a ON a.id = d.child_a
                            JOIN aid.children b ON b.id = d.child_b
                           WHERE (d.child_a = c.id OR d.child_b = c.id) AND d.state = 'OPEN'
                             AND a.state = 'ACTIVE' AND b.state = 'ACTIVE')
                      AS "probable_duplicate!",
                  c.create_time, c.update_time, c.version
           FROM aid.children c JOIN aid.schools s ON s.id = c.school_id
           WHERE c.id = ANY ($1)"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(Child::try_from).collect()
}

/// Child `id` of campaign `campaign`.
pub async fn fetch(
    conn: &mut PgConnection,
    campaign: &str,
    id: &str,
) -> Result<Option<Child>, ApiError> {
    Ok(fetch_many(conn, &[id.to_string()])
        .await?
        .into_iter()
        .find(|c| c.campaign_id == campaign))
}

/// Child `id` of campaign `campaign`, its row locked `FOR UPDATE` until the transaction
/// ends, with its IIN for comparisons.
pub async fn lock(
    conn: &mut PgConnection,
    campaign: &str,
    id: &str,
) -> Result<Option<Locked>, ApiError> {
    let iin = sqlx::query_scalar!(
        "SELECT iin FROM aid.children WHERE campaign_id = $1 AND id = $2 FOR UPDATE",
        campaign,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(iin) = iin else {
        return Ok(None);
    };
    let iin = iin
        .map(|raw| Iin::parse(&raw).map_err(|_| corrupt("IIN of child", id)))
        .transpose()?;
    let child = fetch(conn, campaign, id)
        .await?
        .ok_or_else(|| ApiError::not_found(name(campaign, id)))?;
    Ok(Some(Locked { child, iin }))
}

/// Holds campaign `id` `FOR SHARE` until the transaction ends, before the campaign is read:
/// listings and moves run side by side, while a change of the campaign's regions (which
/// locks it `FOR UPDATE`) waits for them, or they for it, so a child is never listed in a
/// region leaving the campaign.
pub async fn hold_campaign(conn: &mut PgConnection, id: &str) -> Result<(), ApiError> {
    sqlx::query!("SELECT id FROM aid.campaigns WHERE id = $1 FOR SHARE", id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(())
}

/// Serialises, until the transaction ends, every listing and correction of campaign
/// `campaign` with this normalised name and birth date.
async fn lock_identity(
    conn: &mut PgConnection,
    campaign: &str,
    normalised: &str,
    birth_date: Date,
) -> Result<(), ApiError> {
    // A new identity's row is inserted: a concurrent insert of the same key waits for this
    // transaction on the primary key. A known identity's row is locked FOR UPDATE. Either
    // way the second listing of an identity runs after the first has committed, and sees
    // its record. (In one statement, the SELECT does not see the row its INSERT adds; the
    // insert's own lock covers that case.)
    sqlx::query!(
        "WITH added AS (
             INSERT INTO aid.child_identity_locks (campaign_id, normalised_name, birth_date)
             VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING
         )
         SELECT 1 AS locked FROM aid.child_identity_locks
         WHERE campaign_id = $1 AND normalised_name = $2 AND birth_date = $3
         FOR UPDATE",
        campaign,
        normalised,
        birth_date.to_sqlx() as _,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(())
}

/// The ACTIVE record of campaign `campaign` holding `iin`, other than `except`.
async fn iin_holder(
    conn: &mut PgConnection,
    campaign: &str,
    iin: &Iin,
    except: &str,
) -> Result<Option<Holder>, ApiError> {
    let row = sqlx::query!(
        "SELECT id, school_id, region_code FROM aid.children
         WHERE campaign_id = $1 AND iin = $2 AND id <> $3",
        campaign,
        iin.as_str(),
        except
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Holder {
        name: name(campaign, &r.id),
        school_id: r.school_id,
        region_code: r.region_code,
    }))
}

/// Flags `id` with every ACTIVE record of its campaign of the same normalised name and
/// birth date, unless both have an IIN, the two are flagged for this match already (kept
/// apart, say), or an OPEN pair of the two waits for a decision. Returns how many.
async fn flag_same_name(
    conn: &mut PgConnection,
    campaign: &str,
    id: &str,
    normalised: &str,
    birth_date: Date,
    has_iin: bool,
    now: Timestamp,
) -> Result<u64, ApiError> {
    Ok(sqlx::query!(
        "INSERT INTO aid.probable_duplicates
             (id, campaign_id, child_a, child_b, match, create_time, update_time)
         SELECT gen_random_uuid()::text, $1, o.id, $2, 'SAME_NAME_AND_BIRTH_DATE', $6, $6
         FROM aid.children o
         WHERE o.campaign_id = $1 AND o.id <> $2 AND o.state = 'ACTIVE'
           AND o.normalised_name = $3 AND o.birth_date = $4
           AND NOT ($5 AND o.iin IS NOT NULL)
           AND NOT EXISTS (SELECT 1 FROM aid.probable_duplicates p
                           WHERE p.state = 'OPEN'
                             AND ((p.child_a = o.id AND p.child_b = $2)
                                  OR (p.child_a = $2 AND p.child_b = o.id)))
         ORDER BY o.create_time, o.id
         ON CONFLICT DO NOTHING",
        campaign,
        id,
        normalised,
        birth_date.to_sqlx() as _,
        has_iin,
        now.to_sqlx() as _,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Lists a child: the record, its `CHILD_LISTED` event and its probable duplicates, or
/// [`Listed::Existing`] when the campaign has the child already (by IIN; without an IIN,
/// by normalised name and birth date at the same school). `region` is the school's.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    campaign: &str,
    region: &str,
    draft: &ChildDraft,
) -> Result<Listed, ApiError> {
    let now = context.now();
    let normalised =
        names::normalise_parts(&draft.family_name, &draft.given_name, &draft.patronymic);
    lock_identity(conn, campaign, &normalised, draft.birth_date).await?;
    if draft.iin.is_none() {
        let same = sqlx::query!(
            "SELECT id, school_id, region_code FROM aid.children
             WHERE campaign_id = $1 AND school_id = $2 AND normalised_name = $3
               AND birth_date = $4 AND state = 'ACTIVE'
             ORDER BY create_time, id LIMIT 1",
            campaign,
            draft.school_id,
            normalised,
            draft.birth_date.to_sqlx() as _,
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = same {
            return Ok(Listed::Existing(Holder {
                name: name(campaign, &r.id),
                school_id: r.school_id,
                region_code: r.region_code,
            }));
        }
    }
    let id = edu_kit::resource::new_id();
    let categories: Vec<String> = draft
        .categories
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let inserted = sqlx::query!(
        "INSERT INTO aid.children
             (id, campaign_id, school_id, region_code, iin, family_name, given_name, patronymic,
              normalised_name, birth_date, grade, categories, other_risk_reason,
              identification_source, consent_representative, consent_date, consent_document,
              create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $18)
         ON CONFLICT DO NOTHING",
        id,
        campaign,
        draft.school_id,
        region,
        draft.iin.as_ref().map(Iin::as_str),
        draft.family_name,
        draft.given_name,
        draft.patronymic,
        normalised,
        draft.birth_date.to_sqlx() as _,
        draft.grade,
        &categories,
        draft.other_risk_reason,
        draft.identification_source.as_str(),
        draft.consent.representative_name,
        draft.consent.give_date.to_sqlx() as _,
        draft.consent.document,
        now.to_sqlx() as _,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        // Only the IIN can conflict: the statement waited for the listing that holds it.
        let iin = draft
            .iin
            .as_ref()
            .ok_or_else(|| corrupt("child listing", &id))?;
        return match iin_holder(conn, campaign, iin, &id).await? {
            Some(holder) => Ok(Listed::Existing(holder)),
            None => Err(ApiError::new(
                edu_kit::error::ErrorKind::Aborted,
                edu_kit::error::reason::CONCURRENT_CHANGE,
                "a concurrent change of the same child won; retry",
            )),
        };
    }
    flag_same_name(
        conn,
        campaign,
        &id,
        &normalised,
        draft.birth_date,
        draft.iin.is_some(),
        now,
    )
    .await?;
    let resource = name(campaign, &id);
    events::record(
        conn,
        EventKind::ChildListed,
        &resource,
        campaign,
        region,
        now,
    )
    .await?;
    audit::record(
        conn,
        context,
        "child.listed",
        &resource,
        json!({ "school": format!("schools/{}", draft.school_id),
                "categories": categories,
                "with_iin": draft.iin.is_some() }),
    )
    .await?;
    let child = fetch(conn, campaign, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))?;
    Ok(Listed::New(Box::new(child)))
}

/// Replaces the fields of a locked ACTIVE record with `next` (its consent never changes;
/// `region` is the region of `next.school_id`). Changing the IIN, the names or the birth
/// date re-runs duplicate detection. An IIN another record holds changes nothing: when the
/// record had none, the two are flagged `SAME_IIN` and [`Corrected::IinHeld`] says so.
pub async fn update(
    conn: &mut PgConnection,
    context: &CallContext,
    locked: &Locked,
    next: &ChildDraft,
    region: &str,
    fields: &[String],
) -> Result<Corrected, ApiError> {
    let now = context.now();
    let current = &locked.child;
    let campaign = current.campaign_id.as_str();
    let names_changed = current.family_name.as_deref() != Some(next.family_name.as_str())
        || current.given_name.as_deref() != Some(next.given_name.as_str())
        || current.patronymic.as_deref().unwrap_or_default() != next.patronymic;
    let iin_changed = locked.iin != next.iin;
    let identity_changed =
        names_changed || iin_changed || current.birth_date != Some(next.birth_date);
    let normalised = names::normalise_parts(&next.family_name, &next.given_name, &next.patronymic);
    if identity_changed {
        lock_identity(conn, campaign, &normalised, next.birth_date).await?;
    }
    if iin_changed
        && let Some(iin) = &next.iin
        && let Some(holder) = iin_holder(conn, campaign, iin, &current.id).await?
    {
        return held(conn, locked, holder, now).await;
    }
    let categories: Vec<String> = next
        .categories
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    // In a savepoint: a concurrent listing of the same IIN may commit first.
    let mut savepoint = conn.begin().await?;
    let updated = sqlx::query!(
        "UPDATE aid.children
         SET iin = $3, family_name = $4, given_name = $5, patronymic = $6,
             normalised_name = $7, birth_date = $8, grade = $9, categories = $10,
             other_risk_reason = $11, identification_source = $12, school_id = $13,
             region_code = $14, update_time = $15, version = version + 1
         WHERE campaign_id = $1 AND id = $2",
        campaign,
        current.id,
        next.iin.as_ref().map(Iin::as_str),
        next.family_name,
        next.given_name,
        next.patronymic,
        normalised,
        next.birth_date.to_sqlx() as _,
        next.grade,
        &categories,
        next.other_risk_reason,
        next.identification_source.as_str(),
        next.school_id,
        region,
        now.to_sqlx() as _,
    )
    .execute(&mut *savepoint)
    .await;
    match updated {
        Ok(_) => savepoint.commit().await?,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("children_one_per_iin") => {
            savepoint.rollback().await?;
            let iin = next
                .iin
                .as_ref()
                .ok_or_else(|| corrupt("child update", &current.id))?;
            let holder = iin_holder(conn, campaign, iin, &current.id)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        edu_kit::error::ErrorKind::Aborted,
                        edu_kit::error::reason::CONCURRENT_CHANGE,
                        "a concurrent change of the same child won; retry",
                    )
                })?;
            return held(conn, locked, holder, now).await;
        }
        Err(e) => return Err(e.into()),
    }
    if identity_changed {
        if next.iin.is_some() {
            // Two records with different IINs are never flagged: undecided pairs go.
            sqlx::query!(
                "DELETE FROM aid.probable_duplicates p
                 USING aid.children a, aid.children b
                 WHERE (p.child_a = $1 OR p.child_b = $1) AND p.state = 'OPEN'
                   AND a.id = p.child_a AND b.id = p.child_b
                   AND a.iin IS NOT NULL AND b.iin IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM aid.duplicate_decisions x
                                   WHERE x.duplicate_id = p.id)",
                current.id
            )
            .execute(&mut *conn)
            .await?;
        }
        flag_same_name(
            conn,
            campaign,
            &current.id,
            &normalised,
            next.birth_date,
            next.iin.is_some(),
            now,
        )
        .await?;
    }
    audit::record(
        conn,
        context,
        "child.updated",
        &current.name(),
        json!({ "fields": fields, "school": format!("schools/{}", next.school_id) }),
    )
    .await?;
    let child = fetch(conn, campaign, &current.id)
        .await?
        .ok_or_else(|| ApiError::not_found(current.name()))?;
    Ok(Corrected::Changed(Box::new(child)))
}

/// The IIN asked for is `holder`'s: flags the two (`SAME_IIN`) when the record had none.
async fn held(
    conn: &mut PgConnection,
    locked: &Locked,
    holder: Holder,
    now: Timestamp,
) -> Result<Corrected, ApiError> {
    if locked.iin.is_none() {
        let (_, holder_id) = holder
            .name
            .rsplit_once('/')
            .ok_or_else(|| corrupt("child name", &holder.name))?;
        sqlx::query!(
            "INSERT INTO aid.probable_duplicates
                 (id, campaign_id, child_a, child_b, match, create_time, update_time)
             SELECT gen_random_uuid()::text, $1, $2, $3, 'SAME_IIN', $4, $4
             WHERE NOT EXISTS (SELECT 1 FROM aid.probable_duplicates p
                               WHERE p.state = 'OPEN'
                                 AND ((p.child_a = $2 AND p.child_b = $3)
                                      OR (p.child_a = $3 AND p.child_b = $2)))
             ON CONFLICT DO NOTHING",
            locked.child.campaign_id,
            holder_id,
            locked.child.id,
            now.to_sqlx() as _,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(Corrected::IinHeld(holder))
}

/// Removes a locked record: REMOVED, its names, birth date, IIN and consent erased for good
/// (the IIN may be listed again); its OPEN probable duplicates are superseded with it.
pub async fn remove(
    conn: &mut PgConnection,
    context: &CallContext,
    locked: &Locked,
    reason: &str,
) -> Result<Child, ApiError> {
    let current = &locked.child;
    sqlx::query!(
        "UPDATE aid.children
         SET state = 'REMOVED', merged_into = NULL, iin = NULL, family_name = NULL,
             given_name = NULL, patronymic = NULL, normalised_name = NULL, birth_date = NULL,
             consent_representative = NULL, consent_date = NULL, consent_document = NULL,
             remove_reason = $3, update_time = $4, version = version + 1
         WHERE campaign_id = $1 AND id = $2",
        current.campaign_id,
        current.id,
        reason,
        context.now().to_sqlx() as _,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "child.removed",
        &current.name(),
        json!({ "from": current.state.as_str(), "reason": reason }),
    )
    .await?;
    fetch(conn, &current.campaign_id, &current.id)
        .await?
        .ok_or_else(|| ApiError::not_found(current.name()))
}

/// What a listing of children filters on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildFilter {
    /// Only this school.
    pub school: Option<String>,
    /// Only schools of this region.
    pub region: Option<String>,
    /// Only with this category.
    pub category: Option<Category>,
    /// Only in this state.
    pub state: Option<ChildState>,
    /// Only without an IIN.
    pub without_iin_only: bool,
    /// Only in an OPEN probable duplicate not superseded.
    pub probable_duplicate_only: bool,
    /// Only children whose latest attendance check found this (`NOT_CHECKED`, `ATTENDS`,
    /// `DOES_NOT_ATTEND`).
    pub attendance: Option<&'static str>,
    /// Only children with an attendance follow-up still open.
    pub follow_up_open_only: bool,
}

/// Children of campaign `campaign` that `vis` reads, by the school's name, the grade, the
/// family, given name and patronymic (Kazakh order), then the ID; the cursor is the last
/// record's ID, so that a page token carries no name.
pub async fn list(
    conn: &mut PgConnection,
    campaign: &str,
    vis: &Visibility,
    filter: &ChildFilter,
    size: usize,
    after: Option<String>,
) -> Result<Page<Child, String>, ApiError> {
    let rows = sqlx::query_as!(
        ChildRow,
        r#"SELECT c.id, c.campaign_id, c.school_id, s.display_name AS school_display_name,
                  c.region_code, right(c.iin, 4) AS iin_suffix, c.family_name, c.given_name,
                  c.patronymic, c.birth_date, c.grade, c.categories, c.other_risk_reason,
                  c.identification_source, c.consent_representative, c.consent_date,
                  c.consent_document, c.state, c.merged_into, c.remove_reason,
                  EXISTS (SELECT 1 FROM aid.probable_duplicates d
                            JOIN aid.children a ON a.id = d.child_a
                            JOIN aid.children b ON b.id = d.child_b
                           WHERE (d.child_a = c.id OR d.child_b = c.id) AND d.state = 'OPEN'
                             AND a.state = 'ACTIVE' AND b.state = 'ACTIVE')
                      AS "probable_duplicate!",
                  c.create_time, c.update_time, c.version
           FROM aid.children c JOIN aid.schools s ON s.id = c.school_id
           WHERE c.campaign_id = $1
             AND ($2 OR c.region_code = ANY ($3) OR c.school_id = ANY ($4))
             AND ($5::text IS NULL OR c.school_id = $5)
             AND ($6::text IS NULL OR c.region_code = $6)
             AND ($7::text IS NULL OR $7 = ANY (c.categories))
             AND c.state = $8
             AND (NOT $9::boolean OR c.iin IS NULL)
             AND (NOT $10::boolean OR EXISTS (
                     SELECT 1 FROM aid.probable_duplicates d
                       JOIN aid.children a ON a.id = d.child_a
                       JOIN aid.children b ON b.id = d.child_b
                      WHERE (d.child_a = c.id OR d.child_b = c.id) AND d.state = 'OPEN'
                        AND a.state = 'ACTIVE' AND b.state = 'ACTIVE'))
             AND ($11::text IS NULL
                  OR (s.display_name COLLATE "kk-x-icu", COALESCE(c.grade, -1),
                      COALESCE(c.family_name, '') COLLATE "kk-x-icu",
                      COALESCE(c.given_name, '') COLLATE "kk-x-icu",
                      COALESCE(c.patronymic, '') COLLATE "kk-x-icu", c.id)
                     > (SELECT s2.display_name COLLATE "kk-x-icu", COALESCE(c2.grade, -1),
                               COALESCE(c2.family_name, '') COLLATE "kk-x-icu",
                               COALESCE(c2.given_name, '') COLLATE "kk-x-icu",
                               COALESCE(c2.patronymic, '') COLLATE "kk-x-icu", c2.id
                        FROM aid.children c2 JOIN aid.schools s2 ON s2.id = c2.school_id
                        WHERE c2.campaign_id = $1 AND c2.id = $11))
             AND ($13::text IS NULL OR $13 = COALESCE(
                     (SELECT k.outcome FROM aid.attendance_checks k WHERE k.child_id = c.id
                      ORDER BY k.check_date DESC, k.create_time DESC, k.id DESC LIMIT 1),
                     'NOT_CHECKED'))
             AND (NOT $14::boolean OR EXISTS (
                     SELECT 1 FROM aid.attendance_checks k
                      WHERE k.child_id = c.id AND k.follow_up_state = 'AWAITING'))
           ORDER BY s.display_name COLLATE "kk-x-icu", COALESCE(c.grade, -1),
                    COALESCE(c.family_name, '') COLLATE "kk-x-icu",
                    COALESCE(c.given_name, '') COLLATE "kk-x-icu",
                    COALESCE(c.patronymic, '') COLLATE "kk-x-icu", c.id
           LIMIT $12"#,
        campaign,
        vis.all,
        &vis.regions,
        &vis.schools,
        filter.school,
        filter.region,
        filter.category.map(Category::as_str),
        filter.state.unwrap_or(ChildState::Active).as_str(),
        filter.without_iin_only,
        filter.probable_duplicate_only,
        after,
        edu_kit::paging::overfetch_limit(size),
        filter.attendance,
        filter.follow_up_open_only,
    )
    .fetch_all(&mut *conn)
    .await?;
    let items = rows
        .into_iter()
        .map(Child::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, size, |c| c.id.clone()))
}

/// Makes the transaction on `conn` read one snapshot (REPEATABLE READ), for a read of
/// several statements whose figures must agree; the first statement of the transaction.
pub async fn repeatable_read(conn: &mut PgConnection) -> Result<(), ApiError> {
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Who a child is, as a child's cross-programme view looks the child up (GetChildRecords):
/// the IIN when one is given, the normalised full name when one is, and the birth date. Its
/// `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityKey {
    /// The IIN, checked against the birth date.
    pub iin: Option<Iin>,
    /// The full name as [`names::normalise_parts`] gives it.
    pub normalised_name: Option<String>,
    /// The birth date.
    pub birth_date: Date,
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityKey(…)")
    }
}

/// A record a lookup by identity found: the ACTIVE record shown, and whether the IIN found
/// it (itself or a record merged into it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The record shown.
    pub child: Child,
    /// Whether it holds the IIN looked up, or a record merged into it does.
    pub by_iin: bool,
}

/// The records of every campaign that `key` finds and `vis` reads, newest campaign first
/// (by start date), then the latest listed first.
///
/// With an IIN, the records holding it match, and records without an IIN match by
/// normalised name and birth date; without one, every record matches by name and date. A
/// match stands for the ACTIVE record at the end of its chain of merges
/// (`aid.child_root`), found once however many of its records match, and left out when
/// that record holds another IIN than the one looked up; a chain ending in a removed record
/// stands for none. REMOVED records hold no name, date or IIN, so they never match. The
/// caller's schools and regions restrict the records shown in the statement itself, so a
/// child of another tenant is found exactly as a child listed nowhere: not at all. Run it
/// in a [`repeatable_read`] transaction, so that the records read after the match are the
/// ones matched.
pub async fn find_by_identity(
    conn: &mut PgConnection,
    key: &IdentityKey,
    vis: &Visibility,
) -> Result<Vec<Found>, ApiError> {
    // Two branches rather than one OR, so that each uses its index (`children_by_iin`,
    // `children_by_identity`) under a generic plan too; a NULL parameter empties its branch.
    let rows = sqlx::query!(
        r#"WITH matched (id, by_iin) AS (
               SELECT m.id, true FROM aid.children m
               WHERE m.iin = $1 AND m.birth_date = $3 AND m.state <> 'REMOVED'
               UNION ALL
               SELECT m.id, false FROM aid.children m
               WHERE m.normalised_name = $2 AND m.birth_date = $3 AND m.state <> 'REMOVED'
                 AND ($1::text IS NULL OR m.iin IS NULL)
           ), roots (id, by_iin) AS (
               SELECT aid.child_root(matched.id), bool_or(matched.by_iin)
               FROM matched GROUP BY 1
           )
           SELECT r.id AS "id!", roots.by_iin AS "by_iin!"
           FROM roots
           JOIN aid.children r ON r.id = roots.id
           JOIN aid.campaigns k ON k.id = r.campaign_id
           WHERE r.state = 'ACTIVE'
             AND ($4 OR r.region_code = ANY ($5) OR r.school_id = ANY ($6))
             AND ($1::text IS NULL OR r.iin IS NULL OR r.iin = $1)
           ORDER BY k.start_date DESC, k.id DESC, r.create_time DESC, r.id DESC"#,
        key.iin.as_ref().map(Iin::as_str),
        key.normalised_name,
        key.birth_date.to_sqlx() as _,
        vis.all,
        &vis.regions,
        &vis.schools,
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut records: HashMap<String, Child> = fetch_many(conn, &ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    rows.into_iter()
        .map(|r| {
            let child = records
                .remove(&r.id)
                .ok_or_else(|| corrupt("child found by identity", &r.id))?;
            Ok(Found {
                child,
                by_iin: r.by_iin,
            })
        })
        .collect()
}

/// One decision on a probable duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What it did.
    pub action: DuplicateAction,
    /// Why, as the deciding staff wrote it.
    pub reason: String,
    /// For a merge, the surviving record's ID.
    pub survivor: Option<String>,
    /// The token subject who decided.
    pub actor: String,
    /// When.
    pub decide_time: Timestamp,
}

/// Two records of a campaign that may be one child, with both records and every decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The random ID.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// Why they were flagged.
    pub match_: DuplicateMatch,
    /// Where it is.
    pub state: DuplicateState,
    /// For MERGED, the surviving record's ID.
    pub survivor: Option<String>,
    /// The two records, the earlier listed first.
    pub records: [Child; 2],
    /// Every decision, oldest first.
    pub decisions: Vec<Decision>,
    /// Flagged.
    pub create_time: Timestamp,
    /// Last decided.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Duplicate {
    /// The resource name.
    pub fn name(&self) -> String {
        duplicate_name(&self.campaign_id, &self.id)
    }

    /// The regions of its records, distinct and ascending.
    pub fn region_codes(&self) -> Vec<String> {
        let mut regions: Vec<String> = self.records.iter().map(|r| r.region_code.clone()).collect();
        regions.sort();
        regions.dedup();
        regions
    }

    /// Whether a record of the pair was merged into a third record or removed since.
    pub fn superseded(&self) -> bool {
        let [a, b] = &self.records;
        match (self.state, &self.survivor) {
            (DuplicateState::Merged, Some(survivor)) => {
                let (kept, merged) = if &a.id == survivor { (a, b) } else { (b, a) };
                !(kept.state == ChildState::Active
                    && merged.state == ChildState::Merged
                    && merged.merged_into.as_deref() == Some(kept.id.as_str()))
            }
            _ => a.state != ChildState::Active || b.state != ChildState::Active,
        }
    }

    /// A merge or keep-apart needs an OPEN pair of two ACTIVE records.
    fn ensure_decidable(&self) -> Result<(), ChildError> {
        if self.state != DuplicateState::Open {
            return Err(ChildError::DuplicateState {
                state: self.state.as_str(),
            });
        }
        for record in &self.records {
            record.ensure_active()?;
        }
        Ok(())
    }

    /// A reopening needs a decided pair whose records are as the decision left them.
    fn ensure_reopenable(&self) -> Result<(), ChildError> {
        match (self.state, &self.survivor) {
            (DuplicateState::Open, _) => Err(ChildError::DuplicateState {
                state: self.state.as_str(),
            }),
            (DuplicateState::Merged, Some(survivor)) => {
                let [a, b] = &self.records;
                let (kept, merged) = if &a.id == survivor { (a, b) } else { (b, a) };
                match merged.state {
                    ChildState::Removed => {
                        return Err(ChildError::Removed {
                            child: merged.name(),
                        });
                    }
                    ChildState::Merged
                        if merged.merged_into.as_deref() == Some(kept.id.as_str()) => {}
                    _ => merged.ensure_active()?,
                }
                kept.ensure_active()
            }
            _ => self.records.iter().try_for_each(Child::ensure_active),
        }
    }
}

struct DuplicateRow {
    id: String,
    campaign_id: String,
    match_: String,
    state: String,
    survivor: Option<String>,
    child_a: String,
    child_b: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

/// Assembles pairs with their records and decisions, in the order of `rows`.
async fn assemble(
    conn: &mut PgConnection,
    rows: Vec<DuplicateRow>,
) -> Result<Vec<Duplicate>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let child_ids: Vec<String> = rows
        .iter()
        .flat_map(|r| [r.child_a.clone(), r.child_b.clone()])
        .collect();
    let children: HashMap<String, Child> = fetch_many(conn, &child_ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let pair_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let decision_rows = sqlx::query!(
        "SELECT duplicate_id, action, reason, survivor, actor, decide_time
         FROM aid.duplicate_decisions WHERE duplicate_id = ANY ($1)
         ORDER BY duplicate_id, seq",
        &pair_ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut decisions: HashMap<String, Vec<Decision>> = HashMap::new();
    for d in decision_rows {
        decisions.entry(d.duplicate_id).or_default().push(Decision {
            action: DuplicateAction::parse(&d.action)
                .ok_or_else(|| corrupt("duplicate action", &d.action))?,
            reason: d.reason,
            survivor: d.survivor,
            actor: d.actor,
            decide_time: d.decide_time.to_jiff(),
        });
    }
    let take = |id: &str| {
        children
            .get(id)
            .cloned()
            .ok_or_else(|| corrupt("child of a probable duplicate", id))
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut records = [take(&r.child_a)?, take(&r.child_b)?];
        records.sort_by(|x, y| (x.create_time, &x.id).cmp(&(y.create_time, &y.id)));
        out.push(Duplicate {
            match_: DuplicateMatch::parse(&r.match_)
                .ok_or_else(|| corrupt("duplicate match", &r.match_))?,
            state: DuplicateState::parse(&r.state)
                .ok_or_else(|| corrupt("duplicate state", &r.state))?,
            decisions: decisions.remove(&r.id).unwrap_or_default(),
            id: r.id,
            campaign_id: r.campaign_id,
            survivor: r.survivor,
            records,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        });
    }
    Ok(out)
}

/// Probable duplicate `id` of campaign `campaign`; `lock` holds the pair's row and then its
/// two records' rows `FOR UPDATE`.
pub async fn fetch_duplicate(
    conn: &mut PgConnection,
    campaign: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Duplicate>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            DuplicateRow,
            r#"SELECT id, campaign_id, match AS match_, state, survivor, child_a, child_b,
                      create_time, update_time, version
               FROM aid.probable_duplicates WHERE campaign_id = $1 AND id = $2 FOR UPDATE"#,
            campaign,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            DuplicateRow,
            r#"SELECT id, campaign_id, match AS match_, state, survivor, child_a, child_b,
                      create_time, update_time, version
               FROM aid.probable_duplicates WHERE campaign_id = $1 AND id = $2"#,
            campaign,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    let Some(row) = row else {
        return Ok(None);
    };
    if lock {
        sqlx::query!(
            "SELECT id FROM aid.children WHERE id IN ($1, $2) ORDER BY id FOR UPDATE",
            row.child_a,
            row.child_b
        )
        .fetch_all(&mut *conn)
        .await?;
    }
    Ok(assemble(conn, vec![row]).await?.pop())
}

/// Probable duplicates of campaign `campaign` with a record of one of `regions`, oldest
/// first; in `state`, superseded ones included, or OPEN ones not superseded.
pub async fn list_duplicates(
    conn: &mut PgConnection,
    campaign: &str,
    regions: &[String],
    state: Option<DuplicateState>,
    size: usize,
    after: Option<Cursor>,
) -> Result<Page<Duplicate>, ApiError> {
    let (after_time, after_id) = Cursor::split(after);
    let rows = sqlx::query_as!(
        DuplicateRow,
        r#"SELECT d.id, d.campaign_id, d.match AS match_, d.state, d.survivor, d.child_a,
                  d.child_b, d.create_time, d.update_time, d.version
           FROM aid.probable_duplicates d
           JOIN aid.children a ON a.id = d.child_a
           JOIN aid.children b ON b.id = d.child_b
           WHERE d.campaign_id = $1
             AND (a.region_code = ANY ($2) OR b.region_code = ANY ($2))
             AND CASE WHEN $3::text IS NULL
                      THEN d.state = 'OPEN' AND a.state = 'ACTIVE' AND b.state = 'ACTIVE'
                      ELSE d.state = $3 END
             AND ($4::timestamptz IS NULL OR (d.create_time, d.id) > ($4, $5::text))
           ORDER BY d.create_time, d.id
           LIMIT $6"#,
        campaign,
        regions,
        state.map(DuplicateState::as_str),
        after_time as _,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let items = assemble(conn, rows).await?;
    Ok(Page::from_overfetch(items, size, |d| Cursor {
        time: d.create_time,
        id: d.id.clone(),
    }))
}

/// Records a decision on a locked pair, moves it to `state` and audits it.
async fn decide(
    conn: &mut PgConnection,
    context: &CallContext,
    pair: &Duplicate,
    action: DuplicateAction,
    state: DuplicateState,
    survivor: Option<&str>,
    reason: &str,
) -> Result<Duplicate, ApiError> {
    let now = context.now();
    let actor = context
        .caller_if_any()
        .map(|c| c.subject().to_string())
        .unwrap_or_else(|| audit::ANONYMOUS.to_string());
    sqlx::query!(
        "UPDATE aid.probable_duplicates
         SET state = $2, survivor = $3, update_time = $4, version = version + 1
         WHERE id = $1",
        pair.id,
        state.as_str(),
        survivor,
        now.to_sqlx() as _,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO aid.duplicate_decisions
             (duplicate_id, seq, action, reason, survivor, actor, decide_time)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6
         FROM aid.duplicate_decisions WHERE duplicate_id = $1",
        pair.id,
        action.as_str(),
        reason,
        (action == DuplicateAction::Merge)
            .then_some(survivor)
            .flatten(),
        actor,
        now.to_sqlx() as _,
    )
    .execute(&mut *conn)
    .await?;
    let resource = pair.name();
    audit::record(
        conn,
        context,
        &format!("probable_duplicate.{}", action.as_str().to_lowercase()),
        &resource,
        json!({ "from": pair.state.as_str(), "to": state.as_str(),
                "survivor": survivor.map(|s| name(&pair.campaign_id, s)),
                "reason": reason }),
    )
    .await?;
    fetch_duplicate(conn, &pair.campaign_id, &pair.id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// Merges a locked OPEN pair into `survivor` (the ID of one of its records): the other
/// record becomes MERGED into it. When one record has an IIN, it survives.
pub async fn merge(
    conn: &mut PgConnection,
    context: &CallContext,
    pair: &Duplicate,
    survivor: &str,
    reason: &str,
) -> Result<Duplicate, ApiError> {
    pair.ensure_decidable()?;
    let [a, b] = &pair.records;
    let (kept, merged) = match survivor {
        s if s == a.id => (a, b),
        s if s == b.id => (b, a),
        _ => return Err(ChildError::SurvivorNotInPair.into()),
    };
    match (kept.has_iin(), merged.has_iin()) {
        (true, true) => return Err(ChildError::DifferentIins.into()),
        (false, true) => return Err(ChildError::SurvivorWithoutIin.into()),
        _ => {}
    }
    sqlx::query!(
        "UPDATE aid.children
         SET state = 'MERGED', merged_into = $2, update_time = $3, version = version + 1
         WHERE id = $1",
        merged.id,
        kept.id,
        context.now().to_sqlx() as _,
    )
    .execute(&mut *conn)
    .await?;
    decide(
        conn,
        context,
        pair,
        DuplicateAction::Merge,
        DuplicateState::Merged,
        Some(&kept.id),
        reason,
    )
    .await
}

/// Records that a locked OPEN pair is two children.
pub async fn keep_apart(
    conn: &mut PgConnection,
    context: &CallContext,
    pair: &Duplicate,
    reason: &str,
) -> Result<Duplicate, ApiError> {
    pair.ensure_decidable()?;
    decide(
        conn,
        context,
        pair,
        DuplicateAction::KeepApart,
        DuplicateState::KeptApart,
        None,
        reason,
    )
    .await
}

/// Reverses the decision on a locked pair: OPEN again; a merged record is ACTIVE again.
pub async fn reopen(
    conn: &mut PgConnection,
    context: &CallContext,
    pair: &Duplicate,
    reason: &str,
) -> Result<Duplicate, ApiError> {
    pair.ensure_reopenable()?;
    if pair.state == DuplicateState::Merged
        && let Some(merged) = pair
            .records
            .iter()
            .find(|r| Some(&r.id) != pair.survivor.as_ref())
    {
        sqlx::query!(
            "UPDATE aid.children
             SET state = 'ACTIVE', merged_into = NULL, update_time = $2, version = version + 1
             WHERE id = $1 AND state = 'MERGED'",
            merged.id,
            context.now().to_sqlx() as _,
        )
        .execute(&mut *conn)
        .await?;
    }
    decide(
        conn,
        context,
        pair,
        DuplicateAction::Reopen,
        DuplicateState::Open,
        None,
        reason,
    )
    .await
}
