//! Teams (rule 3): regional or municipal management teams and the people who act for them.

use jiff::Timestamp;

use edu_kit::region::RegionCode;

use super::error::{CompetitionError, FieldError};

/// Longest team or member name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The administrative level a team manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TeamLevel {
    /// A region.
    Regional,
    /// A municipality within a region.
    Municipal,
}

impl TeamLevel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TeamLevel::Regional => "REGIONAL",
            TeamLevel::Municipal => "MUNICIPAL",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "REGIONAL" => Some(TeamLevel::Regional),
            "MUNICIPAL" => Some(TeamLevel::Municipal),
            _ => None,
        }
    }
}

/// The municipality of a municipal team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    /// Its code (for example OKTMO).
    pub code: String,
    /// Its name.
    pub name: String,
}

/// What a team is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamSpec {
    /// Public name.
    pub display_name: String,
    /// Level.
    pub level: TeamLevel,
    /// Region.
    pub region: RegionCode,
    /// Municipality, for municipal teams only.
    pub municipality: Option<Municipality>,
}

impl TeamSpec {
    /// Rule 3: a team is REGIONAL (a region) or MUNICIPAL (a municipality within a region).
    pub fn parse(
        display_name: &str,
        level: Option<TeamLevel>,
        region_code: &str,
        municipality_code: &str,
        municipality_name: &str,
    ) -> Result<Self, CompetitionError> {
        let mut problems = Vec::new();
        check_name(&mut problems, "display_name", display_name);
        let region = RegionCode::parse(region_code)
            .map_err(|e| problems.push(FieldError::new("region_code", e.to_string())))
            .ok();
        let municipality = match level {
            None => {
                problems.push(FieldError::new("level", "must be REGIONAL or MUNICIPAL"));
                None
            }
            Some(TeamLevel::Regional) => {
                if !municipality_code.is_empty() || !municipality_name.is_empty() {
                    problems.push(FieldError::new(
                        "municipality_code",
                        "a regional team has no municipality",
                    ));
                }
                None
            }
            Some(TeamLevel::Municipal) => {
                let code = municipality_code.trim();
                let code_ok = !code.is_empty()
                    && code.len() <= 32
                    && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !code_ok {
                    problems.push(FieldError::new(
                        "municipality_code",
                        "a municipal team needs its municipality's code (letters, digits, hyphens)",
                    ));
                }
                check_name(&mut problems, "municipality_name", municipality_name);
                Some(Municipality {
                    code: code.to_string(),
                    name: municipality_name.trim().to_string(),
                })
            }
        };
        match (level, region) {
            (Some(level), Some(region)) if problems.is_empty() => Ok(TeamSpec {
                display_name: display_name.trim().to_string(),
                level,
                region,
                municipality,
            }),
            _ => Err(CompetitionError::InvalidFields(problems)),
        }
    }
}

fn check_name(problems: &mut Vec<FieldError>, field: &str, value: &str) {
    if value.trim().is_empty() {
        problems.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > MAX_NAME_CHARS {
        problems.push(FieldError::new(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// The ID in `teams/{id}`.
    pub id: String,
    /// What the team is.
    pub spec: TeamSpec,
    /// How many members it has.
    pub member_count: i64,
    /// Registered.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// The etag.
    pub version: i64,
}

/// A member's part in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamMemberRole {
    /// Manages members.
    Lead,
    /// Acts for the team.
    Member,
}

impl TeamMemberRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TeamMemberRole::Lead => "LEAD",
            TeamMemberRole::Member => "MEMBER",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "LEAD" => Some(TeamMemberRole::Lead),
            "MEMBER" => Some(TeamMemberRole::Member),
            _ => None,
        }
    }
}

/// A person acting for a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    /// The team.
    pub team_id: String,
    /// The ID in `teams/{team}/members/{id}`.
    pub id: String,
    /// The person's subject at the identity provider.
    pub subject: String,
    /// Their name as shown.
    pub display_name: String,
    /// Their position.
    pub position: String,
    /// Their part.
    pub role: TeamMemberRole,
    /// Joined.
    pub create_time: Timestamp,
}

/// A member as the caller sent it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    /// Subject.
    pub subject: String,
    /// Name.
    pub display_name: String,
    /// Position.
    pub position: String,
    /// Role.
    pub role: TeamMemberRole,
}

impl MemberSpec {
    /// Checks a member's fields.
    pub fn parse(
        subject: &str,
        display_name: &str,
        position: &str,
        role: Option<TeamMemberRole>,
    ) -> Result<Self, CompetitionError> {
        let mut problems = Vec::new();
        if subject.trim().is_empty() || subject.len() > 256 {
            problems.push(FieldError::new(
                "subject",
                "must be the person's subject at the identity provider",
            ));
        }
        check_name(&mut problems, "display_name", display_name);
        if position.chars().count() > MAX_NAME_CHARS {
            problems.push(FieldError::new(
                "position",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if !problems.is_empty() {
            return Err(CompetitionError::InvalidFields(problems));
        }
        Ok(MemberSpec {
            subject: subject.trim().to_string(),
            display_name: display_name.trim().to_string(),
            position: position.trim().to_string(),
            role: role.unwrap_or(TeamMemberRole::Member),
        })
    }
}

/// A team keeps at least one lead: removing a member must leave `leads_after` ≥ 1.
pub fn ensure_a_lead_remains(leads_after: i64) -> Result<(), CompetitionError> {
    if leads_after >= 1 {
        Ok(())
    } else {
        Err(CompetitionError::LastTeamLead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<TeamSpec, CompetitionError>) -> Vec<String> {
        match result {
            Err(CompetitionError::InvalidFields(p)) => p.into_iter().map(|p| p.field).collect(),
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    #[test]
    fn a_team_is_regional_or_municipal_within_a_region() {
        let regional = TeamSpec::parse(
            "Команда Алтайского края",
            Some(TeamLevel::Regional),
            "RU-ALT",
            "",
            "",
        )
        .expect("valid");
        assert_eq!(regional.municipality, None);
        let municipal = TeamSpec::parse(
            "Михайловский район",
            Some(TeamLevel::Municipal),
            "ru-alt",
            "01627000",
            "Михайловский район",
        )
        .expect("valid");
        assert_eq!(municipal.region.as_str(), "RU-ALT");
        assert_eq!(
            municipal.municipality.expect("municipality").code,
            "01627000"
        );
    }

    #[test]
    fn malformed_teams_name_their_fields() {
        assert_eq!(
            fields(TeamSpec::parse("", None, "Altai", "", "")),
            ["display_name", "region_code", "level"]
        );
        assert_eq!(
            fields(TeamSpec::parse(
                "x",
                Some(TeamLevel::Municipal),
                "RU-ALT",
                "",
                ""
            )),
            ["municipality_code", "municipality_name"]
        );
        assert_eq!(
            fields(TeamSpec::parse(
                "x",
                Some(TeamLevel::Regional),
                "RU-ALT",
                "01627000",
                ""
            )),
            ["municipality_code"]
        );
    }

    #[test]
    fn the_last_lead_stays() {
        assert!(ensure_a_lead_remains(1).is_ok());
        assert_eq!(
            ensure_a_lead_remains(0),
            Err(CompetitionError::LastTeamLead)
        );
    }
}
