//! One child's records across campaigns (GetChildRecords), aid's part of a child's
//! cross-programme view: found by IIN, or by normalised name and birth date (flagged so);
//! a merged record shown as the record it was merged into, a removed one never; the
//! child's school and region only, everyone else refused by role before any lookup or told
//! NOT_FOUND exactly as for a child listed nowhere; a stated purpose required; and one
//! `child.read` per record shown, with the purpose and the method.

use edu_aid::api::{CampaignsApi, ChildrenApi, NeedsApi};
use edu_kit::CallContext;
use edu_kit::auth::Caller;
use edu_kit::testing::{assert_refused, bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::campaign_service_server::CampaignService;
use edu_proto::edu::aid::v1::child_service_server::ChildService;
use edu_proto::edu::aid::v1::need_service_server::NeedService;
use edu_proto::edu::api::v1 as api_pb;
use jiff::Timestamp;
use tonic::{Code, Status};

use crate::common::*;

const RPC: &str = "/edu.aid.v1.ChildService/GetChildRecords";
const PURPOSE: &str = "проверка помощи семье по обращению 42";

/// The 2024 campaign, beside the fixture's 2023 one.
const CAMPAIGN_2024: &str = "campaigns/doroga-v-shkolu-2024";

/// A valid IIN, born 2015-03-13.
const IIN: &str = "150313518156";
/// The same IIN as people write it, in groups.
const IIN_SPACED: &str = "1503 1351 8156";
/// Another valid IIN of a child born the same day.
const OTHER_IIN_SAME_DAY: &str = "150313500014";
/// A valid IIN, born 2012-05-14.
const IIN_2012: &str = "120514581942";
/// The first one with its last digit mistyped.
const IIN_MISTYPED: &str = "150313518157";
/// Twelve digits with a 13th month.
const IIN_NO_DATE: &str = "151313518156";

/// An instant in the 2024 campaign.
fn during_2024() -> Timestamp {
    at("2024-08-15T10:00:00+06:00")
}

/// When the records are read: after both campaigns.
fn reading_time() -> Timestamp {
    at("2024-10-01T10:00:00+06:00")
}

struct Apis {
    children: ChildrenApi,
    needs: NeedsApi,
}

/// Both campaigns, schools in Almaty (two) and Astana.
async fn setup() -> (Fixture, Apis) {
    let fx = Fixture::new().await;
    fx.campaign().await;
    CampaignsApi::new(fx.store.clone())
        .create_campaign(request(
            &coordinator(),
            at("2024-07-01T10:00:00+06:00"),
            pb::CreateCampaignRequest {
                campaign: Some(pb::Campaign {
                    display_name: "Республиканская акция «Дорога в школу» — 2024".into(),
                    start_date: date(2024, 8, 1),
                    end_date: date(2024, 9, 30),
                    school_start_date: date(2024, 9, 2),
                    ..campaign_body()
                }),
                campaign_id: "doroga-v-shkolu-2024".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("the 2024 campaign");
    fx.school("almaty-12", "KZ-75").await;
    fx.school("almaty-40", "KZ-75").await;
    fx.school("astana-7", "KZ-71").await;
    let apis = Apis {
        children: ChildrenApi::new(fx.store.clone()),
        needs: NeedsApi::new(fx.store.clone()),
    };
    (fx, apis)
}

/// Lists a child at `school` in `campaign` at `now`, as the school's staff.
#[allow(clippy::too_many_arguments)]
async fn list_child(
    apis: &Apis,
    campaign: &str,
    now: Timestamp,
    school: &str,
    iin: &str,
    names: (&str, &str, &str),
    born: (i32, i32, i32),
) -> pb::Child {
    apis.children
        .create_child(request(
            &school_staff(school),
            now,
            pb::CreateChildRequest {
                parent: campaign.into(),
                child: Some(pb::Child {
                    iin: iin.into(),
                    family_name: names.0.into(),
                    given_name: names.1.into(),
                    patronymic: names.2.into(),
                    birth_date: date(born.0, born.1, born.2),
                    grade: 2,
                    categories: vec![pb::ChildCategory::LowIncome as i32],
                    identification_source: pb::IdentificationSource::Survey as i32,
                    school: format!("schools/{school}"),
                    consent: Some(pb::Consent {
                        representative_name: "Законный представитель".into(),
                        give_date: date(2023, 8, 3),
                        document: "заявление № 15".into(),
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("listed")
        .into_inner()
}

/// Records a need of `child` as `caller` at `now`.
async fn need(
    apis: &Apis,
    caller: &Caller,
    now: Timestamp,
    child: &pb::Child,
    item: pb::NeedItem,
    estimate: i64,
) -> pb::Need {
    apis.needs
        .create_need(request(
            caller,
            now,
            pb::CreateNeedRequest {
                parent: child.name.clone(),
                need: Some(pb::Need {
                    item: item as i32,
                    description: "рост 128".into(),
                    estimated_value_tiyn: estimate,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("need")
        .into_inner()
}

/// Budget help of `value` against `need`, handed over on `day`, recorded at `now`.
async fn help(
    apis: &Apis,
    caller: &Caller,
    now: Timestamp,
    need: &pb::Need,
    value: i64,
    day: (i32, i32, i32),
) -> pb::HelpDelivery {
    apis.needs
        .record_help_delivery(request(
            caller,
            now,
            pb::RecordHelpDeliveryRequest {
                parent: need.name.clone(),
                help_delivery: Some(pb::HelpDelivery {
                    source: pb::HelpSource::Budget as i32,
                    budget_source: "местный бюджет, акимат г. Алматы".into(),
                    value_tiyn: value,
                    delivery_date: date(day.0, day.1, day.2),
                    description: "школьная форма".into(),
                    ..Default::default()
                }),
                request_id: uuid::Uuid::new_v4().to_string(),
            },
        ))
        .await
        .expect("help")
        .into_inner()
}

/// Who the child is, as a caller knows it.
fn identity(
    document: &str,
    names: (&str, &str, &str),
    born: (i32, i32, i32),
) -> api_pb::ChildIdentity {
    api_pb::ChildIdentity {
        identity_document: document.into(),
        family_name: names.0.into(),
        given_name: names.1.into(),
        patronymic: names.2.into(),
        birth_date: date(born.0, born.1, born.2),
    }
}

/// GetChildRecords as the pipeline hands it over: the caller, its stated purpose, the
/// method's name.
async fn records_with(
    apis: &Apis,
    caller: &Caller,
    purpose: &str,
    identity: Option<api_pb::ChildIdentity>,
) -> Result<pb::ChildRecords, Status> {
    let mut request = tonic::Request::new(pb::GetChildRecordsRequest { identity });
    request.extensions_mut().insert(
        CallContext::new(
            Some(caller.clone()),
            uuid::Uuid::new_v4().to_string(),
            None,
            reading_time(),
        )
        .with_rpc(RPC)
        .with_purpose(purpose),
    );
    apis.children
        .get_child_records(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn records(
    apis: &Apis,
    caller: &Caller,
    identity: api_pb::ChildIdentity,
) -> Result<pb::ChildRecords, Status> {
    records_with(apis, caller, PURPOSE, Some(identity)).await
}

/// The records' names and how each was found.
fn found(answer: &pb::ChildRecords) -> Vec<(String, api_pb::IdentityMatch)> {
    answer
        .records
        .iter()
        .map(|r| {
            (
                r.child.as_ref().expect("child").name.clone(),
                api_pb::IdentityMatch::try_from(r.matched_by).expect("a match"),
            )
        })
        .collect()
}

/// The READ records of the trail: actor, action, resource, rpc, purpose.
async fn reads(fx: &Fixture) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as(
        "SELECT actor, action, resource, rpc, purpose FROM audit_log
         WHERE kind = 'READ' ORDER BY id",
    )
    .fetch_all(fx.db.pool())
    .await
    .expect("reads")
}

/// A refusal's code, reason and message: what tells two refusals apart.
fn refusal(status: &Status) -> (Code, String, String) {
    (status.code(), reason(status), status.message().to_string())
}

/// Children's names and IINs must appear in no refusal.
#[track_caller]
fn assert_no_personal_data(status: &Status, personal: &[&str]) {
    let details = String::from_utf8_lossy(status.details()).to_string();
    for value in personal {
        assert!(
            !status.message().contains(value) && !details.contains(value),
            "a refusal carries personal data: {status:?}"
        );
    }
}

const SEITKALI: (&str, &str, &str) = ("Сейтқали", "Әлия", "Нурлановна");

#[tokio::test]
async fn school_and_regional_staff_find_a_child_by_iin_in_two_campaigns_with_needs_and_help() {
    let (_fx, apis) = setup().await;
    let staff = school_staff("almaty-12");
    let in_2023 = list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        IIN,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;
    let uniform = need(
        &apis,
        &staff,
        in_campaign(),
        &in_2023,
        pb::NeedItem::Uniform,
        2_500_000,
    )
    .await;
    let shoes = need(
        &apis,
        &staff,
        in_campaign(),
        &in_2023,
        pb::NeedItem::Shoes,
        1_200_000,
    )
    .await;
    let first = help(
        &apis,
        &staff,
        in_campaign(),
        &uniform,
        1_000_000,
        (2023, 8, 5),
    )
    .await;
    let second = help(
        &apis,
        &staff,
        in_campaign(),
        &shoes,
        1_200_000,
        (2023, 8, 12),
    )
    .await;
    let in_2024 = list_child(
        &apis,
        CAMPAIGN_2024,
        during_2024(),
        "almaty-12",
        IIN,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;
    let backpack = need(
        &apis,
        &staff,
        during_2024(),
        &in_2024,
        pb::NeedItem::Backpack,
        800_000,
    )
    .await;
    let third = help(
        &apis,
        &staff,
        during_2024(),
        &backpack,
        800_000,
        (2024, 8, 10),
    )
    .await;
    // A namesake born the same day with another IIN, at the same school: never found by the
    // name while an IIN is given.
    list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        OTHER_IIN_SAME_DAY,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;

    for caller in [staff.clone(), regional("KZ-75")] {
        for document in [IIN, IIN_SPACED] {
            let answer = records(&apis, &caller, identity(document, SEITKALI, (2015, 3, 13)))
                .await
                .expect("the child's records");
            // Newest campaign first; both by the IIN.
            assert_eq!(
                found(&answer),
                [
                    (in_2024.name.clone(), api_pb::IdentityMatch::Document),
                    (in_2023.name.clone(), api_pb::IdentityMatch::Document),
                ]
            );
            assert_eq!(
                answer.read_time,
                Some(edu_kit::wire::timestamp(reading_time()))
            );
            let [latest, earlier] = &answer.records[..] else {
                panic!("two records")
            };
            // The record as GetChild shows it: the IIN's last four digits, never the IIN.
            let shown = earlier.child.as_ref().expect("child");
            assert_eq!(shown.iin, "");
            assert_eq!(shown.iin_suffix, "8156");
            assert_eq!(shown.family_name, "Сейтқали");
            assert_eq!(shown.state, pb::ChildState::Active as i32);
            assert_eq!(shown.needs_estimated_tiyn, 3_700_000);
            assert_eq!(shown.help_delivered_tiyn, 2_200_000);
            let needs: Vec<&str> = earlier.needs.iter().map(|n| n.name.as_str()).collect();
            assert_eq!(needs, [uniform.name.as_str(), shoes.name.as_str()]);
            let helped: Vec<&str> = earlier
                .help_deliveries
                .iter()
                .map(|h| h.name.as_str())
                .collect();
            assert_eq!(helped, [second.name.as_str(), first.name.as_str()]);
            assert!(!earlier.help_deliveries_truncated);
            assert_eq!(
                latest.needs.iter().map(|n| &n.name).collect::<Vec<_>>(),
                [&backpack.name]
            );
            assert_eq!(latest.needs[0].delivered_tiyn, 800_000);
            assert_eq!(
                latest
                    .help_deliveries
                    .iter()
                    .map(|h| &h.name)
                    .collect::<Vec<_>>(),
                [&third.name]
            );
        }
    }
}

#[tokio::test]
async fn a_record_without_an_iin_is_found_by_name_and_birth_date_and_flagged_so() {
    let (_fx, apis) = setup().await;
    let staff = school_staff("almaty-12");
    let names = ("Ахметова", "Айгерим", "Нурлановна");
    let born = (2012, 5, 14);
    let without_iin =
        list_child(&apis, CAMPAIGN, in_campaign(), "almaty-12", "", names, born).await;
    let with_iin = list_child(
        &apis,
        CAMPAIGN_2024,
        during_2024(),
        "almaty-12",
        IIN_2012,
        names,
        born,
    )
    .await;
    let by_name = |document: &'static str| {
        identity(
            document,
            // The given name where the family name goes, in other cases: the normalised
            // name is the same.
            ("айгерим", "АХМЕТОВА", "нурлановна"),
            born,
        )
    };

    // No document: every record of the name and date, with an IIN or without, by name.
    let answer = records(&apis, &staff, by_name(""))
        .await
        .expect("found by name");
    assert_eq!(
        found(&answer),
        [
            (
                with_iin.name.clone(),
                api_pb::IdentityMatch::NameAndBirthDate
            ),
            (
                without_iin.name.clone(),
                api_pb::IdentityMatch::NameAndBirthDate
            ),
        ]
    );
    // A document that is no IIN (a Russian birth certificate) is one aid never holds: as if
    // none were given.
    let answer = records(&apis, &staff, by_name("I-ТО 100001"))
        .await
        .expect("found by name");
    assert_eq!(answer.records.len(), 2);
    // With the IIN: its record by the IIN, the one without an IIN by name.
    let answer = records(&apis, &staff, by_name(IIN_2012))
        .await
        .expect("found");
    assert_eq!(
        found(&answer),
        [
            (with_iin.name.clone(), api_pb::IdentityMatch::Document),
            (
                without_iin.name.clone(),
                api_pb::IdentityMatch::NameAndBirthDate
            ),
        ]
    );
    // The IIN alone finds its record only.
    let answer = records(&apis, &staff, identity(IIN_2012, ("", "", ""), born))
        .await
        .expect("found by the IIN");
    assert_eq!(
        found(&answer),
        [(with_iin.name.clone(), api_pb::IdentityMatch::Document)]
    );
    // Another child's IIN of the same day: a record holding another IIN is never found by
    // the name, only the record without one.
    let another = "120514500011";
    let answer = records(&apis, &staff, by_name(another))
        .await
        .expect("found by name");
    assert_eq!(
        found(&answer),
        [(
            without_iin.name.clone(),
            api_pb::IdentityMatch::NameAndBirthDate
        )]
    );
    // Another birth date, or the name without its patronymic, is another child.
    assert_refused(
        records(&apis, &staff, identity("", names, (2012, 5, 15))).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_refused(
        records(
            &apis,
            &staff,
            identity("", ("Ахметова", "Айгерим", ""), born),
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn a_merged_record_is_shown_as_the_one_it_was_merged_into_and_a_removed_one_never() {
    let (fx, apis) = setup().await;
    let names = ("Омаров", "Ерлан", "Болатович");
    let born = (2015, 3, 13);
    let region = regional("KZ-75");
    // Listed without an IIN at one school, then with it at another: a probable duplicate.
    let merged = list_child(&apis, CAMPAIGN, in_campaign(), "almaty-40", "", names, born).await;
    let merged_need = need(
        &apis,
        &school_staff("almaty-40"),
        in_campaign(),
        &merged,
        pb::NeedItem::Stationery,
        300_000,
    )
    .await;
    let merged_help = help(
        &apis,
        &school_staff("almaty-40"),
        in_campaign(),
        &merged_need,
        300_000,
        (2023, 8, 6),
    )
    .await;
    let survivor = list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        IIN,
        names,
        born,
    )
    .await;
    let survivor_need = need(
        &apis,
        &school_staff("almaty-12"),
        in_campaign(),
        &survivor,
        pb::NeedItem::Uniform,
        2_000_000,
    )
    .await;
    let pairs = apis
        .children
        .list_probable_duplicates(request(
            &region,
            in_campaign(),
            pb::ListProbableDuplicatesRequest {
                parent: CAMPAIGN.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("pairs")
        .into_inner()
        .probable_duplicates;
    assert_eq!(pairs.len(), 1);
    apis.children
        .merge_probable_duplicate(request(
            &region,
            in_campaign(),
            pb::MergeProbableDuplicateRequest {
                name: pairs[0].name.clone(),
                survivor: survivor.name.clone(),
                reason: "одна семья, одни документы".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("merged");

    // Found by the name (both records match) or by the IIN: the surviving record, once,
    // with the merged record's needs and help.
    for (document, matched_by) in [
        ("", api_pb::IdentityMatch::NameAndBirthDate),
        (IIN, api_pb::IdentityMatch::Document),
    ] {
        let answer = records(&apis, &region, identity(document, names, born))
            .await
            .expect("the surviving record");
        assert_eq!(found(&answer), [(survivor.name.clone(), matched_by)]);
        let record = &answer.records[0];
        assert_eq!(
            record.child.as_ref().map(|c| c.state),
            Some(pb::ChildState::Active as i32)
        );
        let mut needs: Vec<&str> = record.needs.iter().map(|n| n.name.as_str()).collect();
        needs.sort();
        let mut expected = [survivor_need.name.as_str(), merged_need.name.as_str()];
        expected.sort();
        assert_eq!(needs, expected);
        assert_eq!(
            record
                .help_deliveries
                .iter()
                .map(|h| &h.name)
                .collect::<Vec<_>>(),
            [&merged_help.name]
        );
    }
    // The merged record's school does not read the surviving record (another school's):
    // judged by the record shown, not the one that matched.
    assert_refused(
        records(&apis, &school_staff("almaty-40"), identity("", names, born)).await,
        Code::NotFound,
        "NOT_FOUND",
    );

    // A removed record never matches: its personal data are gone.
    let removed_names = ("Жумабаева", "Дана", "");
    let removed = list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        OTHER_IIN_SAME_DAY,
        removed_names,
        born,
    )
    .await;
    apis.children
        .remove_child(request(
            &school_staff("almaty-12"),
            in_campaign(),
            pb::RemoveChildRequest {
                name: removed.name.clone(),
                reason: "семья отозвала согласие".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("removed");
    for document in [OTHER_IIN_SAME_DAY, ""] {
        assert_refused(
            records(&apis, &region, identity(document, removed_names, born)).await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
    // None of these misses was recorded as a read; the two answers were, once each.
    let shown: Vec<String> = reads(&fx).await.into_iter().map(|r| r.2).collect();
    assert_eq!(shown, [survivor.name.clone(), survivor.name.clone()]);
}

#[tokio::test]
async fn staff_of_another_school_or_region_are_told_not_found_as_for_a_missing_child() {
    let (fx, apis) = setup().await;
    list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        IIN,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;
    let listed = identity(IIN, SEITKALI, (2015, 3, 13));
    let missing = records(
        &apis,
        &school_staff("almaty-12"),
        identity(OTHER_IIN_SAME_DAY, ("Другой", "Ребёнок", ""), (2015, 3, 13)),
    )
    .await
    .expect_err("listed nowhere");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&missing), "NOT_FOUND");
    for stranger in [
        school_staff("almaty-40"),
        school_staff("astana-7"),
        regional("KZ-71"),
    ] {
        for asked in [listed.clone(), identity("", SEITKALI, (2015, 3, 13))] {
            let refused = records(&apis, &stranger, asked)
                .await
                .expect_err("not the stranger's child");
            assert_eq!(
                refusal(&refused),
                refusal(&missing),
                "{}",
                stranger.subject()
            );
            assert_no_personal_data(&refused, &[IIN, "Сейтқали", "Әлия", "Нурлановна", "2015"]);
        }
    }
    assert!(reads(&fx).await.is_empty(), "a miss records no read");
}

#[tokio::test]
async fn the_coordinator_operators_donors_and_others_are_refused_before_any_lookup() {
    let (fx, apis) = setup().await;
    list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        IIN,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;
    for (who, asker) in [
        ("coordinator", coordinator()),
        ("operator", operator("KZ-75")),
        ("donor", donor("donor-1")),
        (
            "event consumer",
            caller("feed", &["aid.event_consumer"], &[]),
        ),
        // A parent holds no aid role: aid has no guardian.
        (
            "parent",
            caller("parent-1", &["certificates.parent"], &["school:almaty-12"]),
        ),
        // Staff by role but acting for no school or region.
        (
            "unscoped staff",
            caller("staff", &["aid.school_staff"], &[]),
        ),
    ] {
        // A request that would be found; then one refused on every other ground (no purpose,
        // no identity): the role is judged first, from the token alone.
        assert_refused(
            records(&apis, &asker, identity(IIN, SEITKALI, (2015, 3, 13))).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        let refused = records_with(&apis, &asker, "", None).await.expect_err(who);
        assert_eq!(
            (refused.code(), reason(&refused)),
            (Code::PermissionDenied, "ROLE_REQUIRED".to_string()),
            "{who}"
        );
    }
    assert!(reads(&fx).await.is_empty());
}

#[tokio::test]
async fn an_iin_must_be_valid_and_carry_the_birth_date_and_a_child_must_be_named() {
    let (_fx, apis) = setup().await;
    let staff = school_staff("almaty-12");
    for (document, check) in [(IIN_MISTYPED, "CHECK_DIGIT"), (IIN_NO_DATE, "DATE")] {
        let refused = records(&apis, &staff, identity(document, SEITKALI, (2015, 3, 13)))
            .await
            .expect_err("not an IIN");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(reason(&refused), "IIN_INVALID");
        assert_eq!(bad_fields(&refused), ["identity.identity_document"]);
        assert_eq!(error_metadata(&refused, "check").as_deref(), Some(check));
        assert_no_personal_data(&refused, &[document, "Сейтқали"]);
    }
    let refused = records(&apis, &staff, identity(IIN, SEITKALI, (2015, 3, 14)))
        .await
        .expect_err("another day");
    assert_eq!(reason(&refused), "IIN_BIRTH_DATE_MISMATCH");
    assert_eq!(bad_fields(&refused), ["identity.identity_document"]);
    assert_no_personal_data(&refused, &[IIN, "2015-03-14"]);

    // Neither an IIN nor both names; no birth date; no identity at all.
    for (asked, fields) in [
        (
            Some(identity("", ("Сейтқали", "", ""), (2015, 3, 13))),
            vec!["identity"],
        ),
        (
            Some(identity("I-ТО 100001", ("", "Әлия", ""), (2015, 3, 13))),
            vec!["identity"],
        ),
        (
            Some(api_pb::ChildIdentity {
                birth_date: None,
                ..identity(IIN, SEITKALI, (2015, 3, 13))
            }),
            vec!["identity.birth_date"],
        ),
        (
            Some(identity("", ("", "", ""), (2015, 13, 1))),
            vec!["identity.birth_date", "identity"],
        ),
        (None, vec!["identity"]),
    ] {
        let refused = records_with(&apis, &staff, PURPOSE, asked)
            .await
            .expect_err("not enough to look up");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(reason(&refused), "INVALID_FIELDS");
        assert_eq!(bad_fields(&refused), fields);
    }
}

#[tokio::test]
async fn without_a_purpose_nothing_is_looked_up_and_nothing_recorded() {
    let (fx, apis) = setup().await;
    list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        IIN,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;
    for purpose in ["", "   "] {
        for asked in [Some(identity(IIN, SEITKALI, (2015, 3, 13))), None] {
            let refused = records_with(&apis, &school_staff("almaty-12"), purpose, asked)
                .await
                .expect_err("no purpose");
            assert_eq!(refused.code(), Code::InvalidArgument);
            assert_eq!(reason(&refused), "INVALID_FIELDS");
            assert_eq!(bad_fields(&refused), ["x-edu-purpose"]);
        }
    }
    assert_eq!(
        fx.count("SELECT count(*) FROM audit_log WHERE kind = 'READ'")
            .await,
        0
    );
}

#[tokio::test]
async fn every_record_shown_is_recorded_as_read_once_with_the_purpose_and_the_method() {
    let (fx, apis) = setup().await;
    let in_2023 = list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        IIN,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;
    let in_2024 = list_child(
        &apis,
        CAMPAIGN_2024,
        during_2024(),
        "almaty-40",
        IIN,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;
    let region = regional("KZ-75");
    let answer = records(&apis, &region, identity(IIN, SEITKALI, (2015, 3, 13)))
        .await
        .expect("two records");
    assert_eq!(answer.records.len(), 2);
    let expected = |name: &str| {
        (
            region.subject().to_string(),
            "child.read".to_string(),
            name.to_string(),
            RPC.to_string(),
            PURPOSE.to_string(),
        )
    };
    assert_eq!(
        reads(&fx).await,
        [expected(&in_2024.name), expected(&in_2023.name)]
    );
    // The school of one record reads that one only, and its read is recorded alone.
    let answer = records(
        &apis,
        &school_staff("almaty-40"),
        identity(IIN, SEITKALI, (2015, 3, 13)),
    )
    .await
    .expect("its record");
    assert_eq!(
        found(&answer),
        [(in_2024.name.clone(), api_pb::IdentityMatch::Document)]
    );
    let all = reads(&fx).await;
    assert_eq!(all.len(), 3);
    assert_eq!(
        (all[2].0.as_str(), all[2].2.as_str(), all[2].3.as_str()),
        ("staff-almaty-40", in_2024.name.as_str(), RPC)
    );
}

#[tokio::test]
async fn help_beyond_the_cap_is_left_out_newest_first_and_flagged() {
    let (_fx, apis) = setup().await;
    let staff = school_staff("almaty-12");
    let child = list_child(
        &apis,
        CAMPAIGN,
        in_campaign(),
        "almaty-12",
        IIN,
        SEITKALI,
        (2015, 3, 13),
    )
    .await;
    let cash = need(
        &apis,
        &staff,
        in_campaign(),
        &child,
        pb::NeedItem::Cash,
        10_000,
    )
    .await;
    // The oldest delivery first, then 100 later ones.
    let oldest = help(&apis, &staff, in_campaign(), &cash, 1, (2023, 8, 1)).await;
    for _ in 0..100 {
        help(&apis, &staff, in_campaign(), &cash, 1, (2023, 8, 14)).await;
    }
    let answer = records(&apis, &staff, identity(IIN, SEITKALI, (2015, 3, 13)))
        .await
        .expect("the record");
    let record = &answer.records[0];
    assert_eq!(record.help_deliveries.len(), 100);
    assert!(record.help_deliveries_truncated);
    assert!(record.help_deliveries.iter().all(|h| h.name != oldest.name));
    assert_eq!(record.needs[0].delivered_tiyn, 101);
}
