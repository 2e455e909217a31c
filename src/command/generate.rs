//! `generate`: deterministic synthetic input in the real layout (see [`sparkify_generate`]).

use crate::cli::GenerateArgs;
use crate::Result;

/// Writes the data and, unless `quiet`, one line saying what was written.
pub(super) fn generate(args: &GenerateArgs, quiet: bool) -> Result<i32> {
    let options = sparkify_generate::GenerateOptions {
        output: args.output.clone(),
        songs: args.songs,
        events: args.events,
        seed: args.seed,
        match_rate: args.match_rate,
        days: args.days,
    };
    let s = sparkify_generate::generate(&options)?;
    if !quiet {
        println!(
            "generated {} song files and {} log files ({} events, {} song plays, {} matching a song, {:.1} MB) in {}",
            s.song_files,
            s.log_files,
            s.events,
            s.next_song_events,
            s.matched_events,
            s.bytes as f64 / 1e6,
            args.output.display()
        );
    }
    Ok(0)
}
