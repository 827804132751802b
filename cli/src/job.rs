//! `alloc run`'s process side: the command as a child, the signals sent to
//! `alloc`, and the events `run` and `--wait` wait on, all on one channel.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::mpsc::Sender;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::{Handle, SignalsInfo};

use allocation_contract::Ticket;

use crate::failure::Failure;
use crate::lease::LostLease;

/// What the supervisor reacts to.
#[derive(Debug)]
pub enum Event {
    Exited(ExitStatus),
    /// SIGINT or SIGTERM reached `alloc`; `from_process` when another
    /// process sent it with kill(2) (a terminal's Ctrl-C comes from the
    /// kernel and reaches the command too, by its process group).
    Signal {
        signal: i32,
        from_process: bool,
    },
    LeaseLost(LostLease),
    /// A look at the ticket of a request waiting in line.
    Ticket(Box<Result<Ticket, Failure>>),
}

/// Catches SIGINT and SIGTERM from now on and sends them as events; the
/// handle closes the catching thread.
pub fn catch_signals(events: Sender<Event>) -> io::Result<Handle> {
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for origin in signals.forever() {
            let event = Event::Signal {
                signal: origin.signal,
                from_process: origin.process.is_some(),
            };
            if events.send(event).is_err() {
                break;
            }
        }
    });
    Ok(handle)
}

/// Starts `command` with `env` added; its exit comes as an event. Returns
/// its pid.
pub fn spawn(
    command: &[OsString],
    env: &[(&str, String)],
    events: Sender<Event>,
) -> io::Result<i32> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command to run"))?;
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .spawn()?;
    let pid = child.id() as i32;
    std::thread::spawn(move || {
        let status = child.wait();
        // An error from wait(2) on our own child cannot happen in practice;
        // it is reported as a failure status, never a hang.
        let _ = events.send(Event::Exited(
            status.unwrap_or(ExitStatus::from_raw(1 << 8)),
        ));
    });
    Ok(pid)
}

/// Sends `signal` to the process `pid` (a child that may just have ended:
/// an error is nothing to act on).
pub fn send_signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// The shell's convention for a status: the exit code, or 128 + the
/// signal that ended it.
pub fn status_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code.clamp(0, 255) as u8,
        (None, Some(signal)) => ended_by(signal),
        (None, None) => 1,
    }
}

/// The status of a process ended by `signal`: 128 + its number.
pub fn ended_by(signal: i32) -> u8 {
    128u8.saturating_add(signal.clamp(0, 127) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_the_shell_reads_them() {
        assert_eq!(status_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(status_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(status_code(ExitStatus::from_raw(SIGTERM)), 143);
        assert_eq!(status_code(ExitStatus::from_raw(SIGINT)), 130);
    }
}
