//! `graphmalw config show`: the effective settings, password hidden.

use super::{load_settings, EXIT_OK, EXIT_USAGE};
use std::path::Path;

pub fn run(config: Option<&Path>) -> i32 {
    let Some(settings) = load_settings(config, |_| Ok(())) else {
        return EXIT_USAGE;
    };
    match settings.to_toml() {
        Ok(text) => {
            print!("{text}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_USAGE
        }
    }
}
