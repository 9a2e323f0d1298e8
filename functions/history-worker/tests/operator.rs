//! The operator's re-run command (`infra/scripts/history-import.sh`) sends exactly the message
//! connecting a store sends, and refuses a store id the worker would drop.

use std::process::Command;

use adapters::history::Task;

fn script() -> Command {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/scripts/history-import.sh"
    );
    let mut cmd = Command::new("bash");
    cmd.arg(path);
    cmd
}

#[test]
fn the_operator_command_queues_the_import_start_message() {
    let out = script().args(["--print", "1305146709"]).output().unwrap();
    assert!(out.status.success());
    let body = String::from_utf8(out.stdout).unwrap();
    assert_eq!(body.trim_end(), Task::import("1305146709").to_body());
    assert_eq!(Task::parse(body.trim_end()), Ok(Task::import("1305146709")));

    for bad in ["", "a b", "x\"}", &"9".repeat(65)] {
        let out = script().args(["--print", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty());
    }
}
