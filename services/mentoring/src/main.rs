//! The mentoring service binary: `mentoring serve` (the default), `mentoring migrate`, or
//! `mentoring demo` (its demo data through a running gateway). Configuration comes from
//! `EDU_*` variables (see edu_kit::config).

use std::process::ExitCode;

use edu_kit::app::{self, DatabaseService};
use edu_mentoring::{MIGRATOR, SERVICE_NAME, api, store::Store};

fn main() -> ExitCode {
    app::main(DatabaseService {
        name: SERVICE_NAME,
        migrator: &MIGRATOR,
        grpc_services: &api::SERVICE_NAMES,
        anonymous_methods: edu_proto::PUBLIC_METHODS,
        routes: |pool, limits| api::routes(Store::new(pool), limits),
        demo: |channel| Box::pin(edu_mentoring::demo::describe(channel)),
    })
}
