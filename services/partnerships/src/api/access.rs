//! Who may do what (rule 10). A school acts only for itself, a regional office only within
//! its region, and only the ministry changes the List, approves groups and reads national
//! progress. Every handler asks here before it reads or changes an object; a caller who
//! may not see an object is told it does not exist.

use edu_kit::ApiError;
use edu_kit::auth::{Caller, Scope};
use edu_kit::error::reason as kit_reason;

use super::errors::reason;

/// The ministry of education: years, the registry, the List, approvals, national figures.
pub const MINISTRY: &str = "partnerships.ministry";
/// A regional education office (РУО), with a `region:BG-xx` scope per region it serves.
pub const REGIONAL_OFFICE: &str = "partnerships.regional_office";
/// A school, signed in with its official e-mail, with a `school:{id}` scope.
pub const SCHOOL: &str = "partnerships.school";
/// Other systems that consume the change-event stream.
pub const EVENT_CONSUMER: &str = "partnerships.event_consumer";

/// What the caller is to this service: the ministry, the offices of some regions, some
/// schools (a token may carry more than one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Viewer {
    /// The ministry sees everything.
    pub ministry: bool,
    /// Regions the caller acts for as their regional office.
    pub regions: Vec<String>,
    /// Schools the caller acts for.
    pub schools: Vec<String>,
}

impl Viewer {
    /// The caller as a viewer; `ROLE_REQUIRED` without any role of this service.
    pub fn of(caller: &Caller) -> Result<Viewer, ApiError> {
        let ministry = caller.has_role(MINISTRY);
        let office = caller.has_role(REGIONAL_OFFICE);
        let school = caller.has_role(SCHOOL);
        if !(ministry || office || school) {
            return Err(ApiError::permission_denied(
                kit_reason::ROLE_REQUIRED,
                format!("needs one of the roles {MINISTRY}, {REGIONAL_OFFICE}, {SCHOOL}"),
            ));
        }
        let mut viewer = Viewer {
            ministry,
            ..Viewer::default()
        };
        for scope in caller.scopes() {
            match scope {
                Scope::Region(r) if office => viewer.regions.push(r.as_str().to_string()),
                Scope::School(s) if school => viewer.schools.push(s.clone()),
                _ => {}
            }
        }
        Ok(viewer)
    }

    /// Whether the caller acts for school `id` (as that school).
    pub fn is_school(&self, id: &str) -> bool {
        self.schools.iter().any(|s| s == id)
    }

    /// Whether the caller is the office of `region`.
    pub fn is_office_of(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
    }

    /// Whether the caller reads what concerns school `id` of `region`: the ministry, the
    /// region's office, the school itself.
    pub fn oversees(&self, id: &str, region: &str) -> bool {
        self.ministry || self.is_office_of(region) || self.is_school(id)
    }

    /// The caller must be the ministry.
    pub fn require_ministry(&self) -> Result<(), ApiError> {
        if self.ministry {
            Ok(())
        } else {
            Err(ApiError::permission_denied(
                kit_reason::ROLE_REQUIRED,
                format!("only the ministry ({MINISTRY}) may do this"),
            ))
        }
    }

    /// The caller must act as school `id`: `SCOPE_REQUIRED` otherwise.
    pub fn require_school(&self, id: &str) -> Result<(), ApiError> {
        if self.is_school(id) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(
                reason::SCOPE_REQUIRED,
                format!("you do not act for schools/{id}; a school acts only for itself"),
            ))
        }
    }

    /// The caller must be the office of `region`: `SCOPE_REQUIRED` otherwise.
    pub fn require_office_of(&self, region: &str) -> Result<(), ApiError> {
        if self.is_office_of(region) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(
                reason::SCOPE_REQUIRED,
                format!("you do not act for the regional office of {region}"),
            ))
        }
    }

    /// The caller must read the figures of `region` (the region summary): the ministry
    /// any region's, an office its own. To an office of other regions `region` is
    /// NOT_FOUND `what`, whether or not it holds anything, so that the answer tells it
    /// nothing; a school, or an office without a region, is refused `ROLE_REQUIRED`.
    pub fn require_region_figures(&self, region: &str, what: &str) -> Result<(), ApiError> {
        if self.ministry || self.is_office_of(region) {
            return Ok(());
        }
        if self.regions.is_empty() {
            return Err(ApiError::permission_denied(
                kit_reason::ROLE_REQUIRED,
                format!("needs the role {MINISTRY}, or {REGIONAL_OFFICE} with the region's scope"),
            ));
        }
        Err(ApiError::not_found(what.to_string()))
    }

    /// Filters for listings: `None` for the ministry (everything), else the regions and
    /// schools whose objects the caller sees.
    pub fn scope(&self) -> Option<(&[String], &[String])> {
        (!self.ministry).then_some((self.regions.as_slice(), self.schools.as_slice()))
    }
}
