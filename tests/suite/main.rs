//! The suite as a client sees it: real processes, real gRPC, through the gateway.

mod aid;
mod audit;
mod bench;
mod certificates;
mod child_view;
mod competitions;
mod contract;
mod gateway;
mod harness;
mod mentoring;
mod partnerships;
mod privacy;
mod robustness;
mod sdk;
mod story;
mod telemetry;
