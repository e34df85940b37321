//! Who may do what (rule 8). School staff act for their school, regional staff and
//! operators within their regions, donors for their own contributions, and the national
//! coordinator reads national aggregates. Every handler asks here before it reads or
//! changes an object; a caller who may not see an object is told it does not exist.

use edu_kit::ApiError;
use edu_kit::auth::{Caller, Scope};
use edu_kit::error::reason as kit_reason;

use super::errors::reason;
use crate::store::Visibility;

/// The Committee for the Protection of Children's Rights: campaigns, national figures.
pub const COORDINATOR: &str = "aid.national_coordinator";
/// A regional headquarters' or education department's staff, `region:KZ-xx`.
pub const REGIONAL_STAFF: &str = "aid.regional_staff";
/// A school's staff, `school:{id}`.
pub const SCHOOL_STAFF: &str = "aid.school_staff";
/// Hotline and reception operators and price monitors, `region:KZ-xx`.
pub const OPERATOR: &str = "aid.operator";
/// A citizen, business or patron who gives; the token's subject is the donor.
pub const DONOR: &str = "aid.donor";
/// Other systems that consume the change-event stream.
pub const EVENT_CONSUMER: &str = "aid.event_consumer";

/// What the caller is to this service (a token may carry several roles).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Viewer {
    /// The national coordinator.
    pub coordinator: bool,
    /// Regions the caller acts for as regional staff.
    pub regional: Vec<String>,
    /// Regions the caller acts for as an operator.
    pub operator: Vec<String>,
    /// Schools the caller acts for as their staff.
    pub schools: Vec<String>,
    /// The donor the caller is, by token subject.
    pub donor: Option<String>,
    /// Whether the caller consumes events.
    pub event_consumer: bool,
}

impl Viewer {
    /// The caller as a viewer; `ROLE_REQUIRED` without any role of this service.
    pub fn of(caller: &Caller) -> Result<Viewer, ApiError> {
        let regional = caller.has_role(REGIONAL_STAFF);
        let operator = caller.has_role(OPERATOR);
        let school = caller.has_role(SCHOOL_STAFF);
        let mut viewer = Viewer {
            coordinator: caller.has_role(COORDINATOR),
            donor: caller.has_role(DONOR).then(|| caller.subject().to_string()),
            event_consumer: caller.has_role(EVENT_CONSUMER),
            ..Viewer::default()
        };
        for scope in caller.scopes() {
            match scope {
                Scope::Region(r) => {
                    if regional {
                        viewer.regional.push(r.as_str().to_string());
                    }
                    if operator {
                        viewer.operator.push(r.as_str().to_string());
                    }
                }
                Scope::School(s) if school => viewer.schools.push(s.clone()),
                _ => {}
            }
        }
        let any = viewer.coordinator
            || regional
            || operator
            || school
            || viewer.donor.is_some()
            || viewer.event_consumer;
        if !any {
            return Err(role_required());
        }
        Ok(viewer)
    }

    /// Whether the caller is regional staff of `region`.
    pub fn is_regional(&self, region: &str) -> bool {
        self.regional.iter().any(|r| r == region)
    }

    /// Whether the caller is an operator of `region`.
    pub fn is_operator(&self, region: &str) -> bool {
        self.operator.iter().any(|r| r == region)
    }

    /// Whether the caller is staff of school `id`.
    pub fn is_school(&self, id: &str) -> bool {
        self.schools.iter().any(|s| s == id)
    }

    /// Whether the caller sees what school `school` of `region` holds about children:
    /// its staff and its region's staff. The coordinator reads aggregates, not children.
    pub fn sees_children_of(&self, school: &str, region: &str) -> bool {
        self.is_school(school) || self.is_regional(region)
    }

    /// The caller must be the national coordinator.
    pub fn require_coordinator(&self) -> Result<(), ApiError> {
        if self.coordinator {
            Ok(())
        } else {
            Err(role_required())
        }
    }

    /// The caller must be regional staff of `region` (or the coordinator when
    /// `coordinator_too`): `SCOPE_REQUIRED` for staff of another region, `ROLE_REQUIRED`
    /// for other roles.
    pub fn require_regional(&self, region: &str, coordinator_too: bool) -> Result<(), ApiError> {
        if self.is_regional(region) || (coordinator_too && self.coordinator) {
            Ok(())
        } else if !self.regional.is_empty() {
            Err(scope_required(&format!("the region {region}")))
        } else {
            Err(role_required())
        }
    }

    /// The caller must be school or regional staff, who work with children's records:
    /// `ROLE_REQUIRED` for the coordinator, operators, donors and event consumers.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        if self.schools.is_empty() && self.regional.is_empty() {
            Err(role_required())
        } else {
            Ok(())
        }
    }

    /// Children's records the caller sees in listings: by region as regional staff, by
    /// school as school staff; nothing otherwise.
    pub fn children(&self) -> Visibility {
        Visibility {
            all: false,
            regions: self.regional.clone(),
            schools: self.schools.clone(),
        }
    }
}

/// `PERMISSION_DENIED ROLE_REQUIRED`.
pub fn role_required() -> ApiError {
    ApiError::permission_denied(
        kit_reason::ROLE_REQUIRED,
        "your roles do not allow this call",
    )
}

/// `PERMISSION_DENIED SCOPE_REQUIRED`: the caller's role fits, its tenant does not.
pub fn scope_required(what: &str) -> ApiError {
    ApiError::permission_denied(reason::SCOPE_REQUIRED, format!("you do not act for {what}"))
}
