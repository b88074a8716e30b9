//! `carepath demo`, as a newcomer runs it (smaller): it must end with every
//! journey as its scenario implies and no duplicate side effect, within a
//! journey or across journeys.

use std::process::Command;

#[test]
fn the_demo_runs_to_a_clean_summary() {
    let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(["demo", "--journeys", "40", "--timeout-secs", "240"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run carepath demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "every journey ended as its scenario implies: yes",
        "duplicate side effects at the vendors: 0",
        "duplicates across journeys at the vendors: open_case 0, active_prescription 0, order_per_fill 0",
        "a worker process killed with SIGKILL mid-run",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}
