//! The `graphmalw` binary: run the command line, exit with its code. All of
//! it is in [`graphmalw::cmd`].

fn main() {
    std::process::exit(graphmalw::cmd::main());
}
