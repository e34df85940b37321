//! The request body of a call whose client sends one message (unary and server-streaming,
//! every RPC of the suite): read whole, up to the size limit, and checked to be exactly one
//! gRPC frame before any handler runs. tonic answers INTERNAL for an empty body, a bad
//! compression flag or a truncated frame, and silently drops a second message; here each is
//! the caller's mistake, refused with INVALID_ARGUMENT and a reason, and a body over the
//! limit is RESOURCE_EXHAUSTED as the gRPC specification has it.
//!
//! The bytes are kept in the request's extensions ([`BufferedBody`]), so that a proxy can
//! send them again to another backend when the first never received them.

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};

use crate::error::{ApiError, ErrorKind, Reason, reason};

/// The length of a gRPC frame's header: a compression flag and a four-byte length.
const FRAME_HEADER: usize = 5;

/// Reasons for a body that is not one gRPC message.
pub mod frame_reason {
    use super::Reason;

    /// The body is larger than the process accepts.
    pub const MESSAGE_TOO_LARGE: Reason = Reason::new(
        "MESSAGE_TOO_LARGE",
        "Сообщение запроса больше, чем принимает сервис.",
    );
}

/// A call's request body, read and checked: one complete gRPC frame.
#[derive(Debug, Clone)]
pub struct BufferedBody(pub Bytes);

/// Reads `body` (at most `max_message` bytes of message) and checks that it is exactly one
/// gRPC frame.
pub async fn read_one_message<B>(
    body: B,
    headers: &HeaderMap,
    max_message: usize,
) -> Result<Bytes, ApiError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = max_message.saturating_add(FRAME_HEADER);
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return Err(if error.is::<http_body_util::LengthLimitError>() {
                too_large(max_message)
            } else {
                // The client reset the stream or its connection broke while it sent: the
                // call ended on its side, as a call it abandons while the handler runs does
                // (CANCELLED), not because this service was unavailable.
                ApiError::new(
                    ErrorKind::Cancelled,
                    reason::CALL_CANCELLED,
                    "the caller went away before its request arrived whole",
                )
            });
        }
    };
    check_frame(&bytes, headers, max_message)?;
    Ok(bytes)
}

fn too_large(max_message: usize) -> ApiError {
    ApiError::new(
        ErrorKind::ResourceExhausted,
        frame_reason::MESSAGE_TOO_LARGE,
        format!("the request message is larger than the limit of {max_message} bytes"),
    )
    .with_metadata("limit_bytes", max_message.to_string())
    .in_russian(format!(
        "Сообщение запроса больше допустимых {max_message} байт."
    ))
}

fn malformed(what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidArgument,
        reason::MESSAGE_UNDECODABLE,
        format!("the request body is not one gRPC message: {what}"),
    )
}

/// Checks that `body` is one complete frame whose message fits the limit.
fn check_frame(body: &[u8], headers: &HeaderMap, max_message: usize) -> Result<(), ApiError> {
    let Some(header) = body.get(..FRAME_HEADER) else {
        return Err(malformed(if body.is_empty() {
            "it is empty"
        } else {
            "it ends inside the frame header"
        }));
    };
    match header[0] {
        0 => {}
        // Compressed: tonic answers when the encoding is named (UNIMPLEMENTED, as the suite
        // takes none); without an encoding it cannot be read at all.
        1 if headers.contains_key("grpc-encoding") => {}
        1 => return Err(malformed("compressed, but no grpc-encoding is named")),
        _ => return Err(malformed("the compression flag is neither 0 nor 1")),
    }
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if length > max_message {
        return Err(too_large(max_message));
    }
    let available = body.len() - FRAME_HEADER;
    if available < length {
        return Err(malformed("it ends before the message does"));
    }
    if available > length {
        return Err(malformed(
            "a call of this method carries one message, and this has more",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![flag];
        out.extend_from_slice(&declared.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn refusal(body: &[u8]) -> Option<(tonic::Code, String)> {
        check_frame(body, &HeaderMap::new(), 100).err().map(|e| {
            let status = tonic::Status::from(e);
            (status.code(), crate::testing::reason(&status))
        })
    }

    #[tokio::test]
    async fn a_body_the_caller_abandoned_is_cancelled_not_unavailable() {
        let parts: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = vec![
            Ok(http_body::Frame::data(Bytes::from(frame(0, 10, b"abc")))),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "stream reset by the client",
            )),
        ];
        let body = http_body_util::StreamBody::new(futures::stream::iter(parts));
        let error = read_one_message(body, &HeaderMap::new(), 100)
            .await
            .expect_err("the body broke");
        let status = tonic::Status::from(error);
        assert_eq!(status.code(), tonic::Code::Cancelled);
        assert_eq!(crate::testing::reason(&status), "CALL_CANCELLED");
    }

    #[test]
    fn exactly_one_whole_frame_passes() {
        assert_eq!(refusal(&frame(0, 3, b"abc")), None);
        assert_eq!(refusal(&frame(0, 0, b"")), None, "an empty message");
    }

    #[test]
    fn anything_else_is_the_callers_mistake_never_internal() {
        let invalid = Some((
            tonic::Code::InvalidArgument,
            "MESSAGE_UNDECODABLE".to_string(),
        ));
        assert_eq!(refusal(b""), invalid, "empty");
        assert_eq!(refusal(&[0, 0]), invalid, "a cut header");
        assert_eq!(refusal(&frame(7, 3, b"abc")), invalid, "a bad flag");
        assert_eq!(
            refusal(&frame(1, 3, b"abc")),
            invalid,
            "compressed, no encoding"
        );
        assert_eq!(refusal(&frame(0, 10, b"abc")), invalid, "truncated");
        let mut two = frame(0, 1, b"a");
        two.extend(frame(0, 1, b"b"));
        assert_eq!(refusal(&two), invalid, "two messages");
        assert_eq!(
            refusal(&frame(0, 101, &[0; 101])),
            Some((
                tonic::Code::ResourceExhausted,
                "MESSAGE_TOO_LARGE".to_string()
            ))
        );
    }
}
