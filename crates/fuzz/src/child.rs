//! Running a command in a child process with a deadline: the child is killed when it runs
//! past it. Its standard error is kept (the end of it, when it is long), and its standard
//! output when asked for.
use anyhow::{Context, Result};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How much of the child's standard error is kept.
const STDERR_LIMIT: usize = 64 << 10;

/// How a child ended.
#[derive(Debug)]
pub enum Ending {
    /// It exited, or died by a signal.
    Exited(ExitStatus),
    /// It was still running at the deadline, and was killed.
    TimedOut,
}

impl Ending {
    /// Whether this ending is a crash: death by a signal, a Rust panic (exit code 101), or a
    /// hang. Every other exit is the command refusing or running the input as it should.
    pub fn is_crash(&self) -> bool {
        match self {
            Ending::TimedOut => true,
            Ending::Exited(status) => status.signal().is_some() || status.code() == Some(101),
        }
    }

    /// A short name for the ending, to count endings by.
    pub fn label(&self) -> String {
        match self {
            Ending::TimedOut => "timeout".into(),
            Ending::Exited(status) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit {code}"),
                (None, Some(signal)) => format!("signal {signal}"),
                (None, None) => format!("{status}"),
            },
        }
    }
}

/// What the child did.
#[derive(Debug)]
pub struct Run {
    pub ending: Ending,
    /// Its standard output, when it was kept.
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Read `pipe` to its end on a thread of its own (so that a child that writes much never
/// blocks on a full pipe while its parent waits for it), keeping the last `limit` bytes.
fn drain(mut pipe: impl Read + Send + 'static, limit: usize) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * limit {
                kept.drain(..kept.len() - limit);
            }
        }
        if kept.len() > limit {
            kept.drain(..kept.len() - limit);
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Run `command` until it ends or `timeout` passes, keeping its standard output (up to
/// `stdout_limit` bytes, the last ones) when `stdout_limit` is not 0.
///
/// # Errors
/// When the child cannot be started or waited for.
pub fn run(mut command: Command, timeout: Duration, stdout_limit: usize) -> Result<Run> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(if stdout_limit > 0 { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let stdout = child.stdout.take().map(|p| drain(p, stdout_limit));
    let stderr = drain(child.stderr.take().context("the child's standard error")?, STDERR_LIMIT);
    let deadline = started + timeout;
    let mut pause = Duration::from_millis(1);
    let ending = loop {
        if let Some(status) = child.try_wait().context("waiting for the child")? {
            break Ending::Exited(status);
        }
        if Instant::now() >= deadline {
            // It may have ended just now; killing an ended child is harmless.
            let _ = child.kill();
            child.wait().context("waiting for the killed child")?;
            break Ending::TimedOut;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stdout = stdout.map(|t| t.join().unwrap_or_default()).unwrap_or_default();
    Ok(Run { ending, stdout, stderr: stderr.join().unwrap_or_default(), elapsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Run {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        run(c, timeout, 1024).unwrap()
    }

    #[test]
    fn endings_are_told_apart() {
        let fine = sh("echo out; echo oops >&2; exit 1", Duration::from_secs(10));
        assert_eq!(fine.stdout, "out\n");
        assert!(!fine.ending.is_crash());
        assert_eq!(fine.ending.label(), "exit 1");
        assert_eq!(fine.stderr, "oops\n");
        assert!(sh("exit 101", Duration::from_secs(10)).ending.is_crash(), "a panic");
        let killed = sh("kill -SEGV $$", Duration::from_secs(10));
        assert!(killed.ending.is_crash());
        assert_eq!(killed.ending.label(), "signal 11");
        let hung = sh("exec sleep 5", Duration::from_millis(100));
        assert!(matches!(hung.ending, Ending::TimedOut));
        assert!(hung.elapsed < Duration::from_secs(4), "the child was killed at the deadline");
    }
}
