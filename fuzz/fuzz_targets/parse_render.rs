//! libFuzzer entry point for [`amberfile_fuzz::parse_render`]; on stable, a replay of the files named on
//! the command line (see [`amberfile_fuzz::fuzz_target_main`]).
#![cfg_attr(fuzzing, no_main)]

amberfile_fuzz::fuzz_target_main!(amberfile_fuzz::parse_render);
