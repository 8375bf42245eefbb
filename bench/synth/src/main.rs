//! The `graphmalw-synth` binary: the command line of the library beside it.

fn main() {
    graphmalw_synth::main();
}
