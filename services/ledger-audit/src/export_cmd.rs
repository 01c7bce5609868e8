//! (placeholder: being written)

use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, _out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
