//! The certificates service binary: `certificates serve` (the default), `certificates migrate`, or
//! `certificates demo` (its demo data through a running gateway). Configuration comes from
//! `EDU_*` variables (see edu_kit::config).

use std::process::ExitCode;

use edu_certificates::{MIGRATOR, SERVICE_NAME, api, store::Store};
use edu_kit::app::{self, DatabaseService};

fn main() -> ExitCode {
    app::main(DatabaseService {
        name: SERVICE_NAME,
        migrator: &MIGRATOR,
        grpc_services: &api::SERVICE_NAMES,
        anonymous_methods: edu_proto::PUBLIC_METHODS,
        routes: |pool, limits| api::routes(Store::new(pool), limits),
        demo: |channel| Box::pin(edu_certificates::demo::describe(channel)),
    })
}
