//! Running `kubectl` and `helm` as processes, and our own binaries as the
//! workloads a node would run.

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

/// What a command printed and whether it succeeded.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Exit status 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> CommandOutput {
    run_with_env(program, args, stdin, &[])
}

fn run_with_env(program: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> CommandOutput {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("KUBECONFIG", super::kubeconfig())
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it on PATH? `eval \"$(e2e/cluster env)\"`): {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing to {program}: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {program}: {e}"));
    CommandOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `program` as a node would start a workload's process: only `PATH` from
/// this environment, no stdin, stdout and stderr to `log` (a file, never a
/// pipe that could fill), in a process group of its own (so a signal to the
/// group reaches its children). The caller adds arguments and environment.
pub fn host_command(program: &Path, log: &Path) -> std::io::Result<Command> {
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    Ok(command)
}

/// Sends `signal` (e.g. `TERM`, `STOP`) to `pid`, or to the process group
/// `pid` leads when `group`; whether `kill` succeeded.
pub fn send_signal(pid: u32, signal: &str, group: bool) -> bool {
    let target = if group { format!("-{pid}") } else { pid.to_string() };
    std::process::Command::new("kill")
        .args([format!("-{signal}"), "--".into(), target])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `kubectl` against the local control plane.
pub fn kubectl(args: &[&str]) -> CommandOutput {
    run("kubectl", args, None)
}

/// Runs `kubectl` with `env` set besides, e.g. a `PATH` that has a plugin.
pub fn kubectl_with_env(args: &[&str], env: &[(&str, &str)]) -> CommandOutput {
    run_with_env("kubectl", args, None, env)
}

/// Runs `kubectl` with `input` on standard input.
pub fn kubectl_with_stdin(args: &[&str], input: &str) -> CommandOutput {
    run("kubectl", args, Some(input))
}

/// Runs `kubectl` and returns its output, panicking with its stderr if it fails.
pub fn kubectl_ok(args: &[&str]) -> String {
    let out = kubectl(args);
    assert!(out.success, "kubectl {} failed:\n{}", args.join(" "), out.stderr);
    out.stdout
}

/// Runs `helm` against the local control plane.
pub fn helm(args: &[&str]) -> CommandOutput {
    run("helm", args, None)
}
