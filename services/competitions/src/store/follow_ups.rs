//! Invitations of winners to presentation sessions and accelerators (rule 11). An
//! invitation needs an announced contest and a winning application; its moves lock its row.

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;

use edu_kit::audit;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::{ApiError, CallContext};

use super::contests::{self, Lock};
use super::{Cursor, Page, Store, corrupt, remember, replay};
use crate::domain::follow_up::{FollowUpKind, InvitationState};
use crate::domain::{CompetitionError, ContestState, Transition};

/// An invitation of a winning team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The contest.
    pub contest_id: String,
    /// The ID.
    pub id: String,
    /// The winning application.
    pub application_id: String,
    /// Its team.
    pub team_id: String,
    /// What to.
    pub kind: FollowUpKind,
    /// The event's title.
    pub title: String,
    /// When the event starts.
    pub start_time: Option<Timestamp>,
    /// Where it is.
    pub state: InvitationState,
    /// Sent.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
}

/// What the organiser sends.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The ID.
    pub id: String,
    /// The winning application.
    pub application_id: String,
    /// What to.
    pub kind: FollowUpKind,
    /// The event's title, checked.
    pub title: String,
    /// When it starts.
    pub start_time: Option<Timestamp>,
}

struct InvitationRow {
    contest_id: String,
    id: String,
    application_id: String,
    team_id: String,
    kind: String,
    title: String,
    start_time: Option<jiff_sqlx::Timestamp>,
    state: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
}

impl InvitationRow {
    fn into_domain(self) -> Result<Invitation, ApiError> {
        Ok(Invitation {
            kind: FollowUpKind::parse(&self.kind)
                .ok_or_else(|| corrupt("invitation kind", &self.kind))?,
            state: InvitationState::parse(&self.state)
                .ok_or_else(|| corrupt("invitation state", &self.state))?,
            contest_id: self.contest_id,
            id: self.id,
            application_id: self.application_id,
            team_id: self.team_id,
            title: self.title,
            start_time: self.start_time.map(|t| t.to_jiff()),
            create_time: self.create_time.to_jiff(),
            update_time: self.update_time.to_jiff(),
        })
    }
}

/// The invitation's resource name.
pub fn name(contest_id: &str, id: &str) -> String {
    format!("contests/{contest_id}/invitations/{id}")
}

impl Store {
    /// Rule 11: invites a winning application's team.
    pub async fn create_invitation<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        contest_id: &str,
        new: NewInvitation,
        respond: impl FnOnce(&Invitation) -> R,
    ) -> Result<R, ApiError> {
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        let contest = contests::fetch_locked(&mut tx, contest_id, Lock::Share).await?;
        let team_id = sqlx::query_scalar!(
            "SELECT a.team_id FROM competitions.applications a
             JOIN competitions.results r ON r.contest_id = a.contest_id AND r.application_id = a.id
             WHERE a.contest_id = $1 AND a.id = $2 AND r.winner",
            contest_id,
            new.application_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let team_id = match team_id {
            Some(team_id) if contest.state == ContestState::Announced => team_id,
            _ => return Err(CompetitionError::NotAWinner.into()),
        };
        let now = context.now();
        let invitation = Invitation {
            contest_id: contest_id.into(),
            id: new.id,
            application_id: new.application_id,
            team_id,
            kind: new.kind,
            title: new.title,
            start_time: new.start_time,
            state: InvitationState::Invited,
            create_time: now,
            update_time: now,
        };
        let inserted = sqlx::query!(
            "INSERT INTO competitions.invitations
                (contest_id, id, application_id, kind, title, start_time, state, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT DO NOTHING",
            invitation.contest_id,
            invitation.id,
            invitation.application_id,
            invitation.kind.as_str(),
            invitation.title,
            invitation.start_time.map(|t| t.to_sqlx()),
            invitation.state.as_str(),
            now.to_sqlx(),
            now.to_sqlx(),
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // An expected conflict, decided from the insert's result: a constraint error would be
            // logged by the server with the key.
            return Err(ApiError::already_exists(name(contest_id, &invitation.id)));
        }
        audit::record(
            &mut tx,
            context,
            "invitation.sent",
            &name(contest_id, &invitation.id),
            json!({
                "application": format!("contests/{contest_id}/applications/{}", invitation.application_id),
                "kind": invitation.kind.as_str(),
                "title": invitation.title,
            }),
        )
        .await?;
        let response = respond(&invitation);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Reads an invitation.
    pub async fn invitation(
        &self,
        contest_id: &str,
        id: &str,
    ) -> Result<Option<Invitation>, ApiError> {
        let mut conn = self.read().await?;
        let row = sqlx::query_as!(
            InvitationRow,
            "SELECT i.contest_id, i.id, i.application_id, a.team_id, i.kind, i.title, i.start_time,
                    i.state, i.create_time, i.update_time
             FROM competitions.invitations i
             JOIN competitions.applications a ON a.contest_id = i.contest_id AND a.id = i.application_id
             WHERE i.contest_id = $1 AND i.id = $2",
            contest_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.map(InvitationRow::into_domain).transpose()
    }

    /// Lists a contest's invitations in the order they were sent; `member`, when set, keeps
    /// only those of teams this subject is a member of.
    pub async fn list_invitations(
        &self,
        contest_id: &str,
        member: Option<&str>,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Invitation>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            InvitationRow,
            "SELECT i.contest_id, i.id, i.application_id, a.team_id, i.kind, i.title, i.start_time,
                    i.state, i.create_time, i.update_time
             FROM competitions.invitations i
             JOIN competitions.applications a ON a.contest_id = i.contest_id AND a.id = i.application_id
             WHERE i.contest_id = $1
               AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM competitions.team_members m
                                                 WHERE m.team_id = a.team_id AND m.subject = $2))
               AND ($3::timestamptz IS NULL OR (i.create_time, i.id) > ($3, $4::text))
             ORDER BY i.create_time, i.id
             LIMIT $5",
            contest_id,
            member,
            after_time,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let invitations = rows
            .into_iter()
            .map(InvitationRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(invitations, size, |i| Cursor {
            time: i.create_time,
            id: i.id.clone(),
        }))
    }

    /// Rule 11: moves an invitation to `to` under its row lock. A repeated move is a no-op.
    pub async fn move_invitation(
        &self,
        context: &CallContext,
        contest_id: &str,
        id: &str,
        to: InvitationState,
    ) -> Result<Invitation, ApiError> {
        let mut tx = self.begin().await?;
        let state = sqlx::query_scalar!(
            "SELECT state FROM competitions.invitations WHERE contest_id = $1 AND id = $2 FOR UPDATE",
            contest_id,
            id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found(name(contest_id, id)))?;
        let from =
            InvitationState::parse(&state).ok_or_else(|| corrupt("invitation state", &state))?;
        if from.move_to(to)? == Transition::Changed {
            sqlx::query!(
                "UPDATE competitions.invitations SET state = $3, update_time = $4
                 WHERE contest_id = $1 AND id = $2",
                contest_id,
                id,
                to.as_str(),
                context.now().to_sqlx(),
            )
            .execute(&mut *tx)
            .await?;
            audit::record(
                &mut tx,
                context,
                "invitation.moved",
                &name(contest_id, id),
                json!({ "state": { "from": from.as_str(), "to": to.as_str() } }),
            )
            .await?;
        }
        tx.commit().await?;
        self.invitation(contest_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found(name(contest_id, id)))
    }
}
