//! `PublicationService` through its handlers: planning the media plan with its windows,
//! publishing with the featured people's consents, cancelling, and the list with its
//! lateness flags and redacted people; only the director and the appointed curator call it.

use edu_kit::auth::Caller;
use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_kit::wire;
use edu_mentoring::api::PublicationsApi;
use edu_mentoring::domain::ParticipantRole;
use edu_mentoring::domain::consent::ConsentPurpose;
use edu_mentoring::store::consents;
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::publication_service_server::PublicationService;
use jiff::Timestamp;
use jiff::civil::date;
use tonic::{Code, Response, Status};

use crate::callers::{
    at, curator, director, event_consumer, guardian, now, outsider, participant, regional_centre,
    request,
};
use crate::common::{Fixture, INST, PUPIL, appoint, consent, context, in_tx, person, revoke, who};

const MECHTA: &str = "institutions/mechta";

fn api(fx: &Fixture) -> PublicationsApi {
    PublicationsApi::new(fx.store.clone())
}

fn participant_name(id: &str) -> String {
    format!("{MECHTA}/participants/{id}")
}

fn day(y: i16, m: i8, d: i8) -> Option<edu_proto::google::r#type::Date> {
    Some(wire::date(date(y, m, d)))
}

/// A publication of `kind` about an event on `event` (none when `None`), on VK.
fn plan(kind: pb::PublicationKind, title: &str, event: Option<(i16, i8, i8)>) -> pb::Publication {
    pb::Publication {
        kind: kind as i32,
        title: title.into(),
        event_title: event
            .map(|_| "Слёт наставников".to_string())
            .unwrap_or_default(),
        event_date: event.and_then(|(y, m, d)| day(y, m, d)),
        channels: vec![pb::PublicationChannel::Vk as i32],
        ..pb::Publication::default()
    }
}

/// `person` featured in `publication`.
fn featuring(mut publication: pb::Publication, people: &[&str]) -> pb::Publication {
    publication.featured_participants = people.iter().map(|p| participant_name(p)).collect();
    publication
}

async fn create(
    api: &PublicationsApi,
    who: &Caller,
    publication: pb::Publication,
    request_id: &str,
) -> Result<pb::Publication, Status> {
    api.create_publication(request(
        who,
        now(),
        pb::CreatePublicationRequest {
            parent: MECHTA.into(),
            publication: Some(publication),
            request_id: request_id.into(),
        },
    ))
    .await
    .map(Response::into_inner)
}

fn publishing(name: &str, uri: &str) -> pb::PublishPublicationRequest {
    pb::PublishPublicationRequest {
        name: name.into(),
        uri: uri.into(),
        ..pb::PublishPublicationRequest::default()
    }
}

async fn publish(
    api: &PublicationsApi,
    who: &Caller,
    clock: Timestamp,
    body: pb::PublishPublicationRequest,
) -> Result<pb::Publication, Status> {
    api.publish_publication(request(who, clock, body))
        .await
        .map(Response::into_inner)
}

async fn cancel(
    api: &PublicationsApi,
    who: &Caller,
    name: &str,
    reason: &str,
    etag: &str,
) -> Result<pb::Publication, Status> {
    api.cancel_publication(request(
        who,
        now(),
        pb::CancelPublicationRequest {
            name: name.into(),
            reason: reason.into(),
            etag: etag.into(),
        },
    ))
    .await
    .map(Response::into_inner)
}

async fn list(
    api: &PublicationsApi,
    who: &Caller,
    clock: Timestamp,
    body: pb::ListPublicationsRequest,
) -> Result<pb::ListPublicationsResponse, Status> {
    api.list_publications(request(who, clock, body))
        .await
        .map(Response::into_inner)
}

fn of_mechta() -> pb::ListPublicationsRequest {
    pb::ListPublicationsRequest {
        parent: MECHTA.into(),
        ..pb::ListPublicationsRequest::default()
    }
}

fn titles(page: &pb::ListPublicationsResponse) -> Vec<&str> {
    page.publications.iter().map(|p| p.title.as_str()).collect()
}

/// Gives participant `id` a consent to PUBLICATION, through the store.
async fn publication_consent(fx: &Fixture, id: &str) {
    let mut draft = consent(false);
    draft.purpose = ConsentPurpose::Publication;
    in_tx!(fx, |tx| consents::give(
        &mut tx,
        &context(),
        INST,
        id,
        &draft
    )
    .await)
    .expect("consent to publication");
}

#[tokio::test]
async fn a_publication_is_planned_with_its_window_and_featured_people() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    let mut release = featuring(
        plan(
            pb::PublicationKind::PressRelease,
            "Стартовала школа наставников для вожатых",
            Some((2025, 3, 10)),
        ),
        &["v"],
    );
    release.channels = vec![
        pb::PublicationChannel::Website as i32,
        pb::PublicationChannel::Vk as i32,
    ];
    let planned = create(&api, &director(), release.clone(), "plan-1")
        .await
        .expect("planned");
    assert!(
        planned
            .name
            .starts_with("institutions/mechta/publications/")
    );
    assert_eq!(planned.kind, pb::PublicationKind::PressRelease as i32);
    assert_eq!(planned.title, "Стартовала школа наставников для вожатых");
    assert_eq!(planned.event_title, "Слёт наставников");
    assert_eq!(planned.event_date, day(2025, 3, 10));
    assert_eq!(planned.channels, release.channels);
    assert_eq!(planned.state, pb::PublicationState::Planned as i32);
    // D−5 … D−3, closing at 00:00 of D−2 in Saratov.
    assert_eq!(planned.window_start_date, day(2025, 3, 5));
    assert_eq!(planned.due_date, day(2025, 3, 7));
    assert_eq!(
        planned.due_time,
        Some(wire::timestamp(at("2025-03-08T00:00:00+04:00")))
    );
    assert_eq!(planned.timing, pb::PublicationTiming::Pending as i32);
    assert!(!planned.late);
    assert!(!planned.consent_withdrawn);
    assert_eq!(planned.uri, "");
    assert_eq!(planned.publish_time, None);
    assert_eq!(planned.featured_participants, [participant_name("v")]);
    assert_eq!(planned.featured_people.len(), 1);
    let featured = &planned.featured_people[0];
    assert_eq!(featured.participant, participant_name("v"));
    assert_eq!(featured.role, pb::ParticipantRole::Volunteer as i32);
    assert_eq!(featured.display_name, "Фамилия-v Тест Условный");
    assert!(!featured.redacted);
    assert_eq!(planned.create_time, Some(wire::timestamp(now())));
    assert!(!planned.etag.is_empty());
    // The same request again answers the first result; another under its ID is refused.
    let again = create(&api, &director(), release.clone(), "plan-1")
        .await
        .expect("retried");
    assert_eq!(again, planned);
    let reused = create(
        &api,
        &director(),
        plan(pb::PublicationKind::Digest, "Дайджест", None),
        "plan-1",
    )
    .await
    .expect_err("reused");
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    // A kind without a deadline has no window.
    let digest = create(
        &api,
        &director(),
        plan(pb::PublicationKind::Digest, "Дайджест месяца", None),
        "",
    )
    .await
    .expect("digest");
    assert_eq!(digest.timing, pb::PublicationTiming::NoDeadline as i32);
    assert_eq!(
        (digest.window_start_date, digest.due_date, digest.due_time),
        (None, None, None)
    );
}

#[tokio::test]
async fn planning_refuses_bad_fields_unknown_people_and_anyone_but_the_staff() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    person(&fx, "kid", PUPIL).await;
    let mut bad = plan(pb::PublicationKind::Unspecified, " ", None);
    bad.channels = vec![
        pb::PublicationChannel::Vk as i32,
        pb::PublicationChannel::Vk as i32,
    ];
    let refused = create(&api, &director(), bad, "").await.expect_err("bad");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&refused),
        [
            "publication.kind",
            "publication.title",
            "publication.channels",
        ]
    );
    // A press release without its event, no channel, a participant twice.
    let mut eventless = featuring(
        plan(pb::PublicationKind::PostRelease, "Итоги слёта", None),
        &["v", "v"],
    );
    eventless.channels = vec![];
    let refused = create(&api, &director(), eventless, "")
        .await
        .expect_err("eventless");
    assert_eq!(
        bad_fields(&refused),
        [
            "publication.event_title",
            "publication.event_date",
            "publication.channels",
            "publication.featured_participants",
        ]
    );
    let crowd: Vec<String> = (0..51).map(|i| format!("p{i}")).collect();
    let crowd: Vec<&str> = crowd.iter().map(String::as_str).collect();
    let refused = create(
        &api,
        &director(),
        featuring(
            plan(pb::PublicationKind::PhotoAlbum, "Альбом", None),
            &crowd,
        ),
        "",
    )
    .await
    .expect_err("too many");
    assert_eq!(bad_fields(&refused), ["publication.featured_participants"]);
    let mut elsewhere = plan(pb::PublicationKind::PhotoAlbum, "Альбом", None);
    elsewhere.featured_participants = vec!["institutions/elsewhere/participants/v".into()];
    let refused = create(&api, &director(), elsewhere, "")
        .await
        .expect_err("another institution's participant");
    assert_eq!(bad_fields(&refused), ["publication.featured_participants"]);
    // A featured participant who does not exist.
    let refused = create(
        &api,
        &director(),
        featuring(
            plan(pb::PublicationKind::PhotoAlbum, "Альбом", None),
            &["ghost"],
        ),
        "",
    )
    .await
    .expect_err("unknown person");
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(reason(&refused), "NOT_FOUND");
    // Only the director and the appointed curator.
    let digest = plan(pb::PublicationKind::Digest, "Дайджест", None);
    let refused = create(&api, &outsider(), digest.clone(), "")
        .await
        .expect_err("outsider");
    assert_eq!(refused.code(), Code::NotFound);
    for someone in [
        participant("v"),
        guardian("kid"),
        regional_centre("RU-SAR"),
        event_consumer(),
    ] {
        let refused = create(&api, &someone, digest.clone(), "")
            .await
            .expect_err("not staff");
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert_eq!(reason(&refused), "ROLE_REQUIRED");
    }
    let refused = create(&api, &curator("v"), digest, "")
        .await
        .expect_err("not appointed");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "CURATOR_NOT_APPOINTED");
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.publications")
            .await,
        0
    );
}

#[tokio::test]
async fn publishing_judges_the_window_and_needs_the_featured_peoples_consents() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "c", who(ParticipantRole::Educator)).await;
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    appoint(&fx, "c").await;
    // The appointed curator keeps the media plan.
    let appointed = curator("c");
    let on_time = create(
        &api,
        &appointed,
        plan(
            pb::PublicationKind::PressRelease,
            "Анонс",
            Some((2025, 3, 10)),
        ),
        "",
    )
    .await
    .expect("planned");
    let late = create(
        &api,
        &appointed,
        plan(
            pb::PublicationKind::PressRelease,
            "Поздний анонс",
            Some((2025, 3, 10)),
        ),
        "",
    )
    .await
    .expect("planned");
    let people = create(
        &api,
        &appointed,
        featuring(
            plan(pb::PublicationKind::PhotoAlbum, "Фото слёта", None),
            &["v"],
        ),
        "",
    )
    .await
    .expect("planned");
    // Recorded on 9 March as gone out at 23:59 of 7 March: within D−5 … D−3.
    let mut body = publishing(&on_time.name, "https://vk.com/wall-1_1");
    body.publish_time = Some(wire::timestamp(at("2025-03-07T23:59:00+04:00")));
    body.etag = on_time.etag.clone();
    let shown = publish(&api, &appointed, at("2025-03-09T10:00:00+04:00"), body)
        .await
        .expect("published");
    assert_eq!(shown.state, pb::PublicationState::Published as i32);
    assert_eq!(shown.timing, pb::PublicationTiming::OnTime as i32);
    assert!(!shown.late);
    assert_eq!(shown.uri, "https://vk.com/wall-1_1");
    assert_eq!(
        shown.publish_time,
        Some(wire::timestamp(at("2025-03-07T23:59:00+04:00")))
    );
    assert_eq!(
        shown.update_time,
        Some(wire::timestamp(at("2025-03-09T10:00:00+04:00")))
    );
    // At 00:00 of 8 March, the time of the call: late, and published all the same.
    let mut body = publishing(&late.name, "https://mechta-saratov.ru/news/2");
    body.request_id = "publish-late".into();
    let shown = publish(
        &api,
        &appointed,
        at("2025-03-08T00:00:00+04:00"),
        body.clone(),
    )
    .await
    .expect("late but published");
    assert_eq!(shown.timing, pb::PublicationTiming::Late as i32);
    assert!(shown.late);
    let again = publish(
        &api,
        &appointed,
        at("2025-03-08T00:00:00+04:00"),
        body.clone(),
    )
    .await
    .expect("retried");
    assert_eq!(again, shown);
    let mut other = body.clone();
    other.uri = "https://mechta-saratov.ru/news/3".into();
    let reused = publish(&api, &appointed, at("2025-03-08T00:00:00+04:00"), other)
        .await
        .expect_err("reused");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    // Published already.
    let refused = publish(
        &api,
        &appointed,
        now(),
        publishing(&late.name, "https://mechta-saratov.ru/news/2"),
    )
    .await
    .expect_err("published already");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("PUBLISHED")
    );
    // Fields: a link that is not a web URL, none, an instant in the future.
    for uri in ["ftp://mechta-saratov.ru/a", "vk.com/wall", ""] {
        let refused = publish(&api, &appointed, now(), publishing(&people.name, uri))
            .await
            .expect_err("not a link");
        assert_eq!(bad_fields(&refused), ["uri"], "{uri}");
    }
    let mut future = publishing(&people.name, "https://vk.com/wall-1_3");
    future.publish_time = Some(wire::timestamp(at("2025-02-12T10:00:01+04:00")));
    let refused = publish(&api, &appointed, now(), future)
        .await
        .expect_err("in the future");
    assert_eq!(bad_fields(&refused), ["publish_time"]);
    // A featured participant without a consent to PUBLICATION.
    let refused = publish(
        &api,
        &appointed,
        now(),
        publishing(&people.name, "https://vk.com/wall-1_3"),
    )
    .await
    .expect_err("no consent to publication");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&refused, "participant"),
        Some(participant_name("v"))
    );
    assert_eq!(
        error_metadata(&refused, "purpose").as_deref(),
        Some("PUBLICATION")
    );
    publication_consent(&fx, "v").await;
    let mut stale = publishing(&people.name, "https://vk.com/wall-1_3");
    stale.etag = "\"7\"".into();
    let refused = publish(&api, &appointed, now(), stale)
        .await
        .expect_err("stale");
    assert_eq!(refused.code(), Code::Aborted);
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    let shown = publish(
        &api,
        &appointed,
        now(),
        publishing(&people.name, "https://vk.com/wall-1_3"),
    )
    .await
    .expect("published with consent");
    assert_eq!(shown.timing, pb::PublicationTiming::NoDeadline as i32);
    // Strangers and a publication that does not exist.
    let refused = publish(
        &api,
        &outsider(),
        now(),
        publishing(&people.name, "https://vk.com/x"),
    )
    .await
    .expect_err("outsider");
    assert_eq!(refused.code(), Code::NotFound);
    let refused = publish(
        &api,
        &participant("v"),
        now(),
        publishing(&people.name, "https://vk.com/x"),
    )
    .await
    .expect_err("a participant");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    let refused = publish(
        &api,
        &director(),
        now(),
        publishing("institutions/mechta/publications/ghost", "https://vk.com/x"),
    )
    .await
    .expect_err("missing");
    assert_eq!(refused.code(), Code::NotFound);
}

#[tokio::test]
async fn cancelling_drops_a_planned_publication_once_and_never_a_published_one() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    let planned = create(
        &api,
        &director(),
        plan(
            pb::PublicationKind::PressRelease,
            "Анонс",
            Some((2025, 3, 10)),
        ),
        "",
    )
    .await
    .expect("planned");
    let refused = cancel(&api, &director(), &planned.name, " ", "")
        .await
        .expect_err("no reason");
    assert_eq!(bad_fields(&refused), ["reason"]);
    let refused = cancel(&api, &director(), &planned.name, "слёт перенесён", "\"9\"")
        .await
        .expect_err("stale");
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    let refused = cancel(&api, &outsider(), &planned.name, "слёт перенесён", "")
        .await
        .expect_err("outsider");
    assert_eq!(refused.code(), Code::NotFound);
    let refused = cancel(&api, &participant("v"), &planned.name, "слёт перенесён", "")
        .await
        .expect_err("participant");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    let cancelled = cancel(
        &api,
        &director(),
        &planned.name,
        "слёт перенесён",
        &planned.etag,
    )
    .await
    .expect("cancelled");
    assert_eq!(cancelled.state, pb::PublicationState::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "слёт перенесён");
    assert_eq!(cancelled.timing, pb::PublicationTiming::NoDeadline as i32);
    assert!(!cancelled.late);
    // Cancelling again returns it unchanged.
    let again = cancel(&api, &director(), &planned.name, "ещё раз", "")
        .await
        .expect("unchanged");
    assert_eq!(again, cancelled);
    // A cancelled one is not published, a published one not cancelled.
    let refused = publish(
        &api,
        &director(),
        now(),
        publishing(&planned.name, "https://vk.com/x"),
    )
    .await
    .expect_err("cancelled");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("CANCELLED")
    );
    let digest = create(
        &api,
        &director(),
        plan(pb::PublicationKind::Digest, "Дайджест", None),
        "",
    )
    .await
    .expect("planned");
    publish(
        &api,
        &director(),
        now(),
        publishing(&digest.name, "https://vk.com/x"),
    )
    .await
    .expect("published");
    let refused = cancel(&api, &director(), &digest.name, "передумали", "")
        .await
        .expect_err("published");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("PUBLISHED")
    );
}

#[tokio::test]
async fn the_media_plan_lists_latest_first_flags_lateness_and_redacts_revoked_people() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    publication_consent(&fx, "v").await;
    let album = create(
        &api,
        &director(),
        featuring(plan(pb::PublicationKind::PhotoAlbum, "Фото", None), &["v"]),
        "",
    )
    .await
    .expect("planned");
    publish(
        &api,
        &director(),
        now(),
        publishing(&album.name, "https://vk.com/album-1"),
    )
    .await
    .expect("published");
    for (kind, title, event) in [
        (pb::PublicationKind::PressRelease, "Анонс", (2025, 3, 10)),
        (pb::PublicationKind::PostRelease, "Итоги", (2025, 4, 1)),
        (pb::PublicationKind::Longread, "Лонгрид", (2025, 1, 20)),
    ] {
        create(&api, &director(), plan(kind, title, Some(event)), "")
            .await
            .expect("planned");
    }
    // By event day, those without one by the day they were planned (12 February).
    let everything = list(&api, &director(), now(), of_mechta())
        .await
        .expect("listed");
    assert_eq!(titles(&everything), ["Итоги", "Анонс", "Фото", "Лонгрид"]);
    let first = list(
        &api,
        &director(),
        now(),
        pb::ListPublicationsRequest {
            page_size: 3,
            ..of_mechta()
        },
    )
    .await
    .expect("first page");
    assert_eq!(titles(&first), ["Итоги", "Анонс", "Фото"]);
    let second = list(
        &api,
        &director(),
        now(),
        pb::ListPublicationsRequest {
            page_size: 3,
            page_token: first.next_page_token.clone(),
            ..of_mechta()
        },
    )
    .await
    .expect("second page");
    assert_eq!(titles(&second), ["Лонгрид"]);
    assert_eq!(second.next_page_token, "");
    let refused = list(
        &api,
        &director(),
        now(),
        pb::ListPublicationsRequest {
            page_size: 3,
            late_only: true,
            page_token: first.next_page_token.clone(),
            ..of_mechta()
        },
    )
    .await
    .expect_err("another query");
    assert_eq!(reason(&refused), "PAGE_TOKEN_INVALID");
    // At 00:00 of 8 March the press release's window has closed: overdue, so late.
    let late = list(
        &api,
        &director(),
        at("2025-03-08T00:00:00+04:00"),
        pb::ListPublicationsRequest {
            late_only: true,
            ..of_mechta()
        },
    )
    .await
    .expect("late");
    assert_eq!(titles(&late), ["Анонс"]);
    assert_eq!(
        late.publications[0].timing,
        pb::PublicationTiming::Overdue as i32
    );
    assert!(late.publications[0].late);
    let published = list(
        &api,
        &director(),
        now(),
        pb::ListPublicationsRequest {
            state: pb::PublicationState::Published as i32,
            ..of_mechta()
        },
    )
    .await
    .expect("published");
    assert_eq!(titles(&published), ["Фото"]);
    let releases = list(
        &api,
        &director(),
        now(),
        pb::ListPublicationsRequest {
            kind: pb::PublicationKind::PostRelease as i32,
            ..of_mechta()
        },
    )
    .await
    .expect("post-releases");
    assert_eq!(titles(&releases), ["Итоги"]);
    // The featured volunteer revokes: the album is flagged and shows them redacted.
    revoke(&fx, "v").await.expect("revoked");
    let withdrawn = list(
        &api,
        &director(),
        now(),
        pb::ListPublicationsRequest {
            consent_withdrawn_only: true,
            ..of_mechta()
        },
    )
    .await
    .expect("withdrawn");
    // Its texts may describe them, so they are hidden too.
    assert_eq!(titles(&withdrawn), [""]);
    let album = &withdrawn.publications[0];
    assert!(album.consent_withdrawn);
    assert!(album.redacted);
    assert_eq!(album.featured_participants, [participant_name("v")]);
    let shown = &album.featured_people[0];
    assert_eq!(shown.participant, participant_name("v"));
    assert_eq!(shown.role, pb::ParticipantRole::Volunteer as i32);
    assert!(shown.redacted);
    assert_eq!(shown.display_name, "");
    assert!(!shown.minor);
    // Only the director and the appointed curator read the media plan.
    let refused = list(&api, &outsider(), now(), of_mechta())
        .await
        .expect_err("outsider");
    assert_eq!(refused.code(), Code::NotFound);
    for someone in [participant("v"), regional_centre("RU-SAR")] {
        let refused = list(&api, &someone, now(), of_mechta())
            .await
            .expect_err("not staff");
        assert_eq!(reason(&refused), "ROLE_REQUIRED");
    }
    let refused = list(&api, &curator("v"), now(), of_mechta())
        .await
        .expect_err("not appointed");
    assert_eq!(reason(&refused), "CURATOR_NOT_APPOINTED");
}
