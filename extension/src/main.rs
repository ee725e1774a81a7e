//! `faultline`: the Lambda extension binary, installed as /opt/extensions/faultline.

use faultline_extension::{lifecycle, logging, settings::Settings};
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("faultline {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let settings = Settings::from_lookup(|key| std::env::var(key).ok());
    let log_level = logging::init(settings.as_ref().ok().and_then(|s| s.debug));
    let settings = match settings {
        Ok(settings) => settings,
        Err(err) => {
            tracing::error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    // Lambda requires the registered name to be the file name in /opt/extensions.
    let name = std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "faultline".to_string());

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(lifecycle::run(settings, log_level, &name)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}
