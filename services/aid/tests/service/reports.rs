//! Reports (rule 9): a campaign's figures nationally and per region in one snapshot, the
//! region summary, and the printable fair lists as CSV and PDF. A child counts once however
//! its records were merged (chains included) and with its surviving record's region; a
//! removed record counts in no children's figure while the help it got stays in the money;
//! reports name no child; each caller reads only its scope; a fair list is ordered, leaves
//! out covered needs unless asked, never prints an IIN, and is audited.

use edu_aid::api::{DonationsApi, ReportsApi};
use edu_kit::auth::Caller;
use edu_kit::testing::{assert_refused, bad_fields};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::report_service_server::ReportService;
use futures::StreamExt;
use jiff::Timestamp;
use tonic::{Code, Status};

use crate::common::*;
use crate::donations::{allocate, donation_help, money, pledge, received};
use crate::needs::{
    ListedChild, budget_help, create_need, listed_child, merge_child, needs_api, record_help,
    remove_child, setup,
};

/// The instant of the reports: school has started, the campaign runs.
fn report_time() -> Timestamp {
    at("2023-09-10T12:00:00+06:00")
}

/// What the scenario listed.
struct Scenario {
    fx: Fixture,
    api: ReportsApi,
    /// Every child's record, for checking that no answer names one.
    children: Vec<ListedChild>,
}

/// Inserts an appeal of `region` recorded at `created`, first answered `response_hours`
/// later (OPEN when `None`), in `state`.
async fn appeal(
    fx: &Fixture,
    region: &str,
    number: &str,
    category: &str,
    state: &str,
    response_hours: Option<i64>,
) {
    sqlx::query(
        "INSERT INTO aid.appeals
            (id, campaign_id, region_code, number, channel, category, responsible_person,
             summary, state, first_response, first_response_time, answer, close_time,
             create_time, update_time)
         VALUES ($1, 'doroga-v-shkolu-2023', $2, $3, 'HOTLINE', $4, 'Сейткали А.',
                 'нет формы', $5,
                 CASE WHEN $6::bigint IS NULL THEN '' ELSE 'приняли' END,
                 TIMESTAMPTZ '2023-08-10 10:00+06' + make_interval(hours => $6::int),
                 CASE WHEN $5 = 'ANSWERED' THEN 'выдали форму' ELSE '' END,
                 CASE WHEN $5 = 'ANSWERED'
                      THEN TIMESTAMPTZ '2023-08-10 10:00+06' + make_interval(hours => $6::int)
                 END,
                 TIMESTAMPTZ '2023-08-10 10:00+06', now())",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(region)
    .bind(number)
    .bind(category)
    .bind(state)
    .bind(response_hours)
    .execute(fx.db.pool())
    .await
    .expect("insert appeal");
}

/// Inserts an attendance check of `child`.
async fn attendance(
    fx: &Fixture,
    child: &ListedChild,
    day: i16,
    reason: Option<&str>,
    follow_up: &str,
) {
    sqlx::query(
        "INSERT INTO aid.attendance_checks
            (id, campaign_id, child_id, check_date, outcome, absence_reason, follow_up_state,
             follow_up_action, follow_up_date, create_time, update_time)
         VALUES ($1, 'doroga-v-shkolu-2023', $2, DATE '2023-09-01' + $3::int,
                 CASE WHEN $4::text IS NULL THEN 'ATTENDS' ELSE 'DOES_NOT_ATTEND' END, $4, $5,
                 CASE WHEN $5 = 'DONE' THEN 'визит домой' END,
                 CASE WHEN $5 = 'DONE' THEN DATE '2023-09-08' END, now(), now())",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&child.id)
    .bind(i32::from(day))
    .bind(reason)
    .bind(follow_up)
    .execute(fx.db.pool())
    .await
    .expect("insert check");
}

async fn probable_duplicate(fx: &Fixture, a: &ListedChild, b: &ListedChild) {
    sqlx::query(
        "INSERT INTO aid.probable_duplicates
            (id, campaign_id, child_a, child_b, match, create_time, update_time)
         VALUES ($1, 'doroga-v-shkolu-2023', $2, $3, 'SAME_NAME_AND_BIRTH_DATE', now(), now())",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&a.id)
    .bind(&b.id)
    .execute(fx.db.pool())
    .await
    .expect("insert pair");
}

/// The campaign with schools 1 and 2 in Almaty (KZ-75) and 3 in Astana (KZ-71):
///
/// - Almaty: «Әбенова» (grade 2: uniform covered by a donation, shoes partly by the
///   budget), «Үсенов» (grade 1: a backpack, nothing delivered) with two records merged into
///   it in a chain, the last holding stationery covered by the budget, «Абаев» (grade 1,
///   school 2: a winter jacket); a money donation of 25 000 ₸ received, 20 000 allocated
///   and delivered; three appeals (open and overdue, answered in 2 h, in progress after a
///   late 30 h); attendance checks.
/// - Astana: «Құрманов» (a uniform, nothing delivered, never checked), a removed record
///   that had received 5 000 ₸ of budget help, a pledge of 10 000 ₸ not received.
/// - A probable duplicate between Almaty's «Әбенова» and Astana's «Құрманов», and one
///   superseded by a merge.
async fn scenario() -> Scenario {
    let fx = setup().await;
    let needs = needs_api(&fx);
    let donations = DonationsApi::new(fx.store.clone());
    let almaty = regional("KZ-75");
    let astana = regional("KZ-71");

    let a = listed_child(&fx, "school-1", "KZ-75", "Әбенова", 2).await;
    let b = listed_child(&fx, "school-1", "KZ-75", "Үсенов", 1).await;
    let b2 = listed_child(&fx, "school-2", "KZ-75", "Усенов", 1).await;
    let b3 = listed_child(&fx, "school-2", "KZ-75", "Усенов", 1).await;
    let e = listed_child(&fx, "school-2", "KZ-75", "Абаев", 1).await;
    let c = listed_child(&fx, "school-3", "KZ-71", "Құрманов", 4).await;
    let d = listed_child(&fx, "school-3", "KZ-71", "Жұмабаев", 5).await;

    let uniform = create_need(&needs, &almaty, &a, pb::NeedItem::Uniform, 2_000_000)
        .await
        .expect("uniform");
    let shoes = create_need(&needs, &almaty, &a, pb::NeedItem::Shoes, 1_000_000)
        .await
        .expect("shoes");
    create_need(&needs, &almaty, &b, pb::NeedItem::Backpack, 800_000)
        .await
        .expect("backpack");
    let stationery = create_need(&needs, &almaty, &b3, pb::NeedItem::Stationery, 300_000)
        .await
        .expect("stationery");
    create_need(&needs, &almaty, &e, pb::NeedItem::Other, 600_000)
        .await
        .expect("jacket");
    create_need(&needs, &astana, &c, pb::NeedItem::Uniform, 1_500_000)
        .await
        .expect("uniform in Astana");
    let cash = create_need(&needs, &astana, &d, pb::NeedItem::Cash, 500_000)
        .await
        .expect("cash");

    let gift = received(&donations, "donor-1", "KZ-75", 2_500_000).await;
    let allocation = allocate(&donations, &almaty, &gift.name, &uniform.name, 2_000_000)
        .await
        .expect("allocation");
    record_help(
        &needs,
        &almaty,
        in_campaign(),
        donation_help(
            &uniform.name,
            &allocation.name,
            2_000_000,
            "deliver-uniform",
        ),
    )
    .await
    .expect("uniform delivered");
    for (need, value, id) in [
        (&shoes.name, 400_000, "budget-shoes"),
        (&stationery.name, 300_000, "budget-stationery"),
    ] {
        record_help(&needs, &almaty, in_campaign(), budget_help(need, value, id))
            .await
            .expect("budget help");
    }
    record_help(
        &needs,
        &astana,
        in_campaign(),
        budget_help(&cash.name, 500_000, "budget-cash"),
    )
    .await
    .expect("cash delivered");
    pledge(
        &donations,
        &donor("donor-2"),
        at("2023-08-05T10:00:00+06:00"),
        money("KZ-71", 1_000_000),
    )
    .await
    .expect("pledge");

    // b3 was merged into b2 first, then b2 into b: a chain of two.
    merge_child(&fx, &b3, &b2).await;
    merge_child(&fx, &b2, &b).await;
    remove_child(&fx, &d).await;
    probable_duplicate(&fx, &a, &c).await;
    probable_duplicate(&fx, &b, &b2).await;

    appeal(
        &fx,
        "KZ-75",
        "KZ-75-000001",
        "REQUEST_FOR_HELP",
        "OPEN",
        None,
    )
    .await;
    appeal(&fx, "KZ-75", "KZ-75-000002", "PRICES", "ANSWERED", Some(2)).await;
    appeal(
        &fx,
        "KZ-75",
        "KZ-75-000003",
        "REQUEST_FOR_HELP",
        "IN_PROGRESS",
        Some(30),
    )
    .await;

    attendance(&fx, &a, 3, Some("LACKS_CLOTHES_OR_SUPPLIES"), "AWAITING").await;
    attendance(&fx, &a, 5, None, "NOT_NEEDED").await;
    attendance(&fx, &b3, 3, Some("ILLNESS"), "DONE").await;
    attendance(&fx, &e, 2, None, "NOT_NEEDED").await;

    sqlx::query(
        "INSERT INTO aid.price_observations
            (id, campaign_id, item, region_code, place_kind, place_name, price_tiyn,
             observe_date, create_time)
         VALUES ('p1', 'doroga-v-shkolu-2023', 'BACKPACK', 'KZ-75', 'MARKET', 'Барахолка',
                 900000, DATE '2023-08-14', now())",
    )
    .execute(fx.db.pool())
    .await
    .expect("price");

    Scenario {
        api: ReportsApi::new(fx.store.clone()),
        fx,
        children: vec![a, b, b2, b3, e, c, d],
    }
}

async fn report(
    api: &ReportsApi,
    caller: &Caller,
    region: &str,
) -> Result<pb::CampaignReport, Status> {
    api.get_campaign_report(request(
        caller,
        report_time(),
        pb::GetCampaignReportRequest {
            campaign: CAMPAIGN.into(),
            region_code: region.into(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

fn region<'a>(report: &'a pb::CampaignReport, code: &str) -> &'a pb::ReportFigures {
    report
        .regions
        .iter()
        .find(|r| r.region_code == code)
        .and_then(|r| r.figures.as_ref())
        .expect("the region's row")
}

/// Asserts that no name or IIN of the scenario appears anywhere in `answer`.
fn names_no_child(answer: &impl std::fmt::Debug, children: &[ListedChild]) {
    let text = format!("{answer:?}");
    for child in children {
        assert!(!text.contains(&child.family), "{} in {text}", child.family);
        assert!(!text.contains(&child.iin), "an IIN in the answer");
        assert!(!text.contains(&child.id), "a child's ID in the answer");
    }
}

#[tokio::test]
async fn the_national_report_counts_each_child_once_per_region_and_nationally() {
    let s = scenario().await;
    let national = report(&s.api, &coordinator(), "").await.expect("national");
    names_no_child(&national, &s.children);
    assert_eq!(national.campaign, CAMPAIGN);
    assert_eq!(national.region_code, "");
    let codes: Vec<&str> = national
        .regions
        .iter()
        .map(|r| r.region_code.as_str())
        .collect();
    assert_eq!(
        codes,
        ["KZ-19", "KZ-71", "KZ-75"],
        "every region, zeros included"
    );

    // Children: the chain b3 → b2 → b is one child; the removed record counts nowhere.
    let almaty = region(&national, "KZ-75");
    let children = almaty.children.as_ref().expect("children");
    assert_eq!(children.identified, 3, "«Әбенова», «Үсенов», «Абаев»");
    assert_eq!(children.helped, 2, "«Үсенов» through its merged record");
    assert_eq!(children.without_iin, 0);
    assert_eq!(children.by_category.len(), 5);
    assert_eq!(
        (
            children.by_category[0].category,
            children.by_category[0].children
        ),
        (pb::ChildCategory::LowIncome as i32, 3)
    );
    assert_eq!(
        children.open_probable_duplicates, 1,
        "the superseded pair is not open work"
    );
    let astana = region(&national, "KZ-71");
    let astana_children = astana.children.as_ref().expect("children");
    assert_eq!(
        (astana_children.identified, astana_children.helped),
        (1, 0),
        "the removed record is no child, though it was helped"
    );
    assert_eq!(astana_children.open_probable_duplicates, 1);
    let all = national
        .figures
        .as_ref()
        .and_then(|f| f.children.as_ref())
        .expect("national children");
    assert_eq!((all.identified, all.helped), (4, 2));
    assert_eq!(
        all.open_probable_duplicates, 1,
        "a pair across regions counts once"
    );

    // Needs: those of the merged records count with the survivor; the removed record's not.
    let needs = almaty.needs.as_ref().expect("needs");
    assert_eq!(
        (
            needs.needs,
            needs.covered,
            needs.partly_covered,
            needs.uncovered
        ),
        (5, 2, 1, 2)
    );
    assert_eq!(
        needs.estimated_tiyn,
        2_000_000 + 1_000_000 + 800_000 + 300_000 + 600_000
    );
    assert_eq!(needs.delivered_tiyn, 2_000_000 + 400_000 + 300_000);
    assert_eq!(needs.committed_tiyn, 2_000_000 + 400_000 + 300_000);
    assert_eq!(needs.by_item.len(), 7);
    let uniform = &needs.by_item[0];
    assert_eq!(uniform.item, pb::NeedItem::Uniform as i32);
    assert_eq!(
        (uniform.needs, uniform.covered, uniform.delivered_tiyn),
        (1, 1, 2_000_000)
    );
    let astana_needs = astana.needs.as_ref().expect("needs");
    assert_eq!((astana_needs.needs, astana_needs.uncovered), (1, 1));

    // Money: the removed record's budget help stays in the money.
    let money = almaty.donations.as_ref().expect("donations");
    assert_eq!(
        (
            money.donations_received,
            money.raised_money_tiyn,
            money.allocated_tiyn,
            money.spent_money_tiyn,
            money.available_tiyn,
            money.budget_delivered_tiyn
        ),
        (1, 2_500_000, 2_000_000, 2_000_000, 500_000, 700_000)
    );
    let astana_money = astana.donations.as_ref().expect("donations");
    assert_eq!(
        (
            astana_money.donations_received,
            astana_money.pledged_open_tiyn,
            astana_money.budget_delivered_tiyn
        ),
        (0, 1_000_000, 500_000)
    );
    let national_money = national
        .figures
        .as_ref()
        .and_then(|f| f.donations.as_ref())
        .expect("national money");
    assert_eq!(national_money.budget_delivered_tiyn, 1_200_000);
    assert_eq!(national_money.pledged_open_tiyn, 1_000_000);

    // Appeals: the open one is overdue at the report's instant, the 30-hour one was late;
    // the median of 2 h and 30 h is 16 h, the 90th percentile (nearest rank) 30 h.
    let appeals = almaty.appeals.as_ref().expect("appeals");
    assert_eq!(
        (
            appeals.received,
            appeals.open,
            appeals.in_progress,
            appeals.answered,
            appeals.overdue,
            appeals.responded_late
        ),
        (3, 1, 1, 1, 1, 1)
    );
    assert_eq!(
        appeals.median_time_to_first_response.map(|d| d.seconds),
        Some(16 * 3600)
    );
    assert_eq!(
        appeals.p90_time_to_first_response.map(|d| d.seconds),
        Some(30 * 3600)
    );
    assert_eq!(appeals.by_category[0].appeals, 2, "two requests for help");
    let national_appeals = national
        .figures
        .as_ref()
        .and_then(|f| f.appeals.as_ref())
        .expect("national appeals");
    assert_eq!(national_appeals.by_category, appeals.by_category);
    let quiet = region(&national, "KZ-71")
        .appeals
        .as_ref()
        .expect("appeals");
    assert_eq!(quiet.received, 0);
    assert!(quiet.median_time_to_first_response.is_none());

    // Attendance: each child's latest check among all its records.
    let checks = almaty.attendance.as_ref().expect("attendance");
    assert_eq!(
        (
            checks.checked,
            checks.not_checked,
            checks.attending,
            checks.not_attending,
            checks.awaiting_follow_up,
            checks.followed_up
        ),
        (3, 0, 2, 1, 1, 1)
    );
    assert_eq!(
        checks.by_reason[1].reason,
        pb::AbsenceReason::Illness as i32
    );
    assert_eq!(checks.by_reason[1].children, 1);
    assert_eq!(
        region(&national, "KZ-71")
            .attendance
            .as_ref()
            .expect("attendance")
            .not_checked,
        1
    );

    // The price trend: the national series and the region's.
    let series: Vec<&str> = national
        .price_trend
        .iter()
        .map(|p| p.region_code.as_str())
        .collect();
    assert_eq!(series, ["", "KZ-75"]);
}

#[tokio::test]
async fn a_regional_report_is_its_regions_and_regional_staff_read_only_theirs() {
    let s = scenario().await;
    let almaty = report(&s.api, &regional("KZ-75"), "KZ-75")
        .await
        .expect("Almaty's report");
    names_no_child(&almaty, &s.children);
    assert_eq!(almaty.region_code, "KZ-75");
    assert!(almaty.regions.is_empty());
    let national = report(&s.api, &coordinator(), "").await.expect("national");
    assert_eq!(almaty.figures.as_ref(), Some(region(&national, "KZ-75")));
    assert!(almaty.price_trend.iter().all(|p| p.region_code == "KZ-75"));

    assert_refused(
        report(&s.api, &regional("KZ-75"), "").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        report(&s.api, &regional("KZ-75"), "KZ-71").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    for stranger in [
        school_staff("school-1"),
        donor("donor-1"),
        operator("KZ-75"),
    ] {
        assert_refused(
            report(&s.api, &stranger, "KZ-75").await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    assert_refused(
        report(&s.api, &coordinator(), "KZ-79").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let refused = report(&s.api, &coordinator(), "KZ").await;
    assert_eq!(bad_fields(&refused.expect_err("refused")), ["region_code"]);
    let missing = s
        .api
        .get_campaign_report(request(
            &coordinator(),
            report_time(),
            pb::GetCampaignReportRequest {
                campaign: "campaigns/none".into(),
                region_code: String::new(),
            },
        ))
        .await;
    assert_refused(missing, Code::NotFound, "NOT_FOUND");
}

async fn summary(
    api: &ReportsApi,
    caller: &Caller,
    region: &str,
    campaign: &str,
) -> Result<pb::RegionSummary, Status> {
    api.get_region_summary(request(
        caller,
        report_time(),
        pb::GetRegionSummaryRequest {
            region_code: region.into(),
            campaign: campaign.into(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn the_region_summary_counts_children_and_help_per_campaign() {
    let s = scenario().await;
    let almaty = summary(&s.api, &regional("KZ-75"), "KZ-75", "")
        .await
        .expect("summary");
    names_no_child(&almaty, &s.children);
    assert_eq!(almaty.campaigns.len(), 1);
    let part = &almaty.campaigns[0];
    assert_eq!(part.campaign, CAMPAIGN);
    assert_eq!(
        (
            part.children_identified,
            part.children_helped,
            part.help_delivered_tiyn
        ),
        (3, 2, 2_700_000)
    );
    let astana = summary(&s.api, &coordinator(), "KZ-71", CAMPAIGN)
        .await
        .expect("summary");
    assert_eq!(
        (
            astana.campaigns[0].children_identified,
            astana.campaigns[0].help_delivered_tiyn
        ),
        (1, 500_000),
        "the removed record's help stays in the money"
    );
    let elsewhere = summary(&s.api, &coordinator(), "RU-ALT", "")
        .await
        .expect("a region in no campaign");
    assert!(elsewhere.campaigns.is_empty());
    assert_eq!(elsewhere.region_code, "RU-ALT");

    assert_refused(
        summary(&s.api, &regional("KZ-71"), "KZ-75", "").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_refused(
        summary(&s.api, &donor("donor-1"), "KZ-75", "").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        summary(&s.api, &coordinator(), "KZ-75", "campaigns/none").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_eq!(
        bad_fields(
            &summary(&s.api, &coordinator(), "", "")
                .await
                .expect_err("refused")
        ),
        ["region_code"]
    );
    assert_eq!(
        bad_fields(
            &summary(&s.api, &coordinator(), "Almaty", "")
                .await
                .expect_err("refused")
        ),
        ["region_code"]
    );
}

fn fair_request(
    school: &str,
    region: &str,
    format: pb::FairListFormat,
) -> pb::ExportFairListRequest {
    pb::ExportFairListRequest {
        campaign: CAMPAIGN.into(),
        school: school.into(),
        region_code: region.into(),
        format: format as i32,
        ..Default::default()
    }
}

/// The messages of a fair list, or its refusal.
async fn export(
    api: &ReportsApi,
    caller: &Caller,
    body: pb::ExportFairListRequest,
) -> Result<Vec<pb::ExportFairListResponse>, Status> {
    let stream = api
        .export_fair_list(request(caller, report_time(), body))
        .await?
        .into_inner();
    stream
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
}

fn file(messages: &[pb::ExportFairListResponse]) -> Vec<u8> {
    messages.iter().flat_map(|m| m.data.clone()).collect()
}

/// The family names of a CSV list, in order.
fn csv_families(bytes: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let body = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(body.as_bytes());
    reader
        .records()
        .map(|r| r.expect("a row")[3].to_string())
        .collect()
}

#[tokio::test]
async fn a_fair_list_is_ordered_leaves_out_covered_needs_and_never_prints_an_iin() {
    let s = scenario().await;
    let staff = regional("KZ-75");
    let messages = export(
        &s.api,
        &staff,
        fair_request("", "KZ-75", pb::FairListFormat::Csv),
    )
    .await
    .expect("Almaty's list");
    assert_eq!(messages[0].content_type, "text/csv; charset=utf-8");
    assert_eq!(messages[0].file_name, "fair-list-kz-75-2023-09-10.csv");
    let bytes = file(&messages);
    // By school (Школа school-1 before Школа school-2), grade, then name in Kazakh order.
    assert_eq!(csv_families(&bytes), ["Үсенов", "Әбенова", "Абаев"]);
    let text = String::from_utf8(bytes).expect("UTF-8");
    for child in &s.children {
        assert!(!text.contains(&child.iin), "an IIN on the list");
    }
    assert!(!text.contains("LOW_INCOME") && !text.contains("Малообеспеч"));
    // «Әбенова»: the uniform is covered and left out; the shoes have 6 000 ₸ left.
    let abenova = text
        .lines()
        .find(|l| l.contains("Әбенова"))
        .expect("her row");
    assert!(abenova.contains("Обувь — 6\u{a0}000,00"), "{abenova}");
    assert!(!abenova.contains("Школьная форма"), "{abenova}");
    // «Үсенов»: the stationery of a merged record is covered, so only the backpack.
    let usenov = text
        .lines()
        .find(|l| l.contains("Үсенов"))
        .expect("his row");
    assert!(usenov.contains("Рюкзак — 8\u{a0}000,00") && !usenov.contains("Канцел"));

    let every = export(
        &s.api,
        &staff,
        pb::ExportFairListRequest {
            include_covered: true,
            ..fair_request("", "KZ-75", pb::FairListFormat::Csv)
        },
    )
    .await
    .expect("with covered needs");
    let every = String::from_utf8(file(&every)).expect("UTF-8");
    let usenov = every
        .lines()
        .find(|l| l.contains("Үсенов"))
        .expect("his row");
    assert!(usenov.contains("Канцелярские товары — 0,00"), "{usenov}");

    let backpacks = export(
        &s.api,
        &staff,
        pb::ExportFairListRequest {
            item: pb::NeedItem::Backpack as i32,
            ..fair_request("", "KZ-75", pb::FairListFormat::Csv)
        },
    )
    .await
    .expect("backpacks only");
    assert_eq!(csv_families(&file(&backpacks)), ["Үсенов"]);

    let school = export(
        &s.api,
        &school_staff("school-2"),
        fair_request("schools/school-2", "", pb::FairListFormat::Csv),
    )
    .await
    .expect("school 2's list");
    assert_eq!(csv_families(&file(&school)), ["Абаев"]);

    let audited =
        s.fx.count("SELECT count(*) FROM aid.audit_log WHERE action = 'fair_list.exported'")
            .await;
    assert_eq!(audited, 4, "every export is audited");
}

#[tokio::test]
async fn a_fair_list_prints_as_pdf_with_kazakh_letters_in_chunks() {
    let s = scenario().await;
    // Each region's headquarters comes with the campaign.
    sqlx::query(
        "INSERT INTO aid.activities (id, campaign_id, headquarters_id, kind, title, start_date,
                                     place, state, create_time, update_time)
         VALUES ('fair-1', 'doroga-v-shkolu-2023', 'kz-75', 'SCHOOL_FAIR',
                 'Школьная ярмарка «Қош келдің, мектеп!»', DATE '2023-08-20',
                 'ТРЦ «Мега»', 'PLANNED', now(), now()),
                ('meeting-1', 'doroga-v-shkolu-2023', 'kz-75', 'MEETING', 'Заседание штаба',
                 DATE '2023-08-02', '', 'PLANNED', now(), now())",
    )
    .execute(s.fx.db.pool())
    .await
    .expect("a fair");
    let fair = format!("{CAMPAIGN}/headquarters/kz-75/activities/fair-1");
    let messages = export(
        &s.api,
        &school_staff("school-1"),
        pb::ExportFairListRequest {
            activity: fair.clone(),
            ..fair_request("schools/school-1", "", pb::FairListFormat::Pdf)
        },
    )
    .await
    .expect("a PDF");
    assert_eq!(messages[0].content_type, "application/pdf");
    assert_eq!(messages[0].file_name, "fair-list-school-1-2023-09-10.pdf");
    assert!(messages.iter().skip(1).all(|m| m.content_type.is_empty()));
    assert!(messages.iter().all(|m| m.data.len() <= 64 * 1024));
    let bytes = file(&messages);
    assert!(bytes.starts_with(b"%PDF-"));
    let text = pdf_extract::extract_text_from_mem(&bytes).expect("extractable text");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in ["Әбенова", "Үсенов", "Қош келдің, мектеп!", "Школа school-1"]
    {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    assert!(!text.contains("Абаев"), "another school's child");

    let meeting = format!("{CAMPAIGN}/headquarters/kz-75/activities/meeting-1");
    let refused = export(
        &s.api,
        &school_staff("school-1"),
        pb::ExportFairListRequest {
            activity: meeting,
            ..fair_request("schools/school-1", "", pb::FairListFormat::Pdf)
        },
    )
    .await;
    assert_eq!(bad_fields(&refused.expect_err("refused")), ["activity"]);
    let missing = export(
        &s.api,
        &school_staff("school-1"),
        pb::ExportFairListRequest {
            activity: format!("{CAMPAIGN}/headquarters/kz-75/activities/none"),
            ..fair_request("schools/school-1", "", pb::FairListFormat::Pdf)
        },
    )
    .await;
    assert_refused(missing, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn a_fair_list_is_printed_only_by_the_schools_staff_and_its_regions() {
    let s = scenario().await;
    let csv = pb::FairListFormat::Csv;
    assert_refused(
        export(
            &s.api,
            &school_staff("school-1"),
            fair_request("schools/school-3", "", csv),
        )
        .await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    assert_refused(
        export(
            &s.api,
            &school_staff("school-1"),
            fair_request("", "KZ-75", csv),
        )
        .await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    assert_refused(
        export(
            &s.api,
            &regional("KZ-71"),
            fair_request("schools/school-1", "", csv),
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_refused(
        export(&s.api, &regional("KZ-71"), fair_request("", "KZ-75", csv)).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    for stranger in [coordinator(), donor("donor-1"), operator("KZ-75")] {
        assert_refused(
            export(&s.api, &stranger, fair_request("", "KZ-75", csv)).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    let both = export(
        &s.api,
        &regional("KZ-75"),
        fair_request("schools/school-1", "KZ-75", csv),
    )
    .await;
    assert_eq!(bad_fields(&both.expect_err("refused")), ["region_code"]);
    let neither = export(&s.api, &regional("KZ-75"), fair_request("", "", csv)).await;
    assert_eq!(bad_fields(&neither.expect_err("refused")), ["school"]);
    let no_format = export(
        &s.api,
        &regional("KZ-75"),
        fair_request("", "KZ-75", pb::FairListFormat::Unspecified),
    )
    .await;
    assert_eq!(bad_fields(&no_format.expect_err("refused")), ["format"]);
    // Another school of the region, read by the region's staff, is fine.
    let other = export(
        &s.api,
        &regional("KZ-71"),
        fair_request("schools/school-3", "", csv),
    )
    .await
    .expect("Astana's school");
    assert_eq!(csv_families(&file(&other)), ["Құрманов"]);
}
