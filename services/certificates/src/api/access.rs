//! Who may do what (rule 8). A caller who may not see an object is told it does not exist.

use edu_kit::ApiError;
use edu_kit::auth::{Caller, Scope};
use edu_kit::region::RegionCode;

use crate::store::people::{Child, ChildReach};

/// The municipal support centre: periods, children, certificates, the registry, approvals.
pub const OPERATOR: &str = "certificates.operator";
/// A provider of clubs and sections, with a `provider:<id>` scope.
pub const PROVIDER: &str = "certificates.provider";
/// A parent or legal representative.
pub const PARENT: &str = "certificates.parent";

/// Whether the caller operates municipality `code` of `region`.
pub fn operates(caller: &Caller, region: &str, code: &str) -> bool {
    caller.has_role(OPERATOR)
        && RegionCode::parse(region).is_ok_and(|r| caller.covers_municipality(&r, code))
}

/// Whether the caller has any role of this service.
pub fn has_any_role(caller: &Caller) -> bool {
    [OPERATOR, PROVIDER, PARENT]
        .iter()
        .any(|role| caller.has_role(role))
}

/// The refusal of a call by someone with none of the service's roles: nothing of the
/// service is theirs to see, so saying so reveals nothing. One rule for every list: no role
/// of the service is `PERMISSION_DENIED`; a role whose scopes cover nothing is an empty
/// list.
pub fn no_role(what: &str) -> ApiError {
    ApiError::permission_denied(
        edu_kit::error::reason::ROLE_REQUIRED,
        format!("{what} needs a role of the certificates service"),
    )
}

/// The operator of the municipality, or `PERMISSION_DENIED`.
pub fn ensure_operates(caller: &Caller, region: &str, code: &str) -> Result<(), ApiError> {
    caller.require_role(OPERATOR)?;
    if operates(caller, region, code) {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            edu_kit::error::reason::ROLE_REQUIRED,
            format!("your scopes do not cover the municipality {region}/{code}"),
        ))
    }
}

/// Whether the caller is this child's parent: the one who consented, or a parent whose
/// token names the child.
pub fn is_parent_of(caller: &Caller, child: &Child) -> bool {
    caller.has_role(PARENT)
        && (child.parent_subject == caller.subject()
            || caller.scopes().contains(&Scope::Child(child.id.clone())))
}

/// Rule 8: the child's parents and municipality's operator see the child.
pub fn may_see_child(caller: &Caller, child: &Child) -> bool {
    is_parent_of(caller, child) || operates(caller, &child.region_code, &child.municipality_code)
}

/// The refusal of a lookup of a child by one who could be shown none, by the token alone:
/// only a parent and an operator read children (a provider sees its enrolments, not who the
/// child is).
pub fn ensure_reads_children(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.has_role(PARENT) || caller.has_role(OPERATOR) {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            edu_kit::error::reason::ROLE_REQUIRED,
            format!("{what} needs the role {PARENT} or {OPERATOR}"),
        ))
    }
}

/// Rule 8 as data for a query: the children [`may_see_child`] lets the caller see, by
/// their parent, their ID or their municipality.
pub fn reach(caller: &Caller) -> ChildReach {
    let mut reach = ChildReach::default();
    if caller.has_role(PARENT) {
        reach.parent_subject = Some(caller.subject().to_string());
        reach.child_ids = caller
            .scopes()
            .iter()
            .filter_map(|s| match s {
                Scope::Child(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
    }
    if caller.has_role(OPERATOR) {
        for scope in caller.scopes() {
            match scope {
                Scope::Region(region) => reach.regions.push(region.as_str().to_string()),
                Scope::Municipality { region, code } => {
                    reach
                        .municipalities
                        .push(format!("{}/{code}", region.as_str()));
                }
                _ => {}
            }
        }
    }
    reach
}

/// Whether the caller acts for provider `id`.
pub fn acts_for_provider(caller: &Caller, id: &str) -> bool {
    caller.has_role(PROVIDER) && caller.scopes().contains(&Scope::Provider(id.to_string()))
}

/// The municipalities of `region` an operator reads in a region summary: `None` for all of
/// them (scope `region:{region}`), else those its `municipality:{region}/{code}` scopes
/// name. The role is checked by the caller of this function, before the request is read.
/// A region none of the operator's scopes is in is `NOT_FOUND`, as any object the caller
/// may not see.
pub fn summary_municipalities(
    caller: &Caller,
    region: &RegionCode,
) -> Result<Option<Vec<String>>, ApiError> {
    if caller.covers_region(region) {
        return Ok(None);
    }
    let codes: Vec<String> = caller
        .scopes()
        .iter()
        .filter_map(|s| match s {
            Scope::Municipality { region: r, code } if r == region => Some(code.clone()),
            _ => None,
        })
        .collect();
    if codes.is_empty() {
        Err(ApiError::not_found(format!("region {region}")))
    } else {
        Ok(Some(codes))
    }
}
