//! The `tutti` command-line tool.
fn main() {
    std::process::exit(tutti::cli::main());
}
