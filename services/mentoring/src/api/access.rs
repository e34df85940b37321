//! Who may do what (rule 10, the contract's «Roles and tenants»). The director and the
//! appointed curator run their institution; a mentor sees the pairs they mentor, a mentee
//! (or the guardian of a minor) only their own pair; the regional centre reads its region's
//! institutions and figures but never a person. Every handler asks here before it reads or
//! changes anything: a caller outside the institution is told it does not exist, and
//! visibility is settled before the role, so `ROLE_REQUIRED` never reveals an object.

use edu_kit::auth::{Caller, Scope};
use edu_kit::error::reason as kit_reason;
use edu_kit::{ApiError, CallContext};

use super::errors::reason;
use crate::domain::roles::ParticipantRole;
use crate::store::institutions::Setting;
use crate::store::{Store, callers, institution_name};

/// The institution's director: everything in it; alone appoints the curator, fixes pairs by
/// order, decides petitions and approves the road map.
pub const DIRECTOR: &str = "mentoring.director";
/// The curator: the programme's daily work, once the director has appointed them.
pub const CURATOR: &str = "mentoring.curator";
/// A mentor or mentee signed in as themselves.
pub const PARTICIPANT: &str = "mentoring.participant";
/// The parent or legal representative of a minor participant.
pub const GUARDIAN: &str = "mentoring.guardian";
/// The regional mentoring centre: its region's institutions and figures, never a person.
pub const REGIONAL_CENTRE: &str = "mentoring.regional_centre";
/// Other systems that consume the change-event stream.
pub const EVENT_CONSUMER: &str = "mentoring.event_consumer";

/// What the caller is to one institution, the strongest standing their token gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The director.
    Director,
    /// The appointed curator (their participant ID).
    Curator {
        /// The curator's participant ID.
        participant: String,
    },
    /// A curator token whose subject is not the appointed, consenting curator: in the
    /// tenant, so objects are visible as to staff, but every act is `CURATOR_NOT_APPOINTED`.
    UnappointedCurator,
    /// The regional centre of the institution's region.
    RegionalCentre,
    /// A participant signed in as themselves.
    Member {
        /// Their participant ID.
        participant: String,
        /// Their role.
        role: ParticipantRole,
    },
    /// The guardian of these minors (participant IDs, sorted).
    Guardian {
        /// The wards' participant IDs.
        wards: Vec<String>,
    },
}

/// The caller in one institution, with the institution's setting (today in its zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The institution and today in its zone.
    pub setting: Setting,
    /// What the caller is there.
    pub standing: Standing,
}

impl Viewer {
    /// The caller in institution `institution` at the call's instant. `NOT_FOUND` when the
    /// institution does not exist or the caller has no standing in it (wrong scope, or a
    /// participant or guardian token whose subject the institution does not know).
    pub async fn of(
        store: &Store,
        context: &CallContext,
        institution: &str,
    ) -> Result<Viewer, ApiError> {
        let caller = context.caller()?;
        let mut conn = store.read().await?;
        let found =
            callers::standing(&mut conn, institution, caller.subject(), context.now()).await?;
        let standing = standing_of(caller, institution, &found)
            .ok_or_else(|| ApiError::not_found(institution_name(institution)))?;
        Ok(Viewer {
            setting: found.setting,
            standing,
        })
    }

    /// The institution's ID.
    pub fn institution(&self) -> &str {
        &self.setting.id
    }

    /// Whether the caller is the director or the appointed curator.
    pub fn is_staff(&self) -> bool {
        matches!(
            self.standing,
            Standing::Director | Standing::Curator { .. }
        )
    }

    /// Whether the caller reads as staff does: staff, or a curator not (yet) appointed,
    /// whose acts are refused but who may see what the institution holds.
    pub fn reads_as_staff(&self) -> bool {
        self.is_staff() || self.standing == Standing::UnappointedCurator
    }

    /// The caller must be the director or the appointed curator: `CURATOR_NOT_APPOINTED`
    /// for another holder of the curator role, `ROLE_REQUIRED` for anyone else.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        match self.standing {
            Standing::Director | Standing::Curator { .. } => Ok(()),
            Standing::UnappointedCurator => Err(not_appointed()),
            _ => Err(role_required(&format!(
                "only the director ({DIRECTOR}) or the appointed curator ({CURATOR}) may do this"
            ))),
        }
    }

    /// The caller must be the director: `ROLE_REQUIRED` otherwise (`field` names the one
    /// field that needs the director, when the rest of the call would be allowed).
    pub fn require_director(&self, field: Option<&str>) -> Result<(), ApiError> {
        if self.standing == Standing::Director {
            return Ok(());
        }
        let text = format!("only the director ({DIRECTOR}) may do this");
        Err(match field {
            Some(field) => ApiError::permission_denied(kit_reason::ROLE_REQUIRED, text)
                .with_metadata("field", field),
            None => role_required(&text),
        })
    }

    /// The participants whose own things the caller sees: `None` for staff and an
    /// unappointed curator (everything in the institution), the caller's own participant ID
    /// for a member, the wards for a guardian, and nobody for the regional centre.
    pub fn people(&self) -> Option<Vec<String>> {
        match &self.standing {
            Standing::Director | Standing::Curator { .. } | Standing::UnappointedCurator => None,
            Standing::RegionalCentre => Some(Vec::new()),
            Standing::Member { participant, .. } => Some(vec![participant.clone()]),
            Standing::Guardian { wards } => Some(wards.clone()),
        }
    }

    /// Whether the caller sees the things of participant `id` (as staff, as them, or as
    /// their guardian). The regional centre never does.
    pub fn sees_person(&self, id: &str) -> bool {
        match self.people() {
            None => true,
            Some(people) => people.iter().any(|p| p == id),
        }
    }

    /// Whether the caller sees a pair or group with these members (mentor and mentees,
    /// current and former): staff always, a participant or guardian when one of them is
    /// theirs.
    pub fn sees_members<'a>(&self, mut members: impl Iterator<Item = &'a str>) -> bool {
        match self.people() {
            None => true,
            Some(people) => members.any(|m| people.iter().any(|p| p == m)),
        }
    }

    /// The caller acts for participant `id` themselves: they are `id` signed in, or `id`'s
    /// guardian. Staff do not (they act as staff).
    pub fn acts_for(&self, id: &str) -> bool {
        match &self.standing {
            Standing::Member { participant, .. } => participant == id,
            Standing::Guardian { wards } => wards.iter().any(|w| w == id),
            _ => false,
        }
    }

    /// Whether the caller is the regional centre (reads figures, never people).
    pub fn is_regional_centre(&self) -> bool {
        self.standing == Standing::RegionalCentre
    }
}

/// The strongest standing `caller`'s token gives in the institution `found` describes.
fn standing_of(
    caller: &Caller,
    institution: &str,
    found: &callers::Standing,
) -> Option<Standing> {
    let in_institution = caller
        .scopes()
        .iter()
        .any(|s| matches!(s, Scope::Institution(id) if id == institution));
    if in_institution && caller.has_role(DIRECTOR) {
        return Some(Standing::Director);
    }
    if in_institution && caller.has_role(CURATOR) {
        return Some(match (&found.member, &found.curator) {
            (Some(member), Some(curator)) if &member.id == curator && member.consent_in_force => {
                Standing::Curator {
                    participant: member.id.clone(),
                }
            }
            _ => Standing::UnappointedCurator,
        });
    }
    let in_region = caller
        .scopes()
        .iter()
        .any(|s| matches!(s, Scope::Region(r) if r.as_str() == found.setting.region_code));
    if in_region && caller.has_role(REGIONAL_CENTRE) {
        return Some(Standing::RegionalCentre);
    }
    if in_institution
        && caller.has_role(PARTICIPANT)
        && let Some(member) = &found.member
    {
        return Some(Standing::Member {
            participant: member.id.clone(),
            role: member.role,
        });
    }
    if in_institution && caller.has_role(GUARDIAN) && !found.wards.is_empty() {
        return Some(Standing::Guardian {
            wards: found.wards.clone(),
        });
    }
    None
}

/// The regions whose institutions the caller reads as their regional centre (the parent
/// `institutions/-`); `ROLE_REQUIRED` without the role.
pub fn regional_centre_regions(caller: &Caller) -> Result<Vec<String>, ApiError> {
    if !caller.has_role(REGIONAL_CENTRE) {
        return Err(role_required(&format!(
            "only the regional centre ({REGIONAL_CENTRE}) reads a whole region"
        )));
    }
    Ok(caller
        .scopes()
        .iter()
        .filter_map(|s| match s {
            Scope::Region(r) => Some(r.as_str().to_string()),
            _ => None,
        })
        .collect())
}

/// The institutions a caller acts in by their `institution:{id}` scopes (any role of this
/// service), for listing institutions.
pub fn scoped_institutions(caller: &Caller) -> Vec<String> {
    caller
        .scopes()
        .iter()
        .filter_map(|s| match s {
            Scope::Institution(id) => Some(id.clone()),
            _ => None,
        })
        .collect()
}

fn role_required(text: &str) -> ApiError {
    ApiError::permission_denied(kit_reason::ROLE_REQUIRED, text.to_string())
}

fn not_appointed() -> ApiError {
    ApiError::permission_denied(
        reason::CURATOR_NOT_APPOINTED,
        "your token carries the curator role, but the director has not appointed you \
         curator of this institution"
            .to_string(),
    )
}
