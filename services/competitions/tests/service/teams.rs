//! Rule 3's teams: registered within the caller's tenant, managed by their leads, invisible
//! to outsiders.

use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::team_service_server::TeamService;
use tonic::Code;

use crate::common::*;

fn new_team(
    level: pb::TeamLevel,
    region: &str,
    municipality: (&str, &str),
) -> pb::CreateTeamRequest {
    pb::CreateTeamRequest {
        team: Some(pb::Team {
            display_name: "Команда".into(),
            level: level as i32,
            region_code: region.into(),
            municipality_code: municipality.0.into(),
            municipality_name: municipality.1.into(),
            ..Default::default()
        }),
        team_id: String::new(),
        request_id: String::new(),
    }
}

#[tokio::test]
async fn a_team_is_registered_within_the_callers_scopes() {
    let fx = Fixture::new().await;
    let altai = team_person("altai", "RU-ALT");
    let team = fx
        .teams
        .create_team(request(
            &altai,
            at(BEFORE),
            new_team(pb::TeamLevel::Regional, "RU-ALT", ("", "")),
        ))
        .await
        .expect("own region")
        .into_inner();
    assert_eq!(team.member_count, 1, "the caller is its first member");
    let elsewhere = fx
        .teams
        .create_team(request(
            &altai,
            at(BEFORE),
            new_team(pb::TeamLevel::Regional, "RU-SAR", ("", "")),
        ))
        .await;
    assert_refused(elsewhere, Code::PermissionDenied, "SCOPE_REQUIRED");

    let municipal = caller(
        "mikhailovsky",
        &["competitions.team"],
        &["municipality:RU-ALT/01627000"],
    );
    fx.teams
        .create_team(request(
            &municipal,
            at(BEFORE),
            new_team(
                pb::TeamLevel::Municipal,
                "RU-ALT",
                ("01627000", "Михайловский район"),
            ),
        ))
        .await
        .expect("own municipality");
    let regional_from_municipality = fx
        .teams
        .create_team(request(
            &municipal,
            at(BEFORE),
            new_team(pb::TeamLevel::Regional, "RU-ALT", ("", "")),
        ))
        .await;
    assert_refused(
        regional_from_municipality,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
}

#[tokio::test]
async fn a_malformed_team_names_its_fields() {
    let fx = Fixture::new().await;
    let status = fx
        .teams
        .create_team(request(
            &team_person("a", "RU-ALT"),
            at(BEFORE),
            new_team(pb::TeamLevel::Unspecified, "Altai", ("", "")),
        ))
        .await
        .expect_err("malformed");
    assert_eq!(bad_fields(&status), ["team.region_code", "team.level"]);
}

#[tokio::test]
async fn leads_manage_members_and_the_last_lead_stays() {
    let fx = Fixture::new().await;
    let lead = team_person("lead", "RU-ALT");
    let team = regional_team(&fx, &lead, "altai", "RU-ALT").await;
    let add = |who: &edu_kit::auth::Caller, subject: &str| {
        fx.teams.create_team_member(request(
            who,
            at(BEFORE),
            pb::CreateTeamMemberRequest {
                parent: team.clone(),
                member: Some(pb::TeamMember {
                    subject: subject.into(),
                    display_name: "Иванова Мария".into(),
                    position: "методист".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
    };
    let member = add(&lead, "member").await.expect("added").into_inner();
    assert_eq!(member.role, pb::TeamMemberRole::Member as i32);
    assert_refused(
        add(&lead, "member").await,
        Code::AlreadyExists,
        "ALREADY_EXISTS",
    );

    let member_caller = team_person("member", "RU-ALT");
    assert_refused(
        add(&member_caller, "third").await,
        Code::PermissionDenied,
        "TEAM_LEAD_REQUIRED",
    );

    let members = fx
        .teams
        .list_team_members(request(
            &member_caller,
            at(BEFORE),
            pb::ListTeamMembersRequest {
                parent: team.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("members read their team")
        .into_inner();
    assert_eq!(members.members.len(), 2);
    let lead_member = members
        .members
        .iter()
        .find(|m| m.role == pb::TeamMemberRole::Lead as i32)
        .expect("a lead")
        .name
        .clone();
    let leave = fx
        .teams
        .delete_team_member(request(
            &lead,
            at(BEFORE),
            pb::DeleteTeamMemberRequest { name: lead_member },
        ))
        .await;
    assert_refused(leave, Code::FailedPrecondition, "LAST_TEAM_LEAD");
    fx.teams
        .delete_team_member(request(
            &lead,
            at(BEFORE),
            pb::DeleteTeamMemberRequest { name: member.name },
        ))
        .await
        .expect("a member may be removed");
}

#[tokio::test]
async fn outsiders_do_not_see_a_team_and_organisers_see_all() {
    let fx = Fixture::new().await;
    let lead = team_person("lead", "RU-ALT");
    let team = regional_team(&fx, &lead, "altai", "RU-ALT").await;
    regional_team(&fx, &team_person("other", "RU-SAR"), "saratov", "RU-SAR").await;
    let outsider = team_person("outsider", "RU-ALT");
    let get = fx
        .teams
        .get_team(request(
            &outsider,
            at(BEFORE),
            pb::GetTeamRequest { name: team.clone() },
        ))
        .await;
    assert_refused(get, Code::NotFound, "NOT_FOUND");
    let own = fx
        .teams
        .list_teams(request(&lead, at(BEFORE), pb::ListTeamsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        own.teams
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        [team.as_str()]
    );
    let all = fx
        .teams
        .list_teams(request(
            &organiser(),
            at(BEFORE),
            pb::ListTeamsRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.teams.len(), 2);
    let saratov = fx
        .teams
        .list_teams(request(
            &organiser(),
            at(BEFORE),
            pb::ListTeamsRequest {
                region_code: "RU-SAR".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(saratov.teams.len(), 1);
}
