use clap::Parser;

/// mimalloc rather than the system allocator: a match decision decodes and
/// compares a hundred candidate records and more, and glibc's allocator was
/// a tenth of its time (`carepath bench match`, profiled with perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = carepath::cli::Cli::parse();
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
