//! A local publish under SIGKILL and concurrent runs: the `etl` binary is killed at every named
//! step of a run (with the atomic exchange and with the two-rename fallback) and at many random
//! moments; after each kill the output must read back, table by table, as the previous complete
//! output or the new one, and the next run must succeed and leave nothing behind. Two runs on one
//! output: the second fails at once naming the first's pid, or waits with `--wait-for-lock`.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use arrow::array::RecordBatch;
use common::{copy_sample, read_table, same_rows};

const TABLES: [&str; 5] = ["songplays", "users", "songs", "artists", "time"];

/// The `etl` command for `input` → `<dir>/out`, with test-hook variables.
fn etl(dir: &Path, input: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sparkify"));
    cmd.args(["etl", "--input", input, "--output", "out"])
        .current_dir(dir)
        .env_remove("SPARKIFY_LOG")
        .env_remove("SPARKIFY_TEST_KILL_AT")
        .env_remove("SPARKIFY_TEST_PAUSE_AT")
        .env_remove("SPARKIFY_TEST_NO_EXCHANGE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run_ok(dir: &Path, input: &str) {
    let out = etl(dir, input, &[]).output().unwrap();
    assert!(
        out.status.success(),
        "etl --input {input}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The five tables of an output, read back.
type Tables = Vec<RecordBatch>;

fn tables(out: &Path) -> Tables {
    TABLES.iter().map(|t| read_table(out, t)).collect()
}

fn same(a: &Tables, b: &Tables) -> bool {
    a.iter().zip(b).all(|(x, y)| same_rows(x, y))
}

/// What the output holds: `None` when there is none, else which reference it equals (it must
/// equal one of them, whole).
fn state(out: &Path, refs: &[(&str, &Tables)]) -> Option<String> {
    if !out.exists() {
        return None;
    }
    let got = tables(out);
    let name = refs
        .iter()
        .find(|(_, r)| same(&got, r))
        .map(|(name, _)| name.to_string());
    Some(name.unwrap_or_else(|| panic!("{} is neither complete output", out.display())))
}

/// Entries beside the output that a run leaves only when it is killed (the lock file stays).
fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out.") && n != ".out.lock")
        .collect();
    names.sort();
    names
}

/// Two inputs whose outputs differ (days 1-10, days 1-20 of the sample), their reference
/// outputs, and a folder to run in.
fn setup() -> (tempfile::TempDir, Tables, Tables) {
    let tmp = tempfile::tempdir().unwrap();
    copy_sample(&tmp.path().join("a"), |d| d <= 10);
    copy_sample(&tmp.path().join("b"), |d| d <= 20);
    run_ok(tmp.path(), "a");
    let a = tables(&tmp.path().join("out"));
    run_ok(tmp.path(), "b");
    let b = tables(&tmp.path().join("out"));
    assert!(!same(&a, &b));
    std::fs::remove_dir_all(tmp.path().join("out")).unwrap();
    (tmp, a, b)
}

/// Runs `input` with `env` and asserts it died by SIGKILL.
fn killed_at(dir: &Path, input: &str, env: &[(&str, &str)]) {
    let out = etl(dir, input, env).output().unwrap();
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{env:?}: not killed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Steps of a run, in order, and whether the output already holds the new run there.
const STEPS: [(&str, bool); 9] = [
    ("locked", false),
    ("cleaned", false),
    ("staging-created", false),
    ("staged", false),
    ("synced", false),
    ("exchanged", true),
    ("switched", true),
    ("removing", true),
    ("published", true),
];

#[test]
fn a_run_killed_at_any_step_leaves_the_previous_or_the_new_output_whole() {
    let (tmp, a, b) = setup();
    let dir = tmp.path();
    let out = dir.join("out");
    let refs = [("a", &a), ("b", &b)];
    let mut kills = 0;
    for fallback in [false, true] {
        let mut env = vec![];
        if fallback {
            env.push(("SPARKIFY_TEST_NO_EXCHANGE", "1"));
        }
        let steps = STEPS.iter().map(|&(s, new)| match (s, fallback) {
            ("exchanged", true) => ("aside", None),
            (s, _) => (s, Some(new)),
        });
        for (step, new) in steps {
            run_ok(dir, "a");
            let mut with_kill = env.clone();
            with_kill.push(("SPARKIFY_TEST_KILL_AT", step));
            killed_at(dir, "b", &with_kill);
            kills += 1;
            let expected = new.map(|new| if new { "b" } else { "a" }.to_string());
            assert_eq!(state(&out, &refs), expected, "killed at {step}");
            if new.is_none() {
                // Between the fallback's two renames: the previous output is aside, and the next
                // run puts it back before anything else.
                killed_at(dir, "b", &[("SPARKIFY_TEST_KILL_AT", "cleaned")]);
                assert_eq!(state(&out, &refs).as_deref(), Some("a"), "put back");
            }
            // The next run succeeds and cleans up after the killed one.
            run_ok(dir, "b");
            assert_eq!(state(&out, &refs).as_deref(), Some("b"), "after {step}");
            assert_eq!(leftovers(dir), Vec::<String>::new(), "after {step}");
        }
    }
    // The first publish (no previous output): a plain rename.
    for (step, new) in [("synced", false), ("switched", true), ("published", true)] {
        std::fs::remove_dir_all(&out).unwrap();
        killed_at(dir, "a", &[("SPARKIFY_TEST_KILL_AT", step)]);
        kills += 1;
        let expected = new.then(|| "a".to_string());
        assert_eq!(
            state(&out, &refs),
            expected,
            "first publish killed at {step}"
        );
        run_ok(dir, "a");
        assert_eq!(leftovers(dir), Vec::<String>::new());
    }
    eprintln!("{kills} runs killed at named steps, all outputs whole");
}

/// A xorshift64 generator, seeded, so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn a_run_killed_at_random_moments_leaves_the_previous_or_the_new_output_whole() {
    let (tmp, a, b) = setup();
    let dir = tmp.path();
    let out = dir.join("out");
    let refs = [("a", &a), ("b", &b)];
    run_ok(dir, "a");
    // How long a whole run takes here, to spread the kills over it (and a little past it).
    let started = std::time::Instant::now();
    run_ok(dir, "b");
    let span = started.elapsed().as_micros() as u64 * 5 / 4;
    let seed = 0x5EED_0000_0000_0014 ^ span;
    eprintln!("seed {seed:#x}, kills spread over {span} µs");
    let mut rng = Rng(seed);
    let (mut current, mut killed) = ("b", 0);
    for round in 0..30 {
        let next = if current == "a" { "b" } else { "a" };
        let mut child = etl(dir, next, &[]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(rng.below(span)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        killed += u32::from(status.signal() == Some(9));
        let got = state(&out, &refs);
        assert!(
            got.as_deref() == Some(current) || got.as_deref() == Some(next),
            "round {round}: the output holds {got:?}, neither {current} nor {next}"
        );
        run_ok(dir, next);
        assert_eq!(state(&out, &refs).as_deref(), Some(next), "round {round}");
        assert_eq!(leftovers(dir), Vec::<String>::new(), "round {round}");
        current = next;
    }
    eprintln!("30 runs killed at random moments ({killed} before they ended), all outputs whole");
}

/// Spawns `etl` paused at `step` (stdin piped to release it) and waits for it to get there.
fn paused_at(dir: &Path, input: &str, step: &str) -> (Child, BufReader<std::process::ChildStderr>) {
    let mut child = etl(dir, input, &[("SPARKIFY_TEST_PAUSE_AT", step)])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    wait_for_line(&mut stderr, &format!("paused at {step}"));
    (child, stderr)
}

/// Reads `stderr` until a line contains `needle`.
fn wait_for_line(stderr: &mut impl BufRead, needle: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "stderr ended before {needle:?}");
        if line.contains(needle) {
            return;
        }
    }
}

#[test]
fn a_second_run_on_the_same_output_fails_at_once_naming_the_first() {
    let (tmp, _, b) = setup();
    let dir = tmp.path();
    run_ok(dir, "a");
    let before = tables(&dir.join("out"));
    let (mut first, _stderr) = paused_at(dir, "a", "locked");

    let second = etl(dir, "b", &[]).output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("(pid {})", first.id())) && err.contains("--wait-for-lock"),
        "{err}"
    );
    assert!(
        same(&tables(&dir.join("out")), &before),
        "the second run touched nothing"
    );

    // A third run waits for the first (it says so on stderr), then publishes.
    let mut third = etl(dir, "b", &[]).arg("--wait-for-lock").spawn().unwrap();
    let mut third_err = BufReader::new(third.stderr.take().unwrap());
    wait_for_line(&mut third_err, "waiting for it");
    first.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(first.wait().unwrap().success());
    assert!(third.wait().unwrap().success());
    assert!(same(&tables(&dir.join("out")), &b));
}
