//! The proxy's connections to its backends: HTTP/2 spoken with the `h2` crate directly.
//!
//! Why not tonic's `Channel`, which the views still use: every call through a `Channel`
//! passes a buffer task, hyper's dispatch queue and a task hyper spawns per request before
//! it reaches the connection, and its answer comes back through two more hand-offs. On the
//! gateway's hot path those wake-ups cost more CPU than the forwarding itself (measured with
//! `edu-bench suite --only reads`, see the README's benchmark section). Here the calling task
//! opens the stream, writes the request and reads the answer itself; only the connection's
//! own task runs besides it.
//!
//! A [`Lane`] is one connection to one endpoint, opened on first use (TCP, TLS with ALPN h2
//! when the backends have a CA) and opened again on the next call after it closed. Its
//! failures say whether the backend can have seen the call ([`NotSent`]), which the proxy's
//! retry relies on.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use http_body::{Body, Frame};
use hyper::body::Bytes;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The call never reached the backend: the connection could not be opened, or it was
/// closed before the request was written. Sending the call again is safe.
#[derive(Debug, thiserror::Error)]
#[error("not sent: {0}")]
pub struct NotSent(#[source] pub BoxError);

/// How a lane reaches its endpoint: the address, and TLS when the backends have a CA.
#[derive(Clone)]
pub struct Connector {
    addr: SocketAddr,
    /// `http` or `https`, and the authority the requests name (`host:port`: the
    /// certificate's name over TLS), parsed once rather than per call.
    scheme: Scheme,
    authority: Authority,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Connector {
    /// Plaintext to `addr`.
    pub fn plaintext(addr: SocketAddr) -> Self {
        Connector {
            addr,
            scheme: Scheme::HTTP,
            authority: Authority::try_from(addr.to_string())
                .expect("a socket address is an authority"),
            tls: None,
        }
    }

    /// TLS to `addr` with `config` (whose ALPN offers h2), verifying the certificate names
    /// `server_name`.
    pub fn tls(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Result<Self, String> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| format!("{server_name:?}: {e}"))?;
        let authority = Authority::try_from(format!("{server_name}:{}", addr.port()))
            .map_err(|e| format!("{server_name:?}: {e}"))?;
        Ok(Connector {
            addr,
            scheme: Scheme::HTTPS,
            authority,
            tls: Some((tokio_rustls::TlsConnector::from(config), name)),
        })
    }

    async fn connect(
        &self,
        closed: impl FnOnce() + Send + 'static,
    ) -> Result<SendRequest<Bytes>, BoxError> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let mut builder = h2::client::Builder::new();
        builder
            .initial_window_size(1024 * 1024)
            .initial_connection_window_size(8 * 1024 * 1024)
            .max_header_list_size(64 * 1024);
        let send = match &self.tls {
            None => spawn_connection(builder.handshake(tcp).await?, closed),
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await?;
                spawn_connection(builder.handshake(tls).await?, closed)
            }
        };
        Ok(send)
    }
}

/// Drives a connection until it closes, then calls `closed`.
fn spawn_connection<T>(
    (send, connection): (SendRequest<Bytes>, h2::client::Connection<T, Bytes>),
    closed: impl FnOnce() + Send + 'static,
) -> SendRequest<Bytes>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "backend connection closed");
        }
        closed();
    });
    send
}

/// The open connection of a lane, with the number it was opened as.
type Open = Arc<Mutex<Option<(u64, SendRequest<Bytes>)>>>;

/// A request's body as the proxy has it.
#[derive(Debug)]
pub enum Outgoing<B> {
    /// Read whole already (every call but a client stream): written at once, and can be
    /// sent again.
    Whole(Bytes),
    /// A client stream, written as it arrives; sent once only.
    Streamed(B),
}

/// One HTTP/2 connection to one endpoint, opened when first needed and again after it
/// closed.
#[derive(Debug)]
pub struct Lane {
    connector: Connector,
    /// The open connection; the connection's task empties it when the connection ends, so
    /// that the next call opens a new one rather than failing on the old.
    open: Open,
    /// Held while opening, so that concurrent calls wait for one connection.
    opening: tokio::sync::Mutex<()>,
    opened: AtomicU64,
}

impl Lane {
    /// A lane to the connector's endpoint; nothing is opened yet.
    pub fn new(connector: Connector) -> Self {
        Lane {
            connector,
            open: Open::default(),
            opening: tokio::sync::Mutex::new(()),
            opened: AtomicU64::new(0),
        }
    }

    fn current(&self) -> Option<(u64, SendRequest<Bytes>)> {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The open connection, opening one when there is none.
    async fn connection(&self) -> Result<(u64, SendRequest<Bytes>), NotSent> {
        if let Some(open) = self.current() {
            return Ok(open);
        }
        let _opening = self.opening.lock().await;
        if let Some(open) = self.current() {
            return Ok(open);
        }
        let number = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        let open = Arc::downgrade(&self.open);
        let closed = move || {
            if let Some(open) = open.upgrade() {
                forget(&open, number);
            }
        };
        let send = tokio::time::timeout(CONNECT_TIMEOUT, self.connector.connect(closed))
            .await
            .map_err(|_| NotSent(format!("no connection within {CONNECT_TIMEOUT:?}").into()))?
            .map_err(NotSent)?;
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = Some((number, send.clone()));
        Ok((number, send))
    }

    /// Forgets connection `number` (closed or failing), so that the next call opens a new
    /// one; a newer connection is kept.
    fn forget(&self, number: u64) {
        forget(&self.open, number);
    }

    /// Sends `request` (whose URI is the path) with `body` and returns the backend's answer,
    /// streaming.
    pub async fn call<B>(
        &self,
        request: Request<()>,
        body: Outgoing<B>,
    ) -> Result<Response<UpstreamBody>, BoxError>
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError> + Send,
    {
        let (number, send) = self.connection().await?;
        let mut send = match send.ready().await {
            Ok(send) => send,
            Err(error) => {
                // The connection closed before anything was written on it.
                self.forget(number);
                return Err(NotSent(error.into()).into());
            }
        };
        let (mut parts, ()) = request.into_parts();
        parts.uri = self.uri(std::mem::take(&mut parts.uri))?;
        let empty = matches!(&body, Outgoing::Whole(bytes) if bytes.is_empty());
        let (response, mut stream) = match send.send_request(Request::from_parts(parts, ()), empty)
        {
            Ok(sent) => sent,
            Err(error) => {
                self.forget(number);
                return Err(NotSent(error.into()).into());
            }
        };
        match body {
            Outgoing::Whole(bytes) if !empty => stream.send_data(bytes, true)?,
            Outgoing::Whole(_) => {}
            // A streamed request (an upload) is written beside the answer, which may begin
            // before the upload ends.
            Outgoing::Streamed(body) => drop(tokio::spawn(pump(body, stream))),
        }
        let response = response.await.inspect_err(|error| {
            if error.is_go_away() || error.is_io() {
                self.forget(number);
            }
        })?;
        Ok(response.map(UpstreamBody::new))
    }

    /// The request's absolute URI at this lane's endpoint, as HTTP/2 requires: its path with
    /// the lane's scheme and authority, assembled from parsed parts.
    fn uri(&self, uri: Uri) -> Result<Uri, BoxError> {
        let mut parts = uri.into_parts();
        parts.scheme = Some(self.connector.scheme.clone());
        parts.authority = Some(self.connector.authority.clone());
        if parts.path_and_query.is_none() {
            parts.path_and_query = Some(PathAndQuery::from_static("/"));
        }
        Ok(Uri::from_parts(parts)?)
    }
}

/// Empties `open` if it still holds connection `number`.
fn forget(open: &Mutex<Option<(u64, SendRequest<Bytes>)>>, number: u64) {
    let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
    if open.as_ref().is_some_and(|(n, _)| *n == number) {
        *open = None;
    }
}

/// Writes a streamed request body to its stream as the stream's window allows, then its
/// trailers or the end of the stream; resets the stream when the body fails.
async fn pump<B>(mut body: B, mut stream: SendStream<Bytes>)
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError> + Send,
{
    use http_body_util::BodyExt;
    loop {
        match body.frame().await {
            None => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
            Some(Err(_)) => {
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(mut data) => {
                    while !data.is_empty() {
                        stream.reserve_capacity(data.len());
                        let granted =
                            match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
                                Some(Ok(n)) => n,
                                _ => return,
                            };
                        let chunk = data.split_to(granted.min(data.len()));
                        if stream.send_data(chunk, false).is_err() {
                            return;
                        }
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        let _ = stream.send_trailers(trailers);
                        return;
                    }
                }
            },
        }
    }
}

/// A backend's answer body: its data frames, each acknowledged to the backend's flow
/// control once passed on, then its trailers (gRPC's status).
#[derive(Debug)]
pub struct UpstreamBody {
    stream: RecvStream,
    data_done: bool,
}

impl UpstreamBody {
    fn new(stream: RecvStream) -> Self {
        UpstreamBody {
            stream,
            data_done: false,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let this = &mut *self;
        if !this.data_done {
            match this.stream.poll_data(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(data))) => {
                    let _ = this.stream.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => this.data_done = true,
            }
        }
        match this.stream.poll_trailers(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(trailers))) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }
}
