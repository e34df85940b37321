//! The gRPC room. So far only [`errors`]: how the rules' refusals reach a caller. The
//! handlers follow once the contract is adopted into `proto/`.

pub mod errors;
