//! `ledger-audit keygen`: a fresh notary key pair. The private key file is created owner-only and never
//! overwritten; the public key is what auditors and partners are given.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use notary::NotaryKey;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the private key (PKCS#8 PEM). Must not exist yet.
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write the public key (SPKI PEM); default: the private key's path with `.pub`.
    #[arg(long)]
    pub public_out: Option<PathBuf>,
}

fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let key = NotaryKey::generate()?;
    let public_path = args
        .public_out
        .unwrap_or_else(|| args.out.with_extension("pub"));
    let mut file = create_private(&args.out)
        .with_context(|| format!("creating {} (it must not exist)", args.out.display()))?;
    file.write_all(key.to_pem()?.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    std::fs::write(&public_path, key.public().to_pem()?)
        .with_context(|| format!("writing {}", public_path.display()))?;
    writeln!(
        out,
        "key {}: private key {}, public key {}",
        key.key_id(),
        args.out.display(),
        public_path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
