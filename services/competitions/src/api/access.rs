//! Who may do what (the brief's roles and tenants). Every handler asks here before it reads
//! or changes an object; a caller who may not see an object is told it does not exist.

use edu_kit::ApiError;
use edu_kit::auth::{Caller, Scope};
use edu_kit::error::reason as kit_reason;
use edu_kit::region::RegionCode;

use super::errors::reason;
use crate::domain::expert::Expert;
use crate::domain::{TeamLevel, TeamMemberRole, TeamSpec};
use crate::store::Store;

/// Agency staff: create and run contests, read everything.
pub const ORGANISER: &str = "competitions.organiser";
/// People of regional and municipal management teams.
pub const TEAM: &str = "competitions.team";
/// Experts who review applications of contests they are registered for.
pub const EXPERT: &str = "competitions.expert";
/// Other systems that consume the change-event stream.
pub const EVENT_CONSUMER: &str = "competitions.event_consumer";

/// Whether the caller is an organiser.
pub fn is_organiser(caller: &Caller) -> bool {
    caller.has_role(ORGANISER)
}

/// Region summaries are read by organisers, for every region, and by team people with a
/// `region:` scope, for those regions. Anyone else, the team role without a `region:` scope
/// included (a municipal team's people), is refused the call itself, whatever the region.
pub fn ensure_may_read_region_summaries(caller: &Caller) -> Result<(), ApiError> {
    let regional_team = caller.has_role(TEAM)
        && caller
            .scopes()
            .iter()
            .any(|s| matches!(s, Scope::Region(_)));
    if is_organiser(caller) || regional_team {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            kit_reason::ROLE_REQUIRED,
            format!("this call needs the role {ORGANISER}, or {TEAM} with a region: scope"),
        ))
    }
}

/// A region outside a team person's scopes does not exist for them, as another tenant's
/// object does not.
pub fn ensure_may_read_region(caller: &Caller, region: &RegionCode) -> Result<(), ApiError> {
    if is_organiser(caller) || (caller.has_role(TEAM) && caller.covers_region(region)) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("region {region}")))
    }
}

/// A team may be registered by a team person whose scopes cover its region (a regional
/// team) or its municipality (a municipal team).
pub fn ensure_may_register(caller: &Caller, team: &TeamSpec) -> Result<(), ApiError> {
    caller.require_role(TEAM)?;
    let covered = match (team.level, &team.municipality) {
        (TeamLevel::Municipal, Some(m)) => caller.covers_municipality(&team.region, &m.code),
        _ => caller.covers_region(&team.region),
    };
    if covered {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            reason::SCOPE_REQUIRED,
            format!("your scopes do not cover {}", team.region),
        ))
    }
}

/// The part the caller plays in a team, when they are a member acting in the team role.
pub async fn membership(
    store: &Store,
    caller: &Caller,
    team_id: &str,
) -> Result<Option<TeamMemberRole>, ApiError> {
    if !caller.has_role(TEAM) {
        return Ok(None);
    }
    store.member_role(team_id, caller.subject()).await
}

/// Members read their team, organisers read every team; to anyone else it does not exist.
pub async fn ensure_may_read_team(
    store: &Store,
    caller: &Caller,
    team_id: &str,
) -> Result<(), ApiError> {
    if is_organiser(caller) || membership(store, caller, team_id).await?.is_some() {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("teams/{team_id}")))
    }
}

/// Only a lead changes a team and its members.
pub async fn ensure_team_lead(
    store: &Store,
    caller: &Caller,
    team_id: &str,
) -> Result<(), ApiError> {
    match membership(store, caller, team_id).await? {
        Some(TeamMemberRole::Lead) => Ok(()),
        Some(TeamMemberRole::Member) => Err(ApiError::permission_denied(
            reason::TEAM_LEAD_REQUIRED,
            "only a lead of the team may do this",
        )),
        None => Err(ApiError::not_found(format!("teams/{team_id}"))),
    }
}

/// Only members act for a team. The answer is the same whether or not the team exists.
pub async fn ensure_team_member(
    store: &Store,
    caller: &Caller,
    team_id: &str,
) -> Result<(), ApiError> {
    caller.require_role(TEAM)?;
    match membership(store, caller, team_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::permission_denied(
            reason::NOT_TEAM_MEMBER,
            format!("you are not a member of teams/{team_id}"),
        )),
    }
}

/// The expert the caller is in a contest, when they act in the expert role.
pub async fn expert_self(
    store: &Store,
    caller: &Caller,
    contest_id: &str,
) -> Result<Option<Expert>, ApiError> {
    if !caller.has_role(EXPERT) {
        return Ok(None);
    }
    store.expert_by_subject(contest_id, caller.subject()).await
}
