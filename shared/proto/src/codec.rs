//! The codec every generated server and client uses: prost encoding, and on decoding a
//! request, the checks of [`crate::limits`] before any handler sees it. A body that is not
//! the method's message, or a field beyond its limits, is refused here with
//! INVALID_ARGUMENT (tonic's own codec answers INTERNAL for the first and nothing for the
//! second).

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use crate::limits::{CheckRequest, Violations};
use crate::refusal;

/// prost encoding with the suite's request checks on decoding.
#[derive(Debug, Clone)]
pub struct CheckedCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for CheckedCodec<T, U> {
    fn default() -> Self {
        CheckedCodec {
            _types: PhantomData,
        }
    }
}

impl<T, U> Codec for CheckedCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + CheckRequest + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder { _type: PhantomData }
    }
}

/// Decodes `U` and checks it.
#[derive(Debug, Clone)]
pub struct CheckedDecoder<U> {
    _type: PhantomData<U>,
}

impl<U: Message + Default + CheckRequest> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message = U::decode(buf).map_err(|_| refusal::undecodable())?;
        message
            .check_request()
            .map_err(|violations: Violations| refusal::invalid_fields(&violations))?;
        Ok(Some(message))
    }
}
