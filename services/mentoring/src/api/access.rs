//! Who may do what (rule 10, the contract's «Roles and tenants»). The director and the
//! appointed curator run their institution; a mentor sees the pairs they mentor, a mentee
//! (or the guardian of a minor) only their own pair; the regional centre reads its region's
//! institutions and figures but never a person; an event consumer only watches events.
//!
//! Every handler enters here, and in this order, so that a refusal never reveals an object:
//! 1. the token's roles alone: without any of this service's institution roles (an event
//!    consumer's token, another service's) the caller is `ROLE_REQUIRED` before anything is
//!    looked up ([`require_institution_role`], the first step of [`Viewer::of`] and of
//!    [`reach`], the caller's institutions for the lists that span them); a service that
//!    only some roles call refuses the others here too ([`require_one_of`]);
//! 2. the caller's standing in the institution: outside it, the institution and everything
//!    in it do not exist (`NOT_FOUND`), exactly as a missing one ([`Viewer::of`]);
//! 3. what the standing allows: a curator token of someone not appointed is
//!    `CURATOR_NOT_APPOINTED` in every method but the institution's own reads
//!    ([`Viewer::require_reader`]); the regional centre is `ROLE_REQUIRED` wherever people
//!    are shown ([`Viewer::require_people_reader`]); then whether the caller sees the object
//!    (`NOT_FOUND` when not), and only then the role the act needs ([`Viewer::require_staff`],
//!    [`Viewer::require_director`]), so that `ROLE_REQUIRED` never reveals an object.

use edu_kit::auth::{Caller, Scope};
use edu_kit::error::{ErrorKind, reason as kit_reason};
use edu_kit::{ApiError, CallContext};

use super::errors::reason;
use crate::domain::consent::ActorKind;
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
/// Other systems that consume the change-event stream, and read nothing else.
pub const EVENT_CONSUMER: &str = "mentoring.event_consumer";

/// The roles that can give a standing in an institution: every role of this service but
/// the event consumer's.
pub const INSTITUTION_ROLES: [&str; 5] =
    [DIRECTOR, CURATOR, PARTICIPANT, GUARDIAN, REGIONAL_CENTRE];

/// The roles that may read a person somewhere: every institution role but the regional
/// centre's, which reads institutions and figures only. A method that reads only people
/// and spans institutions (GetChildRecords) refuses any other token before any lookup
/// ([`require_one_of`]).
pub const PEOPLE_ROLES: [&str; 4] = [DIRECTOR, CURATOR, PARTICIPANT, GUARDIAN];

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
    /// tenant, so the institution itself reads as to anyone there, but every other method
    /// refuses it with `CURATOR_NOT_APPOINTED` ([`Viewer::require_reader`]), and it sees no
    /// person.
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
    /// The caller in institution `institution` at the call's instant, whatever their
    /// standing there. `ROLE_REQUIRED` for a token without an institution role, before
    /// anything is read; `NOT_FOUND` when the institution does not exist or the caller has
    /// no standing in it (wrong scope, or a participant or guardian token whose subject the
    /// institution does not know).
    pub async fn of(
        store: &Store,
        context: &CallContext,
        institution: &str,
    ) -> Result<Viewer, ApiError> {
        let caller = context.caller()?;
        require_institution_role(caller)?;
        let mut conn = store.read().await?;
        let found =
            callers::standing(&mut conn, institution, caller.subject(), context.now()).await?;
        let standing = standing_of(caller, institution, &found)
            .ok_or_else(|| ApiError::not_found(institution_name(institution)))?;
        conn.finish();
        Ok(Viewer {
            setting: found.setting,
            standing,
        })
    }

    /// The caller in `institution` for a method that shows people (participants, pairs,
    /// petitions, agreements, plans): [`Viewer::of`], then
    /// [`Viewer::require_people_reader`].
    pub async fn among_people(
        store: &Store,
        context: &CallContext,
        institution: &str,
    ) -> Result<Viewer, ApiError> {
        let viewer = Viewer::of(store, context, institution).await?;
        viewer.require_people_reader()?;
        Ok(viewer)
    }

    /// The institution's ID.
    pub fn institution(&self) -> &str {
        &self.setting.id
    }

    /// Whether the caller is the director or the appointed curator.
    pub fn is_staff(&self) -> bool {
        matches!(self.standing, Standing::Director | Standing::Curator { .. })
    }

    /// Whether the caller is the regional centre (reads figures, never people).
    pub fn is_regional_centre(&self) -> bool {
        self.standing == Standing::RegionalCentre
    }

    /// The caller may call this service at all: a curator token of someone not appointed
    /// is refused in every method, reads included (`CURATOR_NOT_APPOINTED`); only the
    /// institution's own reads (`InstitutionService`) let it in.
    pub fn require_reader(&self) -> Result<(), ApiError> {
        match self.standing {
            Standing::UnappointedCurator => Err(not_appointed()),
            _ => Ok(()),
        }
    }

    /// The caller may read people: [`Viewer::require_reader`], and the regional centre,
    /// which reads institutions and figures only, is `ROLE_REQUIRED` (whatever the object,
    /// so the answer reveals nothing).
    pub fn require_people_reader(&self) -> Result<(), ApiError> {
        if self.is_regional_centre() {
            return Err(role_required(&format!(
                "the regional centre ({REGIONAL_CENTRE}) reads institutions and figures, never \
                 a person"
            )));
        }
        self.require_reader()
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
        let refused = role_required(&format!("only the director ({DIRECTOR}) may do this"));
        Err(match field {
            Some(field) => refused.with_metadata("field", field),
            None => refused,
        })
    }

    /// Who the caller acts as when they sign or revoke for a person (the contract's
    /// `ActorKind`): staff recording a paper document, a guardian, or the person
    /// themselves. Anyone else acts for nobody: [`Viewer::require_staff`]'s refusal.
    pub fn actor(&self) -> Result<ActorKind, ApiError> {
        match self.standing {
            Standing::Guardian { .. } => Ok(ActorKind::Guardian),
            Standing::Member { .. } => Ok(ActorKind::Subject),
            _ => {
                self.require_staff()?;
                Ok(ActorKind::Staff)
            }
        }
    }

    /// The participants whose own things the caller sees: `None` for staff (everything in
    /// the institution), the caller's own participant ID for a member, the wards for a
    /// guardian, and nobody for the regional centre or a curator not appointed.
    pub fn people(&self) -> Option<Vec<String>> {
        match &self.standing {
            Standing::Director | Standing::Curator { .. } => None,
            Standing::RegionalCentre | Standing::UnappointedCurator => Some(Vec::new()),
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
}

/// The strongest standing `caller`'s token gives in the institution `found` describes.
fn standing_of(caller: &Caller, institution: &str, found: &callers::Standing) -> Option<Standing> {
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

/// A caller holding none of [`INSTITUTION_ROLES`] (an event consumer, a token of another
/// service) is `ROLE_REQUIRED`: judged by the token alone, before any lookup, so the answer
/// is the same whatever exists.
pub fn require_institution_role(caller: &Caller) -> Result<(), ApiError> {
    require_one_of(
        caller,
        &INSTITUTION_ROLES,
        &format!(
            "no role of this service that acts in an institution; {EVENT_CONSUMER} watches the \
             event stream only"
        ),
    )
}

/// `ROLE_REQUIRED` with `text` unless the token grants one of `roles`: for a service that
/// only some roles ever call, refused before any lookup.
pub fn require_one_of(caller: &Caller, roles: &[&str], text: &str) -> Result<(), ApiError> {
    if roles.iter().any(|role| caller.has_role(role)) {
        Ok(())
    } else {
        Err(role_required(text))
    }
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

/// Where a caller reads across institutions (the parent `institutions/-`).
#[derive(Debug, Clone)]
pub struct Reach {
    /// The regions they are the regional centre of (none without the role).
    pub regions: Vec<String>,
    /// Their standing in each institution of their `institution:{id}` scopes that knows
    /// them; the others do not exist for them and are left out, as lists leave them out.
    pub viewers: Vec<Viewer>,
}

/// The caller's [`Reach`]; `ROLE_REQUIRED` for a token without an institution role.
pub async fn reach(store: &Store, context: &CallContext) -> Result<Reach, ApiError> {
    let caller = context.caller()?;
    require_institution_role(caller)?;
    let regions = if caller.has_role(REGIONAL_CENTRE) {
        regional_centre_regions(caller)?
    } else {
        Vec::new()
    };
    let mut viewers = Vec::new();
    for scope in caller.scopes() {
        let Scope::Institution(institution) = scope else {
            continue;
        };
        match Viewer::of(store, context, institution).await {
            Ok(viewer) => viewers.push(viewer),
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Reach { regions, viewers })
}

/// `ROLE_REQUIRED` with `text`: the caller may see what they asked about, but their role
/// may not do it.
pub fn role_required(text: &str) -> ApiError {
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
