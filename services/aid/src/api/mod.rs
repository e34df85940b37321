//! The gRPC services of `edu.aid.v1`. Each handler parses the request, authorises the
//! caller ([`access`]), calls the store, and maps the result ([`convert`]); refusals become
//! statuses in one place per module ([`errors`] for the shared ones, and each module's
//! `reason` for its own).

pub mod access;
mod appeals;
mod attendance;
mod campaigns;
mod children;
pub mod convert;
mod donations;
pub mod errors;
mod events;
mod headquarters;
mod imports;
mod needs;
mod prices;
mod reports;
mod schools;

use edu_kit::config::Limits;
// Handlers answer through the kit's one mapping of results to tonic.
use edu_kit::error::respond;
use edu_proto::edu::aid::v1::appeal_service_server::{self, AppealServiceServer};
use edu_proto::edu::aid::v1::attendance_service_server::{self, AttendanceServiceServer};
use edu_proto::edu::aid::v1::campaign_service_server::{self, CampaignServiceServer};
use edu_proto::edu::aid::v1::child_service_server::{self, ChildServiceServer};
use edu_proto::edu::aid::v1::donation_service_server::{self, DonationServiceServer};
use edu_proto::edu::aid::v1::event_service_server::{self, EventServiceServer};
use edu_proto::edu::aid::v1::headquarters_service_server::{self, HeadquartersServiceServer};
use edu_proto::edu::aid::v1::import_service_server::{self, ImportServiceServer};
use edu_proto::edu::aid::v1::need_service_server::{self, NeedServiceServer};
use edu_proto::edu::aid::v1::price_service_server::{self, PriceServiceServer};
use edu_proto::edu::aid::v1::report_service_server::{self, ReportServiceServer};
use edu_proto::edu::aid::v1::school_service_server::{self, SchoolServiceServer};
use tonic::service::Routes;

use crate::store::Store;

pub use appeals::AppealsApi;
pub use attendance::AttendanceApi;
pub use campaigns::CampaignsApi;
pub use children::ChildrenApi;
pub use donations::DonationsApi;
pub use events::EventsApi;
pub use headquarters::HeadquartersApi;
pub use imports::{ImportsApi, UploadLimits};
pub use needs::NeedsApi;
pub use prices::PricesApi;
pub use reports::ReportsApi;
pub use schools::SchoolsApi;

/// The gRPC services this process serves, by full name.
pub const SERVICE_NAMES: [&str; 12] = [
    campaign_service_server::SERVICE_NAME,
    headquarters_service_server::SERVICE_NAME,
    school_service_server::SERVICE_NAME,
    child_service_server::SERVICE_NAME,
    import_service_server::SERVICE_NAME,
    need_service_server::SERVICE_NAME,
    donation_service_server::SERVICE_NAME,
    appeal_service_server::SERVICE_NAME,
    price_service_server::SERVICE_NAME,
    attendance_service_server::SERVICE_NAME,
    report_service_server::SERVICE_NAME,
    event_service_server::SERVICE_NAME,
];

/// The routes of every aid service, with the process's message size limit.
pub fn routes(store: Store, limits: &Limits) -> Routes {
    let max = limits.max_message_bytes;
    Routes::new(edu_kit::served!(
        CampaignServiceServer<_>,
        CampaignsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        HeadquartersServiceServer<_>,
        HeadquartersApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        SchoolServiceServer<_>,
        SchoolsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ChildServiceServer<_>,
        ChildrenApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ImportServiceServer<_>,
        ImportsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        NeedServiceServer<_>,
        NeedsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        DonationServiceServer<_>,
        DonationsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        AppealServiceServer<_>,
        AppealsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        PriceServiceServer<_>,
        PricesApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        AttendanceServiceServer<_>,
        AttendanceApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        ReportServiceServer<_>,
        ReportsApi::new(store.clone()),
        max
    ))
    .add_service(edu_kit::served!(
        EventServiceServer<_>,
        EventsApi::new(store),
        max
    ))
}
