//! `deployer`: installs faultline on Lambda functions (see `deployer --help`).
//! Exit codes: 0 done, 1 failed, 2 bad usage or input (nothing changed).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod aws;
mod cli;
mod commands;
mod confirm;
mod error;
mod experiments;
mod fleet;
mod functions;
mod global;
mod install;
mod output;
mod permissions;
mod plan;
mod render;
mod report;
mod stackset;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn init_logging(verbose: bool) {
    let filter = if verbose {
        "warn,faultline_deployer=debug,aws_smithy_runtime=debug"
    } else {
        "error"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start: {err}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Init(args) => commands::init::run(&cli.global, args).await,
            Command::Enable(args) => commands::enable::run(&cli.global, args).await,
            Command::Disable(args) => commands::disable::run(&cli.global, args).await,
            Command::Status(args) => commands::status::run(&cli.global, args).await,
            Command::Experiment(args) => commands::experiment::run(&cli.global, args).await,
            Command::Layer(args) => commands::layer::run(args),
            Command::Render(args) => commands::render::run(&cli.global, args).await,
            Command::IamPolicy(args) => commands::iam_policy::run(&cli.global, args),
            Command::Report(args) => commands::report::run(&cli.global, args).await,
            Command::Stackset(args) => commands::stackset::run(&cli.global, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
