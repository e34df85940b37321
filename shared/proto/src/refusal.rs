//! The refusals that happen before a handler runs (an undecodable body, a field beyond its
//! limits), as gRPC statuses with the same details every refusal of the suite carries:
//! `google.rpc.ErrorInfo` (reason, domain `edu.suite`), `google.rpc.BadRequest` for fields,
//! and `google.rpc.LocalizedMessage` in Russian.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::limits::Violations;

/// The `domain` of every `ErrorInfo` of the suite.
pub const ERROR_DOMAIN: &str = "edu.suite";
/// The locale of every `LocalizedMessage` of the suite.
pub const LOCALE: &str = "ru-RU";

/// Reasons given before a handler runs.
pub mod reason {
    /// A request field is missing or malformed; see the BadRequest details.
    pub const INVALID_FIELDS: &str = "INVALID_FIELDS";
    /// The request body is not a protobuf message of the method's request type.
    pub const MESSAGE_UNDECODABLE: &str = "MESSAGE_UNDECODABLE";
}

/// A status with the suite's details.
pub fn status(
    code: Code,
    reason: &str,
    message: &str,
    russian: &str,
    fields: Vec<FieldViolation>,
) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, ERROR_DOMAIN, HashMap::new());
    if !fields.is_empty() {
        details.set_bad_request(fields);
    }
    details.set_localized_message(LOCALE, russian);
    Status::with_error_details(code, message, details)
}

/// The body is not the method's message.
pub fn undecodable() -> Status {
    status(
        Code::InvalidArgument,
        reason::MESSAGE_UNDECODABLE,
        "the request body is not a protobuf message of this method's request type",
        "Тело запроса не является сообщением protobuf того типа, который ожидает метод.",
        Vec::new(),
    )
}

/// Fields beyond their limits.
pub fn invalid_fields(violations: &Violations) -> Status {
    let names: Vec<&str> = violations
        .listed()
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    let more = match violations.unlisted() {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let more_ru = match violations.unlisted() {
        0 => String::new(),
        n => format!(" и ещё {n}"),
    };
    status(
        Code::InvalidArgument,
        reason::INVALID_FIELDS,
        &format!("invalid fields: {}{more}", names.join(", ")),
        &format!(
            "Недопустимые значения полей: {}{more_ru}.",
            names.join(", ")
        ),
        violations
            .listed()
            .iter()
            .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
            .collect(),
    )
}
