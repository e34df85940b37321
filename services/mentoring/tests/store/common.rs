//! Fixtures: the «Мечта» centre in Saratov, fictional participants with their consents,
//! and helpers that run one use case in its own transaction.

#![allow(dead_code)]

use edu_kit::auth::{Caller, Claims};
use edu_kit::testing::TestDatabase;
use edu_kit::{ApiError, CallContext};
use edu_mentoring::domain::consent::{ConsentPurpose, GuardianRelation};
use edu_mentoring::domain::redaction::PersonName;
use edu_mentoring::domain::{MentoringForm, PairType, ParticipantRole};
use edu_mentoring::store::Store;
use edu_mentoring::store::agreements::{self, AgreementDraft};
use edu_mentoring::store::consents::{ConsentDraft, Guardian};
use edu_mentoring::store::institutions::{self, InstitutionDraft};
use edu_mentoring::store::pairs::{self, DirectorOrder, Pair, PairDraft};
use edu_mentoring::store::participants::{
    self, MenteeProfile, MentorProfile, Participant, ParticipantDraft, Personal, Training,
};
use edu_mentoring::{MIGRATOR, SERVICE_NAME};
use jiff::Timestamp;
use jiff::civil::{Date, date};

pub const INST: &str = "mechta";

pub struct Fixture {
    pub db: TestDatabase,
    pub store: Store,
}

impl Fixture {
    /// A fresh database with the «Мечта» centre registered.
    pub async fn new() -> Fixture {
        let db = TestDatabase::create(SERVICE_NAME, SERVICE_NAME, &MIGRATOR).await;
        let store = Store::new(db.pool().clone());
        let fx = Fixture { db, store };
        in_tx!(fx, |tx| institutions::create(
            &mut tx,
            &context(),
            &InstitutionDraft {
                id: INST.into(),
                display_name: "МУ ДО «ДООЦ «Мечта»»".into(),
                short_name: "Мечта".into(),
                region_code: "RU-SAR".into(),
                time_zone: "Europe/Saratov".into(),
                regulation: "Положение о наставничестве".into(),
            },
        )
        .await)
        .expect("institution");
        fx
    }

    pub async fn scalar(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .expect("scalar")
    }
}

/// The curator of «Мечта», on 12 February 2025 at 10:00 in Saratov.
pub fn context() -> CallContext {
    let caller = Caller::from_claims(Claims {
        sub: "curator".into(),
        name: None,
        roles: vec!["mentoring.curator".into()],
        scopes: vec![format!("institution:{INST}")],
    });
    let now: Timestamp = "2025-02-12T10:00:00+04:00".parse().expect("instant");
    CallContext::new(Some(caller), "test", None, now)
}

pub const TODAY: Date = date(2025, 2, 12);

/// The curator on 1 September 2024, when the fixtures' pairs are formed (their agreements
/// are signed on the 2nd, and a sign date may not come before the pair).
pub fn forming_context() -> CallContext {
    let caller = Caller::from_claims(Claims {
        sub: "curator".into(),
        name: None,
        roles: vec!["mentoring.curator".into()],
        scopes: vec![format!("institution:{INST}")],
    });
    let now: Timestamp = "2024-09-01T10:00:00+04:00".parse().expect("instant");
    CallContext::new(Some(caller), "test", None, now)
}

/// Runs one use case in its own transaction, committed when it succeeds.
macro_rules! in_tx {
    ($fx:expr, |$tx:ident| $body:expr) => {{
        let mut $tx = $fx.store.begin().await.expect("begin");
        let result = $body;
        if result.is_ok() {
            $tx.commit().await.expect("commit");
        }
        result
    }};
}
pub(crate) use in_tx;

pub fn reason(error: &ApiError) -> String {
    edu_kit::testing::reason(&tonic::Status::from(error.clone()))
}

/// A fictional person of `role` born on `birth`.
pub fn personal(family: &str, birth: Date) -> Personal {
    Personal {
        name: PersonName {
            family_name: family.into(),
            given_name: "Тест".into(),
            patronymic: "Условный".into(),
        },
        birth_date: birth,
        subject: String::new(),
        position: String::new(),
        phone: "+7 900 000-00-00".into(),
        email: String::new(),
        mentor_profile: None,
        mentee_profile: None,
        training: None,
    }
}

pub fn consent(guardian: bool) -> ConsentDraft {
    ConsentDraft {
        purpose: ConsentPurpose::PersonalData,
        guardian: guardian.then(|| Guardian {
            name: PersonName {
                family_name: "Родителева".into(),
                given_name: "Мама".into(),
                patronymic: String::new(),
            },
            relation: GuardianRelation::Parent,
            subject: String::new(),
        }),
        give_date: date(2024, 9, 1),
        document: "согласие (приложение № 2)".into(),
    }
}

/// The consent of [`consent`], with the guardian signing in as `parent-{id}`.
fn signed_in_consent(id: &str, guardian: bool) -> ConsentDraft {
    let mut draft = consent(guardian);
    if let Some(g) = draft.guardian.as_mut() {
        g.subject = format!("parent-{id}");
    }
    draft
}

/// Who a fixture person is.
#[derive(Clone, Copy)]
pub struct Who {
    pub role: ParticipantRole,
    pub mentor_bank: bool,
    pub mentee_bank: bool,
    pub trained: bool,
}

pub const MENTOR: Who = Who {
    role: ParticipantRole::Counsellor,
    mentor_bank: true,
    mentee_bank: false,
    trained: true,
};
pub const PUPIL: Who = Who {
    role: ParticipantRole::Pupil,
    mentor_bank: false,
    mentee_bank: true,
    trained: false,
};

pub fn who(role: ParticipantRole) -> Who {
    Who {
        role,
        mentor_bank: true,
        mentee_bank: true,
        trained: true,
    }
}

/// Records `id` as `who`, with consent (a guardian's for pupils, who are minors).
pub async fn person(fx: &Fixture, id: &str, who: Who) -> Participant {
    let minor = who.role == ParticipantRole::Pupil;
    let birth = if minor {
        date(2012, 3, 1)
    } else {
        date(1995, 5, 5)
    };
    let mut p = personal(&format!("Фамилия-{id}"), birth);
    // They sign in with their ID as token subject, a minor's parent with `parent-{id}`.
    p.subject = id.to_string();
    p.mentor_profile = who.mentor_bank.then(|| MentorProfile {
        competences: vec!["туризм".into()],
        ..MentorProfile::default()
    });
    p.mentee_profile = who.mentee_bank.then(|| MenteeProfile {
        request: "адаптация".into(),
        ..MenteeProfile::default()
    });
    p.training = (who.mentor_bank && who.trained).then(|| Training {
        complete_date: date(2024, 8, 20),
        programme: "Школа наставника".into(),
    });
    in_tx!(fx, |tx| participants::create(
        &mut tx,
        &context(),
        INST,
        &ParticipantDraft {
            id: id.into(),
            role: who.role,
            personal: p,
        },
        &signed_in_consent(id, minor),
    )
    .await)
    .expect("participant")
}

pub async fn pair(
    fx: &Fixture,
    id: &str,
    pair_type: PairType,
    form: MentoringForm,
    mentor: &str,
    mentees: &[&str],
) -> Result<Pair, ApiError> {
    in_tx!(fx, |tx| pairs::create(
        &mut tx,
        &forming_context(),
        INST,
        &PairDraft {
            id: id.into(),
            pair_type,
            form,
            mentor: mentor.into(),
            mentees: mentees.iter().map(|m| (*m).to_string()).collect(),
            goal: "адаптация в отряде".into(),
        },
    )
    .await)
}

pub async fn agreement(fx: &Fixture, pair: &str, sign: Date, months: u32) -> agreements::Agreement {
    in_tx!(fx, |tx| agreements::create(
        &mut tx,
        &context(),
        INST,
        pair,
        &AgreementDraft {
            tasks: vec!["адаптация в коллективе".into()],
            duration_months: months,
            sign_date: sign,
            representatives: vec![],
        },
    )
    .await)
    .expect("agreement")
}

pub async fn order(fx: &Fixture, pair: &str) -> Result<Pair, ApiError> {
    in_tx!(fx, |tx| pairs::record_order(
        &mut tx,
        &context(),
        INST,
        pair,
        &DirectorOrder {
            number: "17-н".into(),
            date: date(2024, 9, 2),
        },
        "",
    )
    .await)
}

pub async fn activate(fx: &Fixture, pair: &str) -> Result<Pair, ApiError> {
    in_tx!(fx, |tx| pairs::activate(
        &mut tx,
        &context(),
        INST,
        pair,
        ""
    )
    .await)
}

/// A counsellor–pupil pair `id` of `mentor` and `mentee`, FORMING with agreement and order.
pub async fn ready_pair(fx: &Fixture, id: &str, mentor: &str, mentee: &str) {
    pair(
        fx,
        id,
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        mentor,
        &[mentee],
    )
    .await
    .expect("pair");
    agreement(fx, id, date(2024, 9, 2), 12).await;
    order(fx, id).await.expect("order");
}

/// The director appoints participant `id` curator of «Мечта» (their token subject is `id`,
/// so `curator(id)` acts from then on).
pub async fn appoint(fx: &Fixture, id: &str) {
    in_tx!(fx, |tx| institutions::appoint_curator(
        &mut tx,
        &context(),
        INST,
        id,
        "приказ № 21 от 01.09.2024",
        ""
    )
    .await)
    .expect("appointed");
}

/// Revokes `id`'s consent to PERSONAL_DATA, recorded by the staff.
pub async fn revoke(
    fx: &Fixture,
    id: &str,
) -> Result<edu_mentoring::store::consents::Consent, ApiError> {
    use edu_mentoring::domain::consent::ActorKind;
    use edu_mentoring::store::consents;
    in_tx!(fx, |tx| {
        let setting = institutions::setting(&mut tx, INST, context().now()).await?;
        let consent = consents::list(&mut tx, &setting, id)
            .await?
            .into_iter()
            .find(|c| c.purpose == ConsentPurpose::PersonalData)
            .expect("a consent");
        consents::revoke(
            &mut tx,
            &context(),
            INST,
            id,
            &consent.id,
            ActorKind::Staff,
            "заявление об отзыве",
            "",
        )
        .await
    })
}
