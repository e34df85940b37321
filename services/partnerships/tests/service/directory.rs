//! The directory of innovations: Bulgarian words found whatever their case, stress marks or
//! ending, in Bulgarian alphabetical order, page after page.

use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::school_service_server::SchoolService;

use crate::common::*;

async fn describe(fx: &Fixture, school: &str, id: &str, title: &str, description: &str) {
    fx.schools
        .create_innovation(request(
            &ministry(),
            in_window(),
            pb::CreateInnovationRequest {
                parent: format!("schools/{school}"),
                innovation: Some(pb::Innovation {
                    area: pb::InnovationArea::CurriculumContent as i32,
                    title: title.into(),
                    description: description.into(),
                    ..Default::default()
                }),
                innovation_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("innovation");
}

async fn search(
    fx: &Fixture,
    query: &str,
    page_size: i32,
    token: &str,
) -> pb::SearchInnovationsResponse {
    fx.schools
        .search_innovations(request(
            &school("reader"),
            in_window(),
            pb::SearchInnovationsRequest {
                query: query.into(),
                page_size,
                page_token: token.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("search")
        .into_inner()
}

#[tokio::test]
async fn bulgarian_words_match_in_any_case_accent_and_ending_in_bulgarian_order() {
    let fx = Fixture::new().await;
    // Display names chosen so that byte order and Bulgarian order differ: «Ѝ» and «Ъ».
    for (id, name) in [
        ("yu", "Юнашко училище"),
        ("a", "Ален мак"),
        ("ch", "Чавдар"),
    ] {
        fx.innovative(id, "BG-16").await;
        sqlx::query("UPDATE partnerships.schools SET display_name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(fx.db.pool())
            .await
            .expect("rename");
    }
    describe(&fx, "yu", "stem", "ИНОВАЦИИ в STEM", "Интегрирани уроци").await;
    describe(
        &fx,
        "a",
        "reading",
        "Четене с разбиране",
        "Иновацията ѝ е в библиотеката",
    )
    .await;
    describe(
        &fx,
        "ch",
        "garden",
        "Училищна градина",
        "Учениците отглеждат растения",
    )
    .await;

    let found = search(&fx, "иновация", 50, "").await;
    let titles: Vec<&str> = found.innovations.iter().map(|i| i.title.as_str()).collect();
    // Bulgarian order of the school names (А… before Ч… before Ю…), then of the titles,
    // case aside («иновации» before «иновация»); every school's «Иновация на …» matches too.
    assert_eq!(
        titles,
        [
            "Иновация на a",
            "Четене с разбиране",
            "Иновация на ch",
            "ИНОВАЦИИ в STEM",
            "Иновация на yu"
        ]
    );
    let stressed = search(&fx, "Учени́ците", 50, "").await;
    assert_eq!(stressed.innovations.len(), 1);
    assert_eq!(stressed.innovations[0].title, "Училищна градина");
    assert!(search(&fx, "робот", 50, "").await.innovations.is_empty());

    // Stable paging: two pages of the same query hold every result once, in order.
    let first = search(&fx, "иновация", 3, "").await;
    let second = search(&fx, "иновация", 3, &first.next_page_token).await;
    let paged: Vec<String> = first
        .innovations
        .iter()
        .chain(&second.innovations)
        .map(|i| i.title.clone())
        .collect();
    assert_eq!(paged, titles);
    assert!(second.next_page_token.is_empty());
}
