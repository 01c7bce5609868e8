//! `ledger-projector`: the projectors (and the notary, with `LEDGER_NOTARY_KEY_FILE`) without the API,
//! for scaling them apart from the request-serving replicas. Same configuration as `ledger-api`
//! (`DATABASE_URL`, `LEDGER_HTTP_ADDR` for `/livez`, `/readyz` and `/metrics`, …); no bearer-token
//! settings are needed. One runner per projector leads across every process; API replicas next to it
//! run with `LEDGER_PROJECTORS=follow`.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = ledger_api::config_file::parse(std::env::args_os())?;
    config.api = false;
    ledger_api::init_telemetry(Some(config.log_format))?;
    let http = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding LEDGER_HTTP_ADDR {}", config.http_addr))?;
    ledger_api::run_projector_until_signal(config, http).await?;
    Ok(())
}
