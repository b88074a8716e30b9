//! `carepath demo`, as a newcomer runs it (smaller): it must end with every
//! journey as its scenario implies and no duplicate side effect, within a
//! journey or across journeys; with `--hold` it keeps the stack up and leaves
//! work to practise on, and every `ctl` command it prints runs as printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn the_demo_runs_to_a_clean_summary_and_holds_the_stack_for_ctl() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args([
            "demo",
            "--journeys",
            "40",
            "--timeout-secs",
            "240",
            "--hold",
        ])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run carepath demo");
    let (lines, read) = mpsc::channel();
    let stdout = demo.stdout.take().expect("the demo's stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let held = loop {
        match read.recv_timeout(Duration::from_secs(300)) {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
                if line.starts_with("holding the stack up") {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    if !held {
        let _ = demo.kill();
        panic!("the demo never held the stack:\n{text}");
    }
    for line in [
        "every journey ended as its scenario implies: yes",
        "duplicate side effects at the vendors: 0",
        "duplicates across journeys at the vendors: open_case 0, active_prescription 0, order_per_fill 0",
        "a worker process killed with SIGKILL mid-run",
        "Left for you to practise on",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }

    // Every printed command, in the order printed, run as printed in a shell
    // with the printed exports; then the practice work is gone.
    let export = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("export CAREPATH_API_URL="))
        .expect("the export line");
    let bin = env!("CARGO_BIN_EXE_carepath");
    let commands: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(bin))
        .map(|l| l.split("   #").next().unwrap_or(l).trim())
        .collect();
    assert!(commands.len() >= 15, "{text}");
    let id_after = |label: &str| {
        let at = text.find(label).expect("a practice section");
        text[at..]
            .lines()
            .find_map(|l| l.split(" show ").nth(1))
            .map(|id| id.trim().to_owned())
            .expect("an id")
    };
    let (failed, overdue) = (id_after("a failed journey"), id_after("an overdue journey"));
    let run = |command: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{export} && {command}"))
            .output()
            .expect("run a printed command");
        let printed = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{command}: {}{printed}",
            String::from_utf8_lossy(&out.stderr)
        );
        printed
    };
    for command in &commands {
        let printed = run(command);
        // A listing shows the last 8 characters of a journey's id.
        let expect: &[&str] = if command.ends_with("list --status failed") {
            &[&failed[failed.len() - 8..]]
        } else if command.ends_with("list --overdue") {
            &[&overdue[overdue.len() - 8..]]
        } else if command.ends_with("inbox --status parked") {
            &["parked"]
        } else if command.ends_with(" vendors") {
            &["notify"]
        } else if command.contains(" match ") && !command.contains("--") {
            &["review"]
        } else {
            &[]
        };
        for shown in expect {
            assert!(
                printed.contains(shown),
                "{command} shows no {shown:?}:\n{printed}"
            );
        }
    }
    // Acted on as printed: the parked webhook skipped, the vendor resumed,
    // the match decided.
    let after = run(&format!("{bin} ctl inbox --status parked"));
    assert!(!after.contains("practice-"), "{after}");
    let vendors = run(&format!("{bin} ctl vendors --output json"));
    assert!(!vendors.contains("demo: a vendor on hold"), "{vendors}");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(demo.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("Ctrl-C the demo");
    let status = demo.wait().expect("the demo's exit");
    assert!(status.success(), "the demo exited with {status} on Ctrl-C");
}
