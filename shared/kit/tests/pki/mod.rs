//! Certificates and keys made for a test, never stored: certificate authorities, server
//! and client certificates (valid, expired, from another CA), and token signing keys.

#![allow(dead_code)] // Each test target uses part of it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};

/// A test certificate authority.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
pub struct Issued {
    pub cert: String,
    pub key: String,
}

impl Authority {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        Authority { issuer }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A client certificate naming `san` (a DNS name, or a URI when it holds a `:`), valid
    /// now, or expired a year ago.
    pub fn client(&self, san: &str, expired: bool) -> Issued {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, san);
        let name = san.try_into().expect("IA5 name");
        params.subject_alt_names = vec![if san.contains(':') {
            SanType::URI(name)
        } else {
            SanType::DnsName(name)
        }];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// A token signing key made now.
pub struct SigningKey {
    pub private_pem: String,
    pub public_pem: String,
    pub kid: String,
}

impl SigningKey {
    pub fn ed25519() -> Self {
        let pair = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
        let public_pem = pair.public_key_pem();
        let kid = edu_kit::auth::public_key_jwk(public_pem.as_bytes())
            .expect("jwk")
            .common
            .key_id
            .expect("kid");
        SigningKey {
            private_pem: pair.serialize_pem(),
            public_pem,
            kid,
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> jsonwebtoken::jwk::Jwk {
        edu_kit::auth::public_key_jwk(self.public_pem.as_bytes()).expect("jwk")
    }

    /// A token of `issuer` for `subject`, valid five minutes, named `kid` (its own when
    /// `None`).
    pub fn sign(&self, issuer: &str, subject: &str, kid: Option<&str>) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(kid.unwrap_or(&self.kid).to_string());
        let key = jsonwebtoken::EncodingKey::from_ed_pem(self.private_pem.as_bytes()).expect("key");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let claims = serde_json::json!({
            "iss": issuer, "aud": edu_kit::auth::dev::AUDIENCE, "sub": subject,
            "iat": now, "exp": now + 300, "roles": ["competitions.observer"],
        });
        jsonwebtoken::encode(&header, &claims, &key).expect("sign")
    }
}

/// A JWKS document of `keys`.
pub fn jwks(keys: &[&SigningKey]) -> String {
    serde_json::to_string(&jsonwebtoken::jwk::JwkSet {
        keys: keys.iter().map(|k| k.jwk()).collect(),
    })
    .expect("json")
}

/// A directory of its own for a test's files.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edu-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Writes `text` to `dir/name`, replacing the file at once.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let staged = dir.join(format!(".{name}.new"));
    std::fs::write(&staged, text).expect("write");
    std::fs::rename(&staged, &path).expect("rename");
    path
}

/// A TLS handshake with the server at `addr` (as `localhost`, trusting `server_ca`),
/// presenting `client` when given, and the start of an HTTP/2 exchange: `Ok` when the
/// server answers, else what ended it — `received fatal alert: UnknownCA` and the like. (In
/// TLS 1.3 the server judges the client's certificate after the client's side of the
/// handshake is done, so its alert comes with the first read.)
pub async fn handshake(
    addr: std::net::SocketAddr,
    server_ca: &str,
    client: Option<&Issued>,
) -> Result<(), String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server_ca.as_bytes()).expect("CA"))
        .expect("root");
    let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let mut config = match client {
        Some(issued) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(issued.cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("chain"),
                PrivateKeyDer::from_pem_slice(issued.key.as_bytes()).expect("key"),
            )
            .expect("client certificate"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .map_err(|e| e.to_string())?;
    let mut first = [0_u8; 1];
    match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut first)).await {
        Ok(Ok(0)) => Err("closed without a word".into()),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer".into()),
    }
}
