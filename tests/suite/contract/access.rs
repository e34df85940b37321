//! Every method as every kind of stranger (issue 12, item 10; issue 11, defects 7 and 9): no
//! token, a bad token, a token of another service's role, and tokens of the service's roles
//! for other tenants. For each resource a request names, an existing object that the
//! stranger may not see and a missing one must be answered alike (code and reason), so that
//! an answer never tells a stranger what exists; and no list shows a stranger a private
//! object.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use edu_kit::auth::dev::DevToken;
use futures::StreamExt;
use prost_reflect::{DynamicMessage, Kind, MethodDescriptor};
use tonic::Code;

use super::*;
use crate::harness::{TestSuite, authorised};

/// The demo's objects, by resource type, and the tokens of the demo's people.
pub struct World {
    /// Every object, by type.
    existing: BTreeMap<String, Vec<String>>,
    /// The objects a stranger may not see, by type (public and shared types have none).
    private: BTreeMap<String, Vec<String>>,
}

/// Object names by type, read from the services' schemas; `private` marks the objects only
/// their tenant sees (a type missing from the private list is public or shared with every
/// signed-in caller: periods, providers, replications, practices). A new resource type
/// needs a line here, or the test says so.
const SOURCES: [(&str, &str, bool); 75] = [
    (
        "competitions.edu/Contest",
        "SELECT 'contests/' || id FROM competitions.contests",
        false,
    ),
    (
        "competitions.edu/Contest",
        "SELECT 'contests/' || id FROM competitions.contests WHERE state = 'DRAFT'",
        true,
    ),
    (
        "competitions.edu/Team",
        "SELECT 'teams/' || id FROM competitions.teams",
        true,
    ),
    (
        "competitions.edu/TeamMember",
        "SELECT 'teams/' || team_id || '/members/' || id FROM competitions.team_members",
        true,
    ),
    (
        "competitions.edu/Application",
        "SELECT 'contests/' || a.contest_id || '/applications/' || a.id FROM competitions.applications a",
        false,
    ),
    (
        "competitions.edu/Application",
        "SELECT 'contests/' || a.contest_id || '/applications/' || a.id FROM competitions.applications a JOIN competitions.contests c ON c.id = a.contest_id WHERE c.state <> 'ANNOUNCED'",
        true,
    ),
    (
        "competitions.edu/Expert",
        "SELECT 'contests/' || contest_id || '/experts/' || id FROM competitions.experts",
        true,
    ),
    (
        "competitions.edu/Review",
        "SELECT 'contests/' || contest_id || '/applications/' || application_id || '/reviews/' || id FROM competitions.reviews",
        true,
    ),
    (
        "competitions.edu/Practice",
        "SELECT 'practices/' || id FROM competitions.practices",
        false,
    ),
    // Replications are seen by every signed-in caller (their contact only by their region).
    (
        "competitions.edu/Replication",
        "SELECT 'practices/' || practice_id || '/replications/' || id FROM competitions.replications",
        false,
    ),
    (
        "competitions.edu/Invitation",
        "SELECT 'contests/' || contest_id || '/invitations/' || id FROM competitions.invitations",
        true,
    ),
    (
        "certificates.edu/Period",
        "SELECT 'periods/' || id FROM certificates.periods",
        false,
    ),
    (
        "certificates.edu/Child",
        "SELECT 'children/' || id FROM certificates.children",
        true,
    ),
    (
        "certificates.edu/Certificate",
        "SELECT 'certificates/' || id FROM certificates.certificates",
        true,
    ),
    (
        "certificates.edu/Provider",
        "SELECT 'providers/' || id FROM certificates.providers",
        false,
    ),
    (
        "certificates.edu/Programme",
        "SELECT 'providers/' || provider_id || '/programmes/' || id FROM certificates.programmes",
        false,
    ),
    (
        "certificates.edu/Programme",
        "SELECT 'providers/' || provider_id || '/programmes/' || id FROM certificates.programmes WHERE NOT certified",
        true,
    ),
    (
        "certificates.edu/Enrolment",
        "SELECT 'enrolments/' || id FROM certificates.enrolments",
        true,
    ),
    (
        "gateway.edu/Backend",
        "SELECT 'backends/competitions'",
        true,
    ),
    (
        "gateway.edu/Backend",
        "SELECT 'backends/certificates'",
        false,
    ),
    // The same rows once more as "existing", for the types whose private rows are all rows.
    (
        "competitions.edu/Team",
        "SELECT 'teams/' || id FROM competitions.teams",
        false,
    ),
    (
        "certificates.edu/Enrolment",
        "SELECT 'enrolments/' || id FROM certificates.enrolments",
        false,
    ),
    (
        "partnerships.edu/ProgrammeYear",
        "SELECT 'years/' || id FROM partnerships.years",
        false,
    ),
    (
        "partnerships.edu/School",
        "SELECT 'schools/' || id FROM partnerships.schools",
        false,
    ),
    (
        "partnerships.edu/Innovation",
        "SELECT 'schools/' || school_id || '/innovations/' || id FROM partnerships.innovations",
        false,
    ),
    // Applications, interests, contracts, groups, mobilities and forums are their schools',
    // their regional offices' and the ministry's.
    (
        "partnerships.edu/Application",
        "SELECT 'years/' || year_id || '/applications/' || id FROM partnerships.applications",
        true,
    ),
    (
        "partnerships.edu/Interest",
        "SELECT 'years/' || year_id || '/interests/' || id FROM partnerships.interests",
        true,
    ),
    (
        "partnerships.edu/Contract",
        "SELECT 'years/' || year_id || '/contracts/' || id FROM partnerships.contracts",
        true,
    ),
    (
        "partnerships.edu/Group",
        "SELECT 'years/' || year_id || '/groups/' || id FROM partnerships.groups",
        true,
    ),
    (
        "partnerships.edu/Mobility",
        "SELECT 'years/' || year_id || '/groups/' || group_id || '/mobilities/' || id FROM partnerships.mobilities",
        true,
    ),
    (
        "partnerships.edu/Forum",
        "SELECT 'regions/' || region_code || '/forums/' || id FROM partnerships.forums",
        true,
    ),
    (
        "aid.edu/Campaign",
        "SELECT 'campaigns/' || id FROM aid.campaigns",
        false,
    ),
    (
        "aid.edu/Headquarters",
        "SELECT 'campaigns/' || campaign_id || '/headquarters/' || id FROM aid.headquarters",
        false,
    ),
    (
        "aid.edu/Activity",
        "SELECT 'campaigns/' || campaign_id || '/headquarters/' || headquarters_id || '/activities/' || id FROM aid.activities",
        false,
    ),
    // Schools, children and what concerns them are their staff's and their region's;
    // donations and allocations their donor's and their region's; appeals their region's.
    (
        "aid.edu/School",
        "SELECT 'schools/' || id FROM aid.schools",
        true,
    ),
    (
        "aid.edu/Child",
        "SELECT 'campaigns/' || campaign_id || '/children/' || id FROM aid.children",
        true,
    ),
    (
        "aid.edu/ProbableDuplicate",
        "SELECT 'campaigns/' || campaign_id || '/probableDuplicates/' || id FROM aid.probable_duplicates",
        true,
    ),
    (
        "aid.edu/Need",
        "SELECT 'campaigns/' || campaign_id || '/children/' || child_id || '/needs/' || id FROM aid.needs",
        true,
    ),
    (
        "aid.edu/HelpDelivery",
        "SELECT 'campaigns/' || h.campaign_id || '/children/' || n.child_id || '/needs/' || h.need_id || '/helpDeliveries/' || h.id FROM aid.help_deliveries h JOIN aid.needs n ON n.id = h.need_id",
        true,
    ),
    (
        "aid.edu/Donation",
        "SELECT 'campaigns/' || campaign_id || '/donations/' || id FROM aid.donations",
        true,
    ),
    (
        "aid.edu/Allocation",
        "SELECT 'campaigns/' || campaign_id || '/donations/' || donation_id || '/allocations/' || id FROM aid.allocations",
        true,
    ),
    // Price observations are read by every region's staff and operators and the coordinator.
    (
        "aid.edu/PriceObservation",
        "SELECT 'campaigns/' || campaign_id || '/priceObservations/' || id FROM aid.price_observations",
        false,
    ),
    (
        "aid.edu/ChildImport",
        "SELECT 'campaigns/' || campaign_id || '/childImports/' || id FROM aid.child_imports",
        true,
    ),
    (
        "aid.edu/AttendanceCheck",
        "SELECT 'campaigns/' || a.campaign_id || '/children/' || a.child_id || '/attendanceChecks/' || a.id FROM aid.attendance_checks a",
        true,
    ),
    (
        "aid.edu/Appeal",
        "SELECT 'campaigns/' || campaign_id || '/appeals/' || id FROM aid.appeals",
        true,
    ),
    // Mentoring: everything belongs to one institution (practices and figures are read by
    // its region's centre too), so every row is private, and existing as well.
    (
        "mentoring.edu/Institution",
        "SELECT 'institutions/' || id FROM mentoring.institutions",
        true,
    ),
    (
        "mentoring.edu/RoadMapStage",
        "SELECT 'institutions/' || institution_id || '/roadMapStages/' || lower(replace(kind, '_', '-')) FROM mentoring.road_map_stages",
        true,
    ),
    (
        "mentoring.edu/Participant",
        "SELECT 'institutions/' || institution_id || '/participants/' || id FROM mentoring.participants",
        true,
    ),
    (
        "mentoring.edu/Consent",
        "SELECT 'institutions/' || institution_id || '/participants/' || participant_id || '/consents/' || id FROM mentoring.consents",
        true,
    ),
    (
        "mentoring.edu/Pair",
        "SELECT 'institutions/' || institution_id || '/pairs/' || id FROM mentoring.pairs",
        true,
    ),
    (
        "mentoring.edu/Agreement",
        "SELECT 'institutions/' || institution_id || '/pairs/' || pair_id || '/agreements/' || id FROM mentoring.agreements",
        true,
    ),
    (
        "mentoring.edu/PlanActivity",
        "SELECT 'institutions/' || institution_id || '/pairs/' || pair_id || '/planActivities/' || id FROM mentoring.plan_activities",
        true,
    ),
    (
        "mentoring.edu/Meeting",
        "SELECT 'institutions/' || institution_id || '/pairs/' || pair_id || '/meetings/' || id FROM mentoring.meetings",
        true,
    ),
    (
        "mentoring.edu/ReplacementPetition",
        "SELECT 'institutions/' || institution_id || '/pairs/' || pair_id || '/replacementPetitions/' || id FROM mentoring.replacement_petitions",
        true,
    ),
    (
        "mentoring.edu/MonitoringRound",
        "SELECT 'institutions/' || institution_id || '/monitoringRounds/' || id FROM mentoring.monitoring_rounds",
        true,
    ),
    (
        "mentoring.edu/Questionnaire",
        "SELECT 'institutions/' || institution_id || '/monitoringRounds/' || round_id || '/questionnaires/' || id FROM mentoring.questionnaires",
        true,
    ),
    (
        "mentoring.edu/PairResult",
        "SELECT 'institutions/' || institution_id || '/monitoringRounds/' || round_id || '/pairResults/' || id FROM mentoring.pair_results",
        true,
    ),
    (
        "mentoring.edu/YearlyReport",
        "SELECT 'institutions/' || id || '/yearlyReports/' || extract(year FROM now())::int FROM mentoring.institutions",
        true,
    ),
    (
        "mentoring.edu/Practice",
        "SELECT 'institutions/' || institution_id || '/practices/' || id FROM mentoring.practices",
        true,
    ),
    (
        "mentoring.edu/Publication",
        "SELECT 'institutions/' || institution_id || '/publications/' || id FROM mentoring.publications",
        true,
    ),
    (
        "mentoring.edu/Institution",
        "SELECT 'institutions/' || id FROM mentoring.institutions",
        false,
    ),
    (
        "mentoring.edu/RoadMapStage",
        "SELECT 'institutions/' || institution_id || '/roadMapStages/' || lower(replace(kind, '_', '-')) FROM mentoring.road_map_stages",
        false,
    ),
    (
        "mentoring.edu/Participant",
        "SELECT 'institutions/' || institution_id || '/participants/' || id FROM mentoring.participants",
        false,
    ),
    (
        "mentoring.edu/Consent",
        "SELECT 'institutions/' || institution_id || '/participants/' || participant_id || '/consents/' || id FROM mentoring.consents",
        false,
    ),
    (
        "mentoring.edu/Pair",
        "SELECT 'institutions/' || institution_id || '/pairs/' || id FROM mentoring.pairs",
        false,
    ),
    (
        "mentoring.edu/Agreement",
        "SELECT 'institutions/' || institution_id || '/pairs/' || pair_id || '/agreements/' || id FROM mentoring.agreements",
        false,
    ),
    (
        "mentoring.edu/PlanActivity",
        "SELECT 'institutions/' || institution_id || '/pairs/' || pair_id || '/planActivities/' || id FROM mentoring.plan_activities",
        false,
    ),
    (
        "mentoring.edu/Meeting",
        "SELECT 'institutions/' || institution_id || '/pairs/' || pair_id || '/meetings/' || id FROM mentoring.meetings",
        false,
    ),
    (
        "mentoring.edu/ReplacementPetition",
        "SELECT 'institutions/' || institution_id || '/pairs/' || pair_id || '/replacementPetitions/' || id FROM mentoring.replacement_petitions",
        false,
    ),
    (
        "mentoring.edu/MonitoringRound",
        "SELECT 'institutions/' || institution_id || '/monitoringRounds/' || id FROM mentoring.monitoring_rounds",
        false,
    ),
    (
        "mentoring.edu/Questionnaire",
        "SELECT 'institutions/' || institution_id || '/monitoringRounds/' || round_id || '/questionnaires/' || id FROM mentoring.questionnaires",
        false,
    ),
    (
        "mentoring.edu/PairResult",
        "SELECT 'institutions/' || institution_id || '/monitoringRounds/' || round_id || '/pairResults/' || id FROM mentoring.pair_results",
        false,
    ),
    (
        "mentoring.edu/YearlyReport",
        "SELECT 'institutions/' || id || '/yearlyReports/' || extract(year FROM now())::int FROM mentoring.institutions",
        false,
    ),
    (
        "mentoring.edu/Practice",
        "SELECT 'institutions/' || institution_id || '/practices/' || id FROM mentoring.practices",
        false,
    ),
    (
        "mentoring.edu/Publication",
        "SELECT 'institutions/' || institution_id || '/publications/' || id FROM mentoring.publications",
        false,
    ),
];

fn organiser() -> String {
    DevToken::new("contract-organiser")
        .role("competitions.organiser")
        .sign()
}

fn altai_lead() -> String {
    DevToken::new("contract-altai-lead")
        .role("competitions.team")
        .scope("region:RU-ALT")
        .sign()
}

impl World {
    /// Starts from the demo programmes, adds the private objects the demo has not (a draft
    /// contest, a team with a draft application, an uncertified programme), and reads every
    /// object's name.
    pub async fn load(suite: &TestSuite) -> World {
        use edu_proto::edu::certificates::v1 as cert;
        use edu_proto::edu::competitions::v1 as comp;
        let channel = suite.gateway().await;
        let now = jiff::Timestamp::now();
        edu_competitions::demo::announced::load(channel.clone(), &organiser(), now)
            .await
            .expect("the announced contest");
        let open = edu_competitions::demo::load(channel.clone(), &organiser(), now)
            .await
            .expect("the open contest");
        edu_certificates::demo::load(channel.clone())
            .await
            .expect("the certificates demo");
        edu_partnerships::demo::load(channel.clone())
            .await
            .expect("the partnerships demo");
        edu_aid::demo::load(channel.clone())
            .await
            .expect("the aid demo");
        edu_mentoring::demo::load(channel.clone())
            .await
            .expect("the mentoring demo");

        let mut contests = comp::contest_service_client::ContestServiceClient::new(channel.clone());
        contests
            .create_contest(authorised(
                &organiser(),
                comp::CreateContestRequest {
                    contest: Some(edu_competitions::demo::contest(2031)),
                    contest_id: "contract-draft".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("a draft contest");
        let team = comp::team_service_client::TeamServiceClient::new(channel.clone())
            .create_team(authorised(
                &altai_lead(),
                comp::CreateTeamRequest {
                    team: Some(comp::Team {
                        display_name: "Команда проверки контрактов".into(),
                        level: comp::TeamLevel::Regional as i32,
                        region_code: "RU-ALT".into(),
                        ..Default::default()
                    }),
                    team_id: "contract-altai".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("a team")
            .into_inner();
        comp::application_service_client::ApplicationServiceClient::new(channel.clone())
            .create_application(authorised(
                &altai_lead(),
                comp::CreateApplicationRequest {
                    parent: open.name.clone(),
                    application: Some(comp::Application {
                        team: team.name,
                        nomination_id: edu_competitions::demo::NOMINATIONS[0].0.into(),
                        title: "Черновик заявки".into(),
                        ..Default::default()
                    }),
                    application_id: "contract-draft".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("a draft application");
        let provider = DevToken::new("contract-ddt")
            .role("certificates.provider")
            .scope("provider:demo-ddt")
            .sign();
        cert::programme_service_client::ProgrammeServiceClient::new(channel.clone())
            .create_programme(authorised(
                &provider,
                cert::CreateProgrammeRequest {
                    parent: "providers/demo-ddt".into(),
                    programme: Some(cert::Programme {
                        title: "Не сертифицирована".into(),
                        direction: cert::Direction::Technical as i32,
                        min_age: 7,
                        max_age: 14,
                        seats: 10,
                        monthly_price_kopecks: 10_000,
                        ..Default::default()
                    }),
                    programme_id: "contract-uncertified".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("an uncertified programme");

        let pool = suite.database().await;
        let (contest_id, application_id): (String, String) = sqlx::query_as(
            "SELECT contest_id, application_id FROM competitions.results WHERE winner LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .expect("a winner of the announced contest");
        comp::follow_up_service_client::FollowUpServiceClient::new(channel.clone())
            .create_invitation(authorised(
                &organiser(),
                comp::CreateInvitationRequest {
                    parent: format!("contests/{contest_id}"),
                    invitation: Some(comp::Invitation {
                        application: format!("contests/{contest_id}/applications/{application_id}"),
                        kind: comp::FollowUpKind::PresentationSession as i32,
                        title: "Сессия презентаций".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("an invitation");
        let mut existing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut private: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (kind, sql, is_private) in SOURCES {
            let names: Vec<String> = sqlx::query_scalar(sql)
                .fetch_all(&pool)
                .await
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            let target = if is_private {
                &mut private
            } else {
                &mut existing
            };
            target.entry(kind.to_string()).or_default().extend(names);
        }
        pool.close().await;
        for (kind, names) in &private {
            assert!(!names.is_empty(), "the world has no private {kind}");
        }
        World { existing, private }
    }

    /// A token with every role of the suite, for the demo's tenants: what gets a hostile
    /// value past authentication to the checks it is meant for.
    pub fn everyone(&self) -> String {
        let mut token = DevToken::new("contract-everyone");
        for role in [
            "competitions.organiser",
            "competitions.team",
            "competitions.expert",
            "competitions.event_consumer",
            "certificates.operator",
            "certificates.provider",
            "certificates.parent",
            "partnerships.ministry",
            "partnerships.event_consumer",
            "aid.national_coordinator",
            "aid.regional_staff",
            "aid.school_staff",
            "aid.operator",
            "aid.donor",
            "aid.event_consumer",
            "mentoring.director",
            "mentoring.regional_centre",
            "mentoring.event_consumer",
            "gateway.operator",
        ] {
            token = token.role(role);
        }
        for scope in [
            "region:RU-ALT",
            "municipality:RU-ALT/mikhailovsky",
            "provider:demo-ddt",
            "region:KZ-75",
            "school:demo-almaty-12",
            "institution:mechta-saratov",
            "region:RU-SAR",
        ] {
            token = token.scope(scope);
        }
        token.sign()
    }

    /// An existing object of `kind` (its parent when `parent`).
    pub fn any_name(&self, kind: &str, parent: bool) -> Option<String> {
        let name = self
            .existing
            .get(kind)
            .and_then(|names| names.first())
            .or_else(|| self.private.get(kind).and_then(|names| names.first()))?;
        Some(if parent {
            parent_of(name)
        } else {
            name.clone()
        })
    }

    /// Every private name, of every type.
    fn private_names(&self) -> BTreeSet<String> {
        self.private.values().flatten().cloned().collect()
    }
}

/// Someone who may not see the demo's private objects.
struct Stranger {
    who: &'static str,
    token: Option<String>,
}

fn strangers(method: &MethodDescriptor) -> Vec<Stranger> {
    let package = method.parent_service().package_name().to_string();
    let mut out = vec![
        Stranger {
            who: "no token",
            token: None,
        },
        Stranger {
            who: "a token of another issuer",
            token: Some(
                DevToken::new("forger")
                    .issuer("https://issuer.example")
                    .role("competitions.organiser")
                    .role("certificates.operator")
                    .role("gateway.operator")
                    .sign(),
            ),
        },
        Stranger {
            who: "a role of another service",
            token: Some(
                DevToken::new("outsider")
                    .role(if package.starts_with("edu.certificates") {
                        "competitions.expert"
                    } else {
                        "certificates.parent"
                    })
                    .sign(),
            ),
        },
    ];
    let tenant = |who: &'static str, role: &str, scope: Option<&str>| {
        let mut token = DevToken::new(format!("stranger-{who}")).role(role);
        if let Some(scope) = scope {
            token = token.scope(scope);
        }
        Stranger {
            who,
            token: Some(token.sign()),
        }
    };
    if package.starts_with("edu.certificates") {
        out.push(tenant(
            "another municipality's operator",
            "certificates.operator",
            Some("municipality:RU-ALT/rubtsovsk"),
        ));
        out.push(tenant(
            "another provider",
            "certificates.provider",
            Some("provider:another-provider"),
        ));
        out.push(tenant("another parent", "certificates.parent", None));
    } else if package.starts_with("edu.aid") {
        out.push(tenant(
            "another region's staff",
            "aid.regional_staff",
            Some("region:KZ-79"),
        ));
        out.push(tenant(
            "another school's staff",
            "aid.school_staff",
            Some("school:another-school"),
        ));
        out.push(tenant("another donor", "aid.donor", None));
    } else if package.starts_with("edu.mentoring") {
        out.push(tenant(
            "another institution's director",
            "mentoring.director",
            Some("institution:another-institution"),
        ));
        out.push(tenant(
            "another institution's curator",
            "mentoring.curator",
            Some("institution:another-institution"),
        ));
        out.push(tenant(
            "another region's centre",
            "mentoring.regional_centre",
            Some("region:RU-MOW"),
        ));
        out.push(tenant(
            "a participant signed in nowhere",
            "mentoring.participant",
            Some("institution:mechta-saratov"),
        ));
        out.push(tenant(
            "a guardian of nobody",
            "mentoring.guardian",
            Some("institution:mechta-saratov"),
        ));
    } else if package.starts_with("edu.partnerships") {
        out.push(tenant(
            "another region's office",
            "partnerships.regional_office",
            Some("region:BG-28"),
        ));
        out.push(tenant(
            "another school",
            "partnerships.school",
            Some("school:another-school"),
        ));
    } else if package.starts_with("edu.competitions") {
        out.push(tenant(
            "a team of another region",
            "competitions.team",
            Some("region:RU-MOW"),
        ));
        out.push(tenant("an expert of nothing", "competitions.expert", None));
    }
    out
}

/// The request fields that name a resource, one level of nesting deep, with the type.
fn referring_fields(
    method: &MethodDescriptor,
    annotations: &Annotations,
) -> Vec<(Vec<String>, String, bool)> {
    let mut out = Vec::new();
    for field in method.input().fields() {
        if annotations.output_only(&field) {
            continue;
        }
        match field.kind() {
            Kind::String if !field.is_list() => {
                if let Some((kind, parent)) = annotations.reference(&field) {
                    out.push((vec![field.name().to_string()], kind, parent));
                }
            }
            Kind::Message(inner) if !field.is_list() && !field.is_map() => {
                for nested in inner.fields() {
                    if matches!(nested.kind(), Kind::String)
                        && !nested.is_list()
                        && !annotations.output_only(&nested)
                        && let Some((kind, parent)) = annotations.reference(&nested)
                    {
                        out.push((
                            vec![field.name().to_string(), nested.name().to_string()],
                            kind,
                            parent,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn with_name(base: &DynamicMessage, path: &[String], name: &str) -> DynamicMessage {
    let mut message = base.clone();
    match path {
        [field] => message.set_field_by_name(field, prost_reflect::Value::String(name.into())),
        [outer, inner] => {
            if let Some(prost_reflect::Value::Message(nested)) =
                message.get_field_by_name_mut(outer)
            {
                nested.set_field_by_name(inner, prost_reflect::Value::String(name.into()));
            }
        }
        _ => {}
    }
    message
}

/// One call of the matrix.
struct Probe {
    label: String,
    path: String,
    token: Option<String>,
    existing: Bytes,
    missing: Bytes,
}

#[tokio::test]
async fn strangers_learn_nothing_of_objects_they_may_not_see_in_any_method() {
    let suite = TestSuite::start().await;
    let world = World::load(&suite).await;
    let pool = pool();
    let annotations = Annotations::of(&pool);
    let methods = methods(&pool);
    let patterns: BTreeMap<String, String> = annotations.patterns(&pool).into_iter().collect();
    for kind in patterns.keys() {
        assert!(
            SOURCES.iter().any(|(source, _, _)| source == kind),
            "{kind} is a resource of the contracts without a line in SOURCES: say where its \
             objects are and whether strangers may see them"
        );
    }
    let names = |kind: &str, parent: bool| world.any_name(kind, parent);
    let channel = suite.gateway().await;

    let mut probes = Vec::new();
    let mut unauthenticated = Vec::new();
    let mut lists = Vec::new();
    for method in &methods {
        let base = plausible(&method.input(), &annotations, &names, 0);
        let fields = referring_fields(method, &annotations);
        for stranger in strangers(method) {
            for (field, kind, parent) in &fields {
                let Some(private) = world.private.get(kind).and_then(|n| n.first()) else {
                    continue;
                };
                let pattern = patterns
                    .get(kind)
                    .unwrap_or_else(|| panic!("{kind} has no pattern"));
                let (existing, missing) = if *parent {
                    (parent_of(private), parent_of(&missing_name(pattern)))
                } else {
                    (private.clone(), missing_name(pattern))
                };
                probes.push(Probe {
                    label: format!(
                        "{} as {} with {}",
                        path(method),
                        stranger.who,
                        field.join(".")
                    ),
                    path: path(method),
                    token: stranger.token.clone(),
                    existing: frame(&encode(&with_name(&base, field, &existing))),
                    missing: frame(&encode(&with_name(&base, field, &missing))),
                });
            }
            if stranger.token.is_none() || stranger.who == "a token of another issuer" {
                unauthenticated.push((method.clone(), stranger.who, stranger.token.clone()));
            }
            if !is_public(method)
                && stranger.token.is_some()
                && stranger.who != "a token of another issuer"
            {
                lists.push((method.clone(), stranger.who, stranger.token.clone()));
            }
        }
    }

    // Existing-but-foreign and missing are answered alike.
    let compared = probes.len();
    let beyond_validation = std::sync::atomic::AtomicUsize::new(0);
    let distinguishable: Vec<String> = futures::stream::iter(probes)
        .map(|probe| {
            let channel = &channel;
            let beyond_validation = &beyond_validation;
            async move {
                let deadline = Duration::from_secs(3);
                let token = probe.token.as_deref();
                let existing =
                    call_raw(channel, &probe.path, token, probe.existing, deadline).await;
                let missing = call_raw(channel, &probe.path, token, probe.missing, deadline).await;
                if existing.code != Code::InvalidArgument {
                    beyond_validation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                (existing.outcome() != missing.outcome()).then(|| {
                    format!(
                        "{}: existing {:?} {} ({}) but missing {:?} {}",
                        probe.label,
                        existing.code,
                        existing.reason,
                        existing.message,
                        missing.code,
                        missing.reason
                    )
                })
            }
        })
        .buffer_unordered(16)
        .filter_map(|f| async move { f })
        .collect()
        .await;

    // Without a valid token, nothing but the public catalogue answers.
    let mut wrongly_authenticated = Vec::new();
    for (method, who, token) in &unauthenticated {
        let body = frame(&encode(&plausible(
            &method.input(),
            &annotations,
            &names,
            0,
        )));
        let answer = call_raw(
            &channel,
            &path(method),
            token.as_deref(),
            body,
            Duration::from_secs(3),
        )
        .await;
        let expected = match (token, is_public(method)) {
            (Some(_), _) => Some("TOKEN_INVALID"),
            (None, false) => Some("TOKEN_MISSING"),
            (None, true) => None,
        };
        if let Some(reason) = expected
            && answer.outcome() != (Code::Unauthenticated, reason.to_string())
        {
            wrongly_authenticated.push(format!(
                "{} with {who}: {:?} {}",
                path(method),
                answer.code,
                answer.reason
            ));
        }
    }

    // No answer to a stranger carries a private object.
    let private = world.private_names();
    let mut leaks = Vec::new();
    for (method, who, token) in &lists {
        let body = frame(&encode(&plausible(
            &method.input(),
            &annotations,
            &names,
            0,
        )));
        let answer = call_raw(
            &channel,
            &path(method),
            token.as_deref(),
            body,
            Duration::from_secs(2),
        )
        .await;
        for message in &answer.messages {
            let decoded = DynamicMessage::decode(method.output(), message.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", path(method)));
            for name in names_in(&decoded, &annotations) {
                if private.contains(&name) {
                    leaks.push(format!("{} showed {who} {name}", path(method)));
                }
            }
        }
    }

    println!(
        "contract: {} methods; {compared} existing-or-missing comparisons by strangers, {} past field validation; {} unauthenticated calls; {} answers searched for private objects",
        methods.len(),
        beyond_validation.load(std::sync::atomic::Ordering::Relaxed),
        unauthenticated.len(),
        lists.len()
    );
    let mut failures = distinguishable;
    failures.extend(wrongly_authenticated);
    failures.extend(leaks);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    suite.stop().await;
}
