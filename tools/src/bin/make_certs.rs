//! `make certs`: writes the local test PKI into a directory (default `certs/`), with no openssl.
//!
//! ```text
//! make_certs [DIR]
//! ```
//!
//! Idempotent: a certificate whose `.pem` and `.key` both exist is kept, so running it
//! twice changes nothing. When the CA already exists, new leaf certificates are signed
//! by it. The certificates are `aioproto_test_pki`'s, the ones the tests make for
//! themselves; see `certs/README.md` for what each file is.

use std::path::PathBuf;

use aioproto_test_pki::Made;
use clap::Parser;

/// Writes a local test PKI (CA, server, client, expired, wrong-host, unknown-CA and
/// second-name certificates) into DIR, with no openssl. Idempotent: existing
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
    match aioproto_test_pki::write(&dir, true) {
        Ok(made) => {
            for made in made {
                match made {
                    Made::Kept(path) => println!("kept    {}", path.display()),
                    Made::Created(path) => println!("created {}", path.display()),
                }
            }
        }
        Err(e) => {
            eprintln!("make_certs: {e}");
            std::process::exit(1);
        }
    }
}
