//! Teams and their members.

use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::audit;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, etag};

use super::{Cursor, Page, Store, corrupt, remember, replay};
use crate::domain::team::ensure_a_lead_remains;
use crate::domain::{Municipality, Team, TeamLevel, TeamMember, TeamMemberRole, TeamSpec};

struct TeamRow {
    id: String,
    display_name: String,
    level: String,
    region_code: String,
    municipality_code: Option<String>,
    municipality_name: Option<String>,
    member_count: i64,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl TeamRow {
    fn into_domain(self) -> Result<Team, ApiError> {
        let level =
            TeamLevel::parse(&self.level).ok_or_else(|| corrupt("team level", &self.level))?;
        let region = RegionCode::parse(&self.region_code)
            .map_err(|_| corrupt("region", &self.region_code))?;
        let municipality = match (self.municipality_code, self.municipality_name) {
            (Some(code), Some(name)) => Some(Municipality { code, name }),
            _ => None,
        };
        Ok(Team {
            id: self.id,
            spec: TeamSpec {
                display_name: self.display_name,
                level,
                region,
                municipality,
            },
            member_count: self.member_count,
            create_time: self.create_time.to_jiff(),
            update_time: self.update_time.to_jiff(),
            version: self.version,
        })
    }
}

struct MemberRow {
    team_id: String,
    id: String,
    subject: String,
    display_name: String,
    position: String,
    role: String,
    create_time: jiff_sqlx::Timestamp,
}

impl MemberRow {
    fn into_domain(self) -> Result<TeamMember, ApiError> {
        let role =
            TeamMemberRole::parse(&self.role).ok_or_else(|| corrupt("member role", &self.role))?;
        Ok(TeamMember {
            team_id: self.team_id,
            id: self.id,
            subject: self.subject,
            display_name: self.display_name,
            position: self.position,
            role,
            create_time: self.create_time.to_jiff(),
        })
    }
}

/// Reads team `id`.
pub(crate) async fn fetch(conn: &mut PgConnection, id: &str) -> Result<Option<Team>, ApiError> {
    let row = sqlx::query_as!(
        TeamRow,
        r#"SELECT t.id, t.display_name, t.level, t.region_code, t.municipality_code, t.municipality_name,
                  (SELECT count(*) FROM competitions.team_members m WHERE m.team_id = t.id) AS "member_count!",
                  t.create_time, t.update_time, t.version
           FROM competitions.teams t WHERE t.id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(TeamRow::into_domain).transpose()
}

/// Locks team `id` for a change that counts or checks what the team has; `false` when it
/// does not exist.
pub(crate) async fn lock(conn: &mut PgConnection, id: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 1 AS "found!" FROM competitions.teams WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .is_some())
}

/// Inserts a member; `false` when the team has a member with that subject (or that ID)
/// already. The conflict is decided from the insert's result, never from a constraint error,
/// which the server would log with the subject, a person's identifier.
async fn insert_member(conn: &mut PgConnection, member: &TeamMember) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO competitions.team_members (team_id, id, subject, display_name, position, role, create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT DO NOTHING",
        member.team_id,
        member.id,
        member.subject,
        member.display_name,
        member.position,
        member.role.as_str(),
        member.create_time.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

fn team_name(id: &str) -> String {
    format!("teams/{id}")
}

fn member_name(team_id: &str, id: &str) -> String {
    format!("teams/{team_id}/members/{id}")
}

/// Which teams a listing shows.
#[derive(Debug, Clone, Default)]
pub struct TeamFilter {
    /// Only teams this subject is a member of (`None`: every team, for organisers).
    pub member: Option<String>,
    /// Only teams of this region.
    pub region: Option<String>,
}

impl Store {
    /// Registers a team with its first member, the lead.
    pub async fn create_team<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        team: Team,
        lead: TeamMember,
        respond: impl FnOnce(&Team) -> R,
    ) -> Result<R, ApiError> {
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        let municipality = team.spec.municipality.as_ref();
        let inserted = sqlx::query!(
            "INSERT INTO competitions.teams
                (id, display_name, level, region_code, municipality_code, municipality_name, create_time, update_time, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT DO NOTHING",
            team.id,
            team.spec.display_name,
            team.spec.level.as_str(),
            team.spec.region.as_str(),
            municipality.map(|m| m.code.clone()),
            municipality.map(|m| m.name.clone()),
            team.create_time.to_sqlx(),
            team.update_time.to_sqlx(),
            team.version,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(ApiError::already_exists(team_name(&team.id)));
        }
        insert_member(&mut tx, &lead).await?;
        audit::record(
            &mut tx,
            context,
            "team.created",
            &team_name(&team.id),
            json!({
                "display_name": team.spec.display_name,
                "level": team.spec.level.as_str(),
                "region_code": team.spec.region.as_str(),
                "municipality_code": municipality.map(|m| &m.code),
                "lead": member_name(&team.id, &lead.id),
            }),
        )
        .await?;
        let mut created = team;
        created.member_count = 1;
        let response = respond(&created);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Reads a team.
    pub async fn team(&self, id: &str) -> Result<Option<Team>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, id).await?))
            .await
    }

    /// The part `subject` plays in team `team_id`, if any.
    pub async fn member_role(
        &self,
        team_id: &str,
        subject: &str,
    ) -> Result<Option<TeamMemberRole>, ApiError> {
        let mut conn = self.read().await?;
        let role = sqlx::query_scalar!(
            "SELECT role FROM competitions.team_members WHERE team_id = $1 AND subject = $2",
            team_id,
            subject
        )
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        role.map(|r| TeamMemberRole::parse(&r).ok_or_else(|| corrupt("member role", &r)))
            .transpose()
    }

    /// Lists teams in registration order.
    pub async fn list_teams(
        &self,
        filter: &TeamFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Team>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            TeamRow,
            r#"SELECT t.id, t.display_name, t.level, t.region_code, t.municipality_code, t.municipality_name,
                      (SELECT count(*) FROM competitions.team_members m WHERE m.team_id = t.id) AS "member_count!",
                      t.create_time, t.update_time, t.version
               FROM competitions.teams t
               WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM competitions.team_members m
                                                   WHERE m.team_id = t.id AND m.subject = $1))
                 AND ($2::text IS NULL OR t.region_code = $2)
                 AND ($3::timestamptz IS NULL OR (t.create_time, t.id) > ($3, $4::text))
               ORDER BY t.create_time, t.id
               LIMIT $5"#,
            filter.member,
            filter.region,
            after_time,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let teams = rows
            .into_iter()
            .map(TeamRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(teams, size, |t| Cursor {
            time: t.create_time,
            id: t.id.clone(),
        }))
    }

    /// Renames a team.
    pub async fn rename_team(
        &self,
        context: &CallContext,
        id: &str,
        supplied_etag: &str,
        display_name: &str,
    ) -> Result<Team, ApiError> {
        let mut tx = self.begin().await?;
        if !lock(&mut tx, id).await? {
            return Err(ApiError::not_found(team_name(id)));
        }
        let mut team = fetch(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::not_found(team_name(id)))?;
        if team.spec.display_name == display_name {
            return Ok(team);
        }
        etag::check(supplied_etag, team.version, &team_name(id))?;
        let before = std::mem::replace(&mut team.spec.display_name, display_name.to_string());
        team.update_time = context.now();
        team.version += 1;
        sqlx::query!(
            "UPDATE competitions.teams SET display_name = $2, update_time = $3, version = $4 WHERE id = $1",
            id,
            team.spec.display_name,
            team.update_time.to_sqlx(),
            team.version,
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            context,
            "team.renamed",
            &team_name(id),
            json!({ "display_name": { "from": before, "to": team.spec.display_name } }),
        )
        .await?;
        tx.commit().await?;
        Ok(team)
    }

    /// Adds a member to a team.
    pub async fn add_member<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        member: TeamMember,
        respond: impl FnOnce(&TeamMember) -> R,
    ) -> Result<R, ApiError> {
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        if !lock(&mut tx, &member.team_id).await? {
            return Err(ApiError::not_found(team_name(&member.team_id)));
        }
        if !insert_member(&mut tx, &member).await? {
            return Err(ApiError::already_exists(format!(
                "a member with that subject in {}",
                team_name(&member.team_id)
            )));
        }
        audit::record(
            &mut tx,
            context,
            "team.member_added",
            &member_name(&member.team_id, &member.id),
            json!({ "role": member.role.as_str() }),
        )
        .await?;
        let response = respond(&member);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Lists a team's members in the order they joined.
    pub async fn list_members(
        &self,
        team_id: &str,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<TeamMember>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            MemberRow,
            r#"SELECT team_id, id, subject, display_name, position, role, create_time
               FROM competitions.team_members
               WHERE team_id = $1
                 AND ($2::timestamptz IS NULL OR (create_time, id) > ($2, $3::text))
               ORDER BY create_time, id
               LIMIT $4"#,
            team_id,
            after_time,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let members = rows
            .into_iter()
            .map(MemberRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(members, size, |m| Cursor {
            time: m.create_time,
            id: m.id.clone(),
        }))
    }

    /// Removes a member, keeping at least one lead.
    pub async fn remove_member(
        &self,
        context: &CallContext,
        team_id: &str,
        member_id: &str,
    ) -> Result<(), ApiError> {
        let mut tx = self.begin().await?;
        if !lock(&mut tx, team_id).await? {
            return Err(ApiError::not_found(team_name(team_id)));
        }
        let role = sqlx::query_scalar!(
            "SELECT role FROM competitions.team_members WHERE team_id = $1 AND id = $2",
            team_id,
            member_id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found(member_name(team_id, member_id)))?;
        if role == TeamMemberRole::Lead.as_str() {
            let leads = sqlx::query_scalar!(
                r#"SELECT count(*) AS "leads!" FROM competitions.team_members WHERE team_id = $1 AND role = 'LEAD'"#,
                team_id
            )
            .fetch_one(&mut *tx)
            .await?;
            ensure_a_lead_remains(leads - 1)?;
        }
        sqlx::query!(
            "DELETE FROM competitions.team_members WHERE team_id = $1 AND id = $2",
            team_id,
            member_id
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            context,
            "team.member_removed",
            &member_name(team_id, member_id),
            json!({ "role": role }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
