//! libFuzzer entry point for [`amberfile_fuzz::compressed_block`]. Without `cfg(fuzzing)` (plain cargo) it
//! replays the files named on the command line instead, to reproduce a crash on stable.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| amberfile_fuzz::compressed_block(data));

#[cfg(not(fuzzing))]
fn main() {
    amberfile_fuzz::replay_args(amberfile_fuzz::compressed_block);
}
