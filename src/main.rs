fn main() {
    std::process::exit(graphmalw::cmd::main());
}
