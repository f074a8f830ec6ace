//! The project's one test PKI, made with rcgen (no openssl): `make certs`
//! writes it into `certs/`, and the tests make a fresh one in a temporary
//! directory with [`TempPki`], so they never depend on that directory's state.
//!
//! | name | what it is |
//! |---|---|
//! | `ca` | the CA clients trust ("aioproto test CA") |
//! | `server` | `localhost`, `127.0.0.1`, `::1`, signed by `ca` (serverAuth) |
//! | `client` | "aioproto test client", signed by `ca` (clientAuth), for mutual TLS |
//! | `expired` | as `server`, but valid only in 2020 |
//! | `wrong-host` | `wrong.example` only, signed by `ca` |
//! | `other-ca` | a second CA nobody trusts ("aioproto unknown CA") |
//! | `other-server` | as `server`, signed by `other-ca` |
//! | `sni-alt` | `alt.example` only, signed by `ca` (a second name for SNI) |
//!
//! Each is `NAME.pem` (the certificate) and `NAME.key` (its private key).
//!
//! ```
//! let pki = aioproto_test_pki::TempPki::new("doc").unwrap();
//! assert!(pki.cert("server").exists() && pki.key("server").exists());
//! assert_eq!(pki.ca(), pki.cert("ca"));
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};

/// The names a server certificate is valid for.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why the PKI could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Certificate { what: String, source: rcgen::Error },
}

/// What [`write`] did with one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// Both files were there and kept.
    Kept(PathBuf),
    /// Made now.
    Created(PathBuf),
}

/// Who signs a leaf certificate.
#[derive(Clone, Copy)]
enum Signer {
    Ca,
    OtherCa,
}

/// What a leaf certificate is for.
#[derive(Clone, Copy)]
enum Purpose {
    Server,
    Client,
}

/// One leaf certificate of the table in the crate docs.
struct Leaf {
    name: &'static str,
    signer: Signer,
    common_name: &'static str,
    names: &'static [&'static str],
    purpose: Purpose,
    expired: bool,
}

const LEAVES: [Leaf; 6] = [
    Leaf {
        name: "server",
        signer: Signer::Ca,
        common_name: "localhost",
        names: &SERVER_NAMES,
        purpose: Purpose::Server,
        expired: false,
    },
    Leaf {
        name: "client",
        signer: Signer::Ca,
        common_name: "aioproto test client",
        names: &[],
        purpose: Purpose::Client,
        expired: false,
    },
    Leaf {
        name: "expired",
        signer: Signer::Ca,
        common_name: "localhost",
        names: &SERVER_NAMES,
        purpose: Purpose::Server,
        expired: true,
    },
    Leaf {
        name: "wrong-host",
        signer: Signer::Ca,
        common_name: "wrong.example",
        names: &["wrong.example"],
        purpose: Purpose::Server,
        expired: false,
    },
    Leaf {
        name: "other-server",
        signer: Signer::OtherCa,
        common_name: "localhost",
        names: &SERVER_NAMES,
        purpose: Purpose::Server,
        expired: false,
    },
    Leaf {
        name: "sni-alt",
        signer: Signer::Ca,
        common_name: "alt.example",
        names: &["alt.example"],
        purpose: Purpose::Server,
        expired: false,
    },
];

/// Writes the whole PKI into `dir` (made if missing). With `keep_existing`,
/// a certificate whose `.pem` and `.key` both exist is kept, and new leaf
/// certificates are signed by the CA already there (`make certs` is
/// idempotent); otherwise every file is made anew.
///
/// # Errors
///
/// [`Error`] if a file cannot be read or written or rcgen refuses a certificate.
pub fn write(dir: &Path, keep_existing: bool) -> Result<Vec<Made>, Error> {
    fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut made = Vec::new();
    let ca = load_or_make_ca(dir, "ca", "aioproto test CA", keep_existing, &mut made)?;
    let other_ca = load_or_make_ca(
        dir,
        "other-ca",
        "aioproto unknown CA",
        keep_existing,
        &mut made,
    )?;
    for leaf in &LEAVES {
        let (cert_path, key_path) = paths(dir, leaf.name);
        if keep_existing && cert_path.exists() && key_path.exists() {
            made.push(Made::Kept(cert_path));
            continue;
        }
        let issuer = match leaf.signer {
            Signer::Ca => &ca,
            Signer::OtherCa => &other_ca,
        };
        let (cert, key) = sign(leaf, issuer)?;
        write_file(&cert_path, &cert)?;
        write_file(&key_path, &key)?;
        made.push(Made::Created(cert_path));
    }
    Ok(made)
}

/// A fresh PKI in a temporary directory of its own, removed on drop.
#[derive(Debug)]
pub struct TempPki {
    dir: PathBuf,
}

impl TempPki {
    /// Makes the whole PKI in a new directory whose name has `tag`, the
    /// process id and a counter, so parallel tests never share one.
    ///
    /// # Errors
    ///
    /// As [`write`].
    pub fn new(tag: &str) -> Result<TempPki, Error> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "aioproto-pki-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let pki = TempPki { dir };
        write(&pki.dir, false)?;
        Ok(pki)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `NAME.pem`.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }

    /// `NAME.key`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }

    /// The CA file clients trust (`ca.pem`).
    pub fn ca(&self) -> PathBuf {
        self.cert("ca")
    }
}

impl Drop for TempPki {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
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

/// The CA `name`: loaded from its key when kept, made (self-signed) otherwise.
fn load_or_make_ca(
    dir: &Path,
    name: &str,
    common_name: &str,
    keep_existing: bool,
    made: &mut Vec<Made>,
) -> Result<Issuer<'static, KeyPair>, Error> {
    let (cert_path, key_path) = paths(dir, name);
    let certificate = |source| Error::Certificate {
        what: format!("the CA {name}"),
        source,
    };
    if keep_existing && cert_path.exists() && key_path.exists() {
        let pem = fs::read_to_string(&key_path).map_err(|source| Error::Read {
            path: key_path.clone(),
            source,
        })?;
        let key = KeyPair::from_pem(&pem).map_err(certificate)?;
        // The CA's name and usages are fixed here, so its parameters are
        // rebuilt as they were; the key identifier comes from the key.
        made.push(Made::Kept(cert_path));
        return Ok(Issuer::new(ca_params(common_name), key));
    }
    let key = KeyPair::generate().map_err(certificate)?;
    let params = ca_params(common_name);
    let cert = params.self_signed(&key).map_err(certificate)?;
    write_file(&cert_path, &cert.pem())?;
    write_file(&key_path, &key.serialize_pem())?;
    made.push(Made::Created(cert_path));
    Ok(Issuer::new(params, key))
}

/// `leaf`'s certificate and key, as PEM, signed by `issuer`.
fn sign(leaf: &Leaf, issuer: &Issuer<'_, KeyPair>) -> Result<(String, String), Error> {
    let certificate = |source| Error::Certificate {
        what: format!("the certificate {}", leaf.name),
        source,
    };
    let names: Vec<String> = leaf.names.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(names).map_err(certificate)?;
    params.distinguished_name = distinguished_name(leaf.common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match leaf.purpose {
        Purpose::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Purpose::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    if leaf.expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    } else {
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(2049, 12, 31);
    }
    let key = KeyPair::generate().map_err(certificate)?;
    let cert = params.signed_by(&key, issuer).map_err(certificate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `make certs` twice changes nothing; a deleted pair is made again,
    /// signed by the CA that was kept.
    #[test]
    fn keeping_is_idempotent_and_remakes_what_is_missing() {
        let pki = TempPki::new("keep").unwrap();
        let ca_before = fs::read(pki.ca()).unwrap();
        let again = write(pki.dir(), true).unwrap();
        assert!(
            again.iter().all(|m| matches!(m, Made::Kept(_))),
            "{again:?}"
        );
        fs::remove_file(pki.key("client")).unwrap();
        let remade = write(pki.dir(), true).unwrap();
        assert_eq!(
            remade
                .iter()
                .filter(|m| matches!(m, Made::Created(_)))
                .collect::<Vec<_>>(),
            [&Made::Created(pki.cert("client"))]
        );
        assert_eq!(fs::read(pki.ca()).unwrap(), ca_before, "the CA was kept");
    }

    /// Every name in the table has both files, and without keeping, a
    /// second run makes a new CA.
    #[test]
    fn every_certificate_is_written() {
        let pki = TempPki::new("all").unwrap();
        for name in ["ca", "other-ca"]
            .into_iter()
            .chain(LEAVES.iter().map(|l| l.name))
        {
            let pem = fs::read_to_string(pki.cert(name)).unwrap();
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{name}");
            assert!(pki.key(name).exists(), "{name}");
        }
        let before = fs::read(pki.ca()).unwrap();
        write(pki.dir(), false).unwrap();
        assert_ne!(fs::read(pki.ca()).unwrap(), before);
    }

    /// A directory that cannot be made is a clear error naming it.
    #[test]
    fn unwritable_directory_is_an_error() {
        let pki = TempPki::new("bad").unwrap();
        let below_a_file = pki.cert("ca").join("sub");
        let err = write(&below_a_file, true).unwrap_err();
        assert!(err.to_string().contains("cannot write"), "{err}");
        assert!(err.to_string().contains("sub"), "{err}");
    }
}
