//! `make certs`: writes a local test PKI into a directory (default `certs/`), with no openssl.
//!
//! ```text
//! make_certs [DIR]
//! ```
//!
//! Idempotent: a certificate whose `.pem` and `.key` both exist is kept, so running it
//! twice changes nothing. When the CA already exists, new leaf certificates are signed
//! by it. See `certs/README.md` for what each file is.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};

type BoxError = Box<dyn std::error::Error>;

const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Writes a local test PKI (CA, server, client, expired, wrong-host and
/// unknown-CA certificates) into DIR, with no openssl. Idempotent: existing
/// certificate/key pairs are kept.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Where to write the PEM files.
    #[arg(value_name = "DIR", default_value = "certs")]
    dir: PathBuf,
}

fn main() {
    let Cli { dir } = Cli::parse();
    if let Err(e) = run(&dir) {
        eprintln!("make_certs: {e}");
        std::process::exit(1);
    }
}

fn run(dir: &Path) -> Result<(), BoxError> {
    fs::create_dir_all(dir)?;
    let ca = load_or_make_ca(dir, "ca", "aioproto test CA")?;
    let other_ca = load_or_make_ca(dir, "other-ca", "aioproto unknown CA")?;

    leaf(
        dir,
        "server",
        &ca,
        "localhost",
        &SERVER_NAMES,
        Kind::Server,
        false,
    )?;
    leaf(
        dir,
        "client",
        &ca,
        "aioproto test client",
        &[],
        Kind::Client,
        false,
    )?;
    leaf(
        dir,
        "expired",
        &ca,
        "localhost",
        &SERVER_NAMES,
        Kind::Server,
        true,
    )?;
    leaf(
        dir,
        "other-server",
        &other_ca,
        "localhost",
        &SERVER_NAMES,
        Kind::Server,
        false,
    )?;
    leaf(
        dir,
        "wrong-host",
        &ca,
        "wrong.example",
        &["wrong.example"],
        Kind::Server,
        false,
    )?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    Server,
    Client,
}

fn paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "aioproto tests");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2049, 12, 31);
    params
}

/// Loads `NAME.pem`/`NAME.key` as an issuer, or creates a self-signed CA there.
fn load_or_make_ca(
    dir: &Path,
    name: &str,
    common_name: &str,
) -> Result<Issuer<'static, KeyPair>, BoxError> {
    let (cert_path, key_path) = paths(dir, name);
    if cert_path.exists() && key_path.exists() {
        let key = KeyPair::from_pem(&fs::read_to_string(&key_path)?)?;
        // The CA's name and usages are fixed here, so its parameters are rebuilt as they
        // were; the key identifier comes from the key.
        let issuer = Issuer::new(ca_params(common_name), key);
        println!("kept    {}", cert_path.display());
        return Ok(issuer);
    }
    let key = KeyPair::generate()?;
    let params = ca_params(common_name);
    let cert = params.self_signed(&key)?;
    write(&cert_path, &cert.pem())?;
    write(&key_path, &key.serialize_pem())?;
    println!("created {} ({common_name})", cert_path.display());
    Ok(Issuer::new(params, key))
}

/// Creates `NAME.pem`/`NAME.key` signed by `issuer`, unless both exist.
fn leaf(
    dir: &Path,
    name: &str,
    issuer: &Issuer<'_, KeyPair>,
    common_name: &str,
    sans: &[&str],
    kind: Kind,
    expired: bool,
) -> Result<(), BoxError> {
    let (cert_path, key_path) = paths(dir, name);
    if cert_path.exists() && key_path.exists() {
        println!("kept    {}", cert_path.display());
        return Ok(());
    }
    let mut params =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?;
    params.distinguished_name = distinguished_name(common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match kind {
        Kind::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Kind::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    } else {
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(2049, 12, 31);
    }
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    write(&cert_path, &cert.pem())?;
    write(&key_path, &key.serialize_pem())?;
    println!("created {}", cert_path.display());
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), BoxError> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}
