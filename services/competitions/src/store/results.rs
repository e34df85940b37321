//! Rankings, the choice of winners, and the announcement (rules 6-9).
//!
//! The announcement holds the contest row `FOR UPDATE` for its whole transaction: the
//! state change, the frozen rankings, the catalogue entries, the audit record and the
//! `WINNERS_ANNOUNCED` event commit together or not at all, and a concurrent announcement
//! waits, then finds the contest ANNOUNCED and returns that one announcement. Choosing
//! winners holds the contest shared, so it cannot interleave with the announcement.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::audit;
use edu_kit::{ApiError, CallContext, etag};

use super::contests::{self, Lock};
use super::events::{self, EventKind};
use super::{Store, corrupt};
use crate::domain::results::check_winners;
use crate::domain::scoring::{RankInput, Ranked, application_score, rank, tie_break_rule};
use crate::domain::{CompetitionError, Contest, ContestState, Transition};

/// One application's place in a nomination, with what the ranking shows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// The place, score and tie-break.
    pub ranked: Ranked,
    /// The practice's title.
    pub title: String,
    /// The applying team.
    pub team_id: String,
    /// The team's region.
    pub region_code: String,
    /// Whether it is a chosen winner.
    pub winner: bool,
}

/// A nomination's ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct NominationRanking {
    /// The nomination.
    pub nomination_id: String,
    /// The applications in order.
    pub placed: Vec<Placed>,
    /// Why the winners are not the top of the ranking; empty when they are.
    pub departure_reason: String,
}

/// One contest's part of a region summary: counts, never a team or a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionContest {
    /// The contest's ID.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its state.
    pub state: ContestState,
    /// The region's SUBMITTED applications in it.
    pub applications: i64,
    /// Of those, winners of the announced results; 0 before the announcement.
    pub winners: i64,
}

/// What an announcement did.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    /// The contest, ANNOUNCED.
    pub contest: Contest,
    /// Whether it came after the `results_due` day.
    pub late: bool,
    /// The catalogue entries published, by ID.
    pub practice_ids: Vec<String>,
}

struct Choice {
    application_ids: Vec<String>,
    departure_reason: String,
}

struct LiveRow {
    id: String,
    title: String,
    team_id: String,
    region_code: String,
    submit_time: jiff_sqlx::Timestamp,
    scores: Vec<f64>,
}

/// The live ranking of a nomination from the completed reviews (rule 6).
async fn live_ranking(
    conn: &mut PgConnection,
    contest_id: &str,
    nomination_id: &str,
) -> Result<Vec<Placed>, ApiError> {
    let rows = sqlx::query_as!(
        LiveRow,
        r#"SELECT a.id, a.title, a.team_id, a.region_code, a.submit_time AS "submit_time!",
                  COALESCE(array_agg(r.weighted_score) FILTER (WHERE r.state = 'COMPLETED'), '{}')
                      AS "scores!"
           FROM competitions.applications a
           LEFT JOIN competitions.reviews r ON r.contest_id = a.contest_id AND r.application_id = a.id
           WHERE a.contest_id = $1 AND a.nomination_id = $2 AND a.state = 'SUBMITTED'
           GROUP BY a.contest_id, a.id"#,
        contest_id,
        nomination_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    let inputs: Vec<RankInput> = rows
        .iter()
        .map(|row| RankInput {
            application_id: row.id.clone(),
            score: application_score(&row.scores),
            completed_reviews: u32::try_from(row.scores.len()).unwrap_or(u32::MAX),
            submit_time: row.submit_time.to_jiff(),
        })
        .collect();
    let by_id: BTreeMap<&str, &LiveRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    Ok(rank(&inputs)
        .into_iter()
        .map(|ranked| {
            let row = by_id[ranked.application.application_id.as_str()];
            Placed {
                title: row.title.clone(),
                team_id: row.team_id.clone(),
                region_code: row.region_code.clone(),
                winner: false,
                ranked,
            }
        })
        .collect())
}

async fn choice(
    conn: &mut PgConnection,
    contest_id: &str,
    nomination_id: &str,
) -> Result<Option<Choice>, sqlx::Error> {
    sqlx::query_as!(
        Choice,
        "SELECT application_ids, departure_reason FROM competitions.winner_choices
         WHERE contest_id = $1 AND nomination_id = $2",
        contest_id,
        nomination_id
    )
    .fetch_optional(&mut *conn)
    .await
}

fn mark_winners(placed: &mut [Placed], choice: Option<&Choice>) {
    for p in placed {
        p.winner = choice.is_some_and(|c| {
            c.application_ids
                .contains(&p.ranked.application.application_id)
        });
    }
}

struct FrozenRow {
    application_id: String,
    rank: i32,
    score: Option<f64>,
    completed_reviews: i32,
    tie_break: String,
    winner: bool,
    title: String,
    team_id: String,
    region_code: String,
    submit_time: jiff_sqlx::Timestamp,
}

/// The ranking as it was frozen at the announcement.
async fn frozen_ranking(
    conn: &mut PgConnection,
    contest_id: &str,
    nomination_id: &str,
) -> Result<Vec<Placed>, ApiError> {
    let rows = sqlx::query_as!(
        FrozenRow,
        r#"SELECT r.application_id, r.rank, r.score, r.completed_reviews, r.tie_break, r.winner,
                  a.title, a.team_id, a.region_code, a.submit_time AS "submit_time!"
           FROM competitions.results r
           JOIN competitions.applications a ON a.contest_id = r.contest_id AND a.id = r.application_id
           WHERE r.contest_id = $1 AND r.nomination_id = $2
           ORDER BY r.rank"#,
        contest_id,
        nomination_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut placed: Vec<Placed> = Vec::with_capacity(rows.len());
    for row in rows {
        let application = RankInput {
            application_id: row.application_id,
            score: row.score,
            completed_reviews: u32::try_from(row.completed_reviews)
                .map_err(|_| corrupt("completed reviews", &row.completed_reviews.to_string()))?,
            submit_time: row.submit_time.to_jiff(),
        };
        // The rule is a function of the neighbours, so the frozen places give it again.
        let rule = tie_break_rule(placed.last().map(|p| &p.ranked.application), &application);
        placed.push(Placed {
            ranked: Ranked {
                application,
                rank: u32::try_from(row.rank)
                    .map_err(|_| corrupt("rank", &row.rank.to_string()))?,
                tie_break: row.tie_break,
                rule,
            },
            title: row.title,
            team_id: row.team_id,
            region_code: row.region_code,
            winner: row.winner,
        });
    }
    Ok(placed)
}

/// A nomination's ranking: frozen once announced, live before.
async fn ranking_of(
    conn: &mut PgConnection,
    contest: &Contest,
    nomination_id: &str,
) -> Result<NominationRanking, ApiError> {
    let chosen = choice(conn, &contest.id, nomination_id).await?;
    let placed = if contest.state == ContestState::Announced {
        frozen_ranking(conn, &contest.id, nomination_id).await?
    } else {
        let mut placed = live_ranking(conn, &contest.id, nomination_id).await?;
        mark_winners(&mut placed, chosen.as_ref());
        placed
    };
    Ok(NominationRanking {
        nomination_id: nomination_id.into(),
        placed,
        departure_reason: chosen.map(|c| c.departure_reason).unwrap_or_default(),
    })
}

fn unknown_nomination(contest: &Contest, nomination_id: &str) -> ApiError {
    ApiError::from(CompetitionError::InvalidFields(vec![
        crate::domain::FieldError::new(
            "nomination_id",
            format!(
                "{} is not a nomination of contests/{}",
                edu_kit::error::quote(nomination_id),
                contest.id
            ),
        ),
    ]))
}

impl Store {
    /// The ranking of one nomination (rule 6).
    pub async fn ranking(
        &self,
        contest: &Contest,
        nomination_id: &str,
    ) -> Result<NominationRanking, ApiError> {
        if contest.nomination(nomination_id).is_none() {
            return Err(unknown_nomination(contest, nomination_id));
        }
        self.reads
            .run(async |conn| Ok(ranking_of(conn, contest, nomination_id).await?))
            .await
    }

    /// Every nomination's ranking, in the contest's order.
    pub async fn rankings(&self, contest: &Contest) -> Result<Vec<NominationRanking>, ApiError> {
        let mut conn = self.read().await?;
        let mut rankings = Vec::with_capacity(contest.spec.nominations.len());
        for nomination in &contest.spec.nominations {
            rankings.push(ranking_of(&mut conn, contest, &nomination.id).await?);
        }
        conn.finish();
        Ok(rankings)
    }

    /// The region summary (issue 17): per contest with SUBMITTED applications of `region`
    /// (ISO 3166-2, upper case), how many there are and how many of them the announced
    /// results name winners, the latest application deadline first.
    ///
    /// One statement, so its figures are one snapshot. An application's `region_code` is
    /// its team's, copied when drafted; neither changes, so it is the team's region. Drafts
    /// and withdrawn applications are left out (the rankings rank SUBMITTED ones only),
    /// which is what `applications_region` indexes. Winners come from the rankings frozen
    /// at the announcement, and only for ANNOUNCED contests: a choice of winners before it
    /// (`winner_choices`) is the organiser's working state, not a result.
    pub async fn region_summary(&self, region: &str) -> Result<Vec<RegionContest>, ApiError> {
        let mut conn = self.read().await?;
        let rows = sqlx::query!(
            r#"SELECT c.id, c.title, c.state,
                      count(*) AS "applications!",
                      count(*) FILTER (WHERE r.winner) AS "winners!"
               FROM competitions.applications a
               JOIN competitions.contests c ON c.id = a.contest_id
               LEFT JOIN competitions.results r
                      ON c.state = 'ANNOUNCED' AND r.contest_id = a.contest_id
                     AND r.nomination_id = a.nomination_id AND r.application_id = a.id
               WHERE a.region_code = $1 AND a.state = 'SUBMITTED'
               GROUP BY c.id
               ORDER BY c.application_deadline DESC, c.id DESC"#,
            region,
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        rows.into_iter()
            .map(|r| {
                Ok(RegionContest {
                    state: ContestState::parse(&r.state)
                        .ok_or_else(|| corrupt("contest state", &r.state))?,
                    id: r.id,
                    title: r.title,
                    applications: r.applications,
                    winners: r.winners,
                })
            })
            .collect()
    }

    /// Rule 7: records the winners of a nomination of a closed contest.
    pub async fn set_winners(
        &self,
        context: &CallContext,
        contest_id: &str,
        nomination_id: &str,
        application_ids: &[String],
        departure_reason: &str,
    ) -> Result<(Contest, NominationRanking), ApiError> {
        let mut tx = self.begin().await?;
        let contest = contests::fetch_locked(&mut tx, contest_id, Lock::Share).await?;
        if contest.nomination(nomination_id).is_none() {
            return Err(unknown_nomination(&contest, nomination_id));
        }
        contest.ensure_closed()?;
        let ranked = live_ranking(&mut tx, contest_id, nomination_id).await?;
        let ranks: Vec<Ranked> = ranked.iter().map(|p| p.ranked.clone()).collect();
        check_winners(&ranks, application_ids, departure_reason)?;
        let reason = if crate::domain::results::departs_from_ranking(&ranks, application_ids) {
            departure_reason.trim()
        } else {
            ""
        };
        sqlx::query!(
            "INSERT INTO competitions.winner_choices
                (contest_id, nomination_id, application_ids, departure_reason, update_time)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (contest_id, nomination_id) DO UPDATE
                SET application_ids = $3, departure_reason = $4, update_time = $5",
            contest_id,
            nomination_id,
            application_ids,
            reason,
            context.now().to_sqlx(),
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            context,
            "winners.chosen",
            &format!("{}/nominations/{nomination_id}", contests::name(contest_id)),
            json!({ "applications": application_ids, "departure_reason": reason }),
        )
        .await?;
        let ranking = ranking_of(&mut tx, &contest, nomination_id).await?;
        tx.commit().await?;
        Ok((contest, ranking))
    }

    /// Rule 7: announces the results of a closed contest in one transaction (see the module
    /// doc). A repeated or concurrent announcement returns the one that happened.
    pub async fn announce(
        &self,
        context: &CallContext,
        contest_id: &str,
        supplied_etag: &str,
    ) -> Result<Announcement, ApiError> {
        let mut tx = self.begin().await?;
        let current = contests::fetch_locked(&mut tx, contest_id, Lock::Update).await?;
        let mut contest = current.clone();
        if contest.announce(context.now())? == Transition::Unchanged {
            let practice_ids = sqlx::query_scalar!(
                "SELECT id FROM competitions.practices WHERE contest_id = $1 ORDER BY id",
                contest_id
            )
            .fetch_all(&mut *tx)
            .await?;
            return Ok(Announcement {
                late: contest.announced_late(),
                contest,
                practice_ids,
            });
        }
        etag::check(supplied_etag, current.version, &contests::name(contest_id))?;
        let year = i32::from(contest.spec.application_deadline.year());
        let mut practice_ids = Vec::new();
        for nomination in &contest.spec.nominations {
            let mut placed = live_ranking(&mut tx, contest_id, &nomination.id).await?;
            let chosen = choice(&mut tx, contest_id, &nomination.id).await?;
            if chosen.is_none() && !placed.is_empty() {
                return Err(CompetitionError::WinnersNotSet {
                    nomination_id: nomination.id.clone(),
                }
                .into());
            }
            mark_winners(&mut placed, chosen.as_ref());
            for p in &placed {
                freeze(&mut tx, contest_id, &nomination.id, p).await?;
                if p.winner {
                    practice_ids.push(
                        publish(&mut tx, &contest, &nomination.title, year, p, context.now())
                            .await?,
                    );
                }
            }
        }
        practice_ids.sort();
        contests::save(&mut tx, &contest).await?;
        let late = contest.announced_late();
        audit::record(
            &mut tx,
            context,
            "contest.announced",
            &contests::name(contest_id),
            json!({
                "state": { "from": current.state.as_str(), "to": contest.state.as_str() },
                "late": late,
                "practices": practice_ids,
            }),
        )
        .await?;
        events::record(
            &mut tx,
            EventKind::WinnersAnnounced,
            &contests::name(contest_id),
            contest_id,
            context.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(Announcement {
            contest,
            late,
            practice_ids,
        })
    }
}

/// Writes one place of the frozen ranking.
async fn freeze(
    conn: &mut PgConnection,
    contest_id: &str,
    nomination_id: &str,
    placed: &Placed,
) -> Result<(), ApiError> {
    let ranked = &placed.ranked;
    sqlx::query!(
        "INSERT INTO competitions.results
            (contest_id, nomination_id, application_id, rank, score, completed_reviews, tie_break, winner)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        contest_id,
        nomination_id,
        ranked.application.application_id,
        i32::try_from(ranked.rank).unwrap_or(i32::MAX),
        ranked.application.score,
        i32::try_from(ranked.application.completed_reviews).unwrap_or(i32::MAX),
        ranked.tie_break,
        placed.winner,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Rule 8: copies a winning application into the public catalogue; returns the entry's ID.
async fn publish(
    conn: &mut PgConnection,
    contest: &Contest,
    nomination_title: &str,
    year: i32,
    placed: &Placed,
    now: Timestamp,
) -> Result<String, ApiError> {
    let id = edu_kit::resource::new_id();
    sqlx::query!(
        "INSERT INTO competitions.practices
            (id, contest_id, application_id, title, summary, description, nomination_id,
             nomination_title, region_code, team_display_name, year, publish_time)
         SELECT $1, a.contest_id, a.id, a.title, a.summary, a.description, a.nomination_id,
                $4, a.region_code, t.display_name, $5, $6
         FROM competitions.applications a JOIN competitions.teams t ON t.id = a.team_id
         WHERE a.contest_id = $2 AND a.id = $3",
        id,
        contest.id,
        placed.ranked.application.application_id,
        nomination_title,
        year,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
