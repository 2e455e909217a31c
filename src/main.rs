//! The `sparkify` binary: parse flags, set up logging, execute the command, map errors to one line and an exit code.

use clap::Parser;
use sparkify::cli::Cli;

fn main() {
    sparkify::one_malloc_arena();
    let cli = Cli::parse();
    // sparkify's own messages at the chosen level; libraries (the AWS SDK, …) only when they fail.
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "error,sparkify=warn",
        (false, 1) => "warn,sparkify=info",
        _ => "info,sparkify=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPARKIFY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let code = match sparkify::command::execute(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
