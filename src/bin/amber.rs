//! The `amber` command-line tool (built with `--features cli`).
fn main() {}
