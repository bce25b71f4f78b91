//! sessio-bench: runs the benchmark scenarios against sessio and the Node
//! reference and prints the comparison table. See bench/README.md.

mod client;
mod error;
mod forward;
mod http;
mod latency;
mod net;
mod nginx_three;
mod options;
mod proc_stats;
mod report;
mod scenario;
mod server;
mod stamped;
mod suite;
mod system;
mod two_node;
mod window_cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = options::Options::parse(&args).and_then(|o| suite::run(&o));
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error::BenchError::Usage(text)) => {
            eprintln!("{text}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("sessio-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
