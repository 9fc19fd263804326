//! TLS for tests: a throwaway CA and server certificates made at test time (never committed),
//! a TLS client that reports what it negotiated, and a TLS echo upstream.

use gatehouse::echo::EchoState;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslConnector, SslMethod, SslVersion};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use pingora::tls::tokio_ssl::SslStream;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A CA that signs server certificates into `dir`.
pub struct Ca {
    pub cert: X509,
    key: PKey<Private>,
    pub dir: PathBuf,
}

impl Ca {
    pub fn new(dir: &Path, cn: &str) -> Ca {
        let key = key();
        let cert = build(cn, None, &key, &[]);
        let ca = Ca { cert, key, dir: dir.to_path_buf() };
        std::fs::write(ca.ca_file(cn), ca.cert.to_pem().unwrap()).unwrap();
        ca
    }

    pub fn ca_file(&self, cn: &str) -> PathBuf {
        self.dir.join(format!("{cn}-ca.pem"))
    }

    /// Issue a certificate for `names` (DNS names or IP addresses); returns (cert, key) paths.
    pub fn issue(&self, file: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let key = key();
        let cert = build(names[0], Some((&self.cert, &self.key)), &key, names);
        let (c, k) = (self.dir.join(format!("{file}.crt")), self.dir.join(format!("{file}.key")));
        std::fs::write(&c, cert.to_pem().unwrap()).unwrap();
        std::fs::write(&k, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        (c, k)
    }
}

fn build(cn: &str, issuer: Option<(&X509, &PKey<Private>)>, key: &PKey<Private>, sans: &[&str]) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(fastrand::u32(1..u32::MAX)).unwrap().to_asn1_integer().unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map(|(c, _)| c.subject_name()).unwrap_or(&name)).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    match issuer {
        None => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
            b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build().unwrap()).unwrap();
        }
        Some((ca, _)) => {
            let mut san = SubjectAlternativeName::new();
            for n in sans {
                if n.parse::<std::net::IpAddr>().is_ok() {
                    san.ip(n);
                } else {
                    san.dns(n);
                }
            }
            let ext = san.build(&b.x509v3_context(Some(ca), None)).unwrap();
            b.append_extension(ext).unwrap();
            b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap()).unwrap();
        }
    }
    b.sign(issuer.map(|(_, k)| k).unwrap_or(key), MessageDigest::sha256()).unwrap();
    b.build()
}

/// Connect over TLS trusting `ca`; the name is checked against `sni` when `check_name`.
pub async fn connect(
    addr: SocketAddr,
    sni: Option<&str>,
    check_name: bool,
    ca: &Path,
    alpn: &[u8],
    max: Option<SslVersion>,
) -> Result<SslStream<TcpStream>, String> {
    let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
    b.set_ca_file(ca).unwrap();
    b.set_alpn_protos(alpn).unwrap();
    if let Some(v) = max {
        // Old protocol versions need the lowest security level to be offered at all.
        b.set_cipher_list("DEFAULT:@SECLEVEL=0").unwrap();
        b.set_min_proto_version(Some(v)).map_err(|e| format!("client min version: {e}"))?;
        b.set_max_proto_version(Some(v)).map_err(|e| format!("client max version: {e}"))?;
    }
    let mut cfg = b.build().configure().unwrap();
    cfg.set_use_server_name_indication(sni.is_some());
    cfg.set_verify_hostname(check_name && sni.is_some());
    let ssl = cfg.into_ssl(sni.unwrap_or("none")).unwrap();
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let mut s = SslStream::new(ssl, tcp).unwrap();
    Pin::new(&mut s).connect().await.map_err(|e| e.to_string())?;
    Ok(s)
}

/// DNS names in the peer certificate's SAN.
pub fn peer_names(s: &SslStream<TcpStream>) -> Vec<String> {
    let cert = s.ssl().peer_certificate().expect("a peer certificate");
    gatehouse::tls::cert_names(&cert)
}

/// Wait until something accepts on `addr` (the TLS listener binds with the plain one).
pub async fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "{addr} is not listening");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The echo upstream behind TLS (HTTP/1.1) with the given certificate.
pub async fn echo_upstream(name: &str, cert: &Path, key: &Path) -> (SocketAddr, Arc<EchoState>) {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    b.set_certificate_chain_file(cert).unwrap();
    b.set_private_key_file(key, openssl::ssl::SslFiletype::PEM).unwrap();
    let acceptor = b.build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = EchoState::new(name);
    let st = state.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let ssl = openssl::ssl::Ssl::new(acceptor.context()).unwrap();
            let st = st.clone();
            tokio::spawn(async move {
                let mut s = SslStream::new(ssl, tcp).unwrap();
                if Pin::new(&mut s).accept().await.is_ok() {
                    gatehouse::echo::connection(s, st).await;
                }
            });
        }
    });
    (addr, state)
}
