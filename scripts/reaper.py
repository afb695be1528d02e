"""Reap the daemons we start, because PID 1 in our sandboxes does not.

Daemons that fork into the background (munged, slurmctld, slurmd, the slurmstepd of
every job, the Temporal dev server) are reparented to PID 1 once their starter exits;
in a sandbox whose PID 1 never calls wait() they stay behind as zombies after they
stop. A process marked as child subreaper (prctl PR_SET_CHILD_SUBREAPER) adopts them
instead and reaps them.

    python3 reaper.py run -- <command...>
        Run the command as a child and reap every orphan below it until it exits;
        exit with its exit code. Used by scripts/test.sh and scripts/demo.sh.
    python3 reaper.py daemon <pidfile> <logfile> -- <command...>
        Run the start command, print its exit code on the first line of stdout, then
        stay in the background reaping until SIGTERM. Used by scripts/dev-cluster.sh
        when nothing above it reaps.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


class Stop(Exception):
    pass


def become_subreaper() -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"reaper: prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}")
    os.environ["CRYOET_SUBREAPER"] = str(os.getpid())


def spawn(command: list[str], out_fd: int | None = None) -> int:
    pid = os.fork()
    if pid == 0:
        if out_fd is not None:
            os.dup2(out_fd, 1)
            os.dup2(out_fd, 2)
        os.execvp(command[0], command)
    return pid


def reap_until(child: int) -> int:
    """Reap every exiting descendant; return the exit code of `child`."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        if pid == child:
            return os.waitstatus_to_exitcode(status)


def run(command: list[str]) -> None:
    become_subreaper()
    child = spawn(command)
    # Pass Ctrl-C / TERM on to the command so it can tear down what it started.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: os.kill(child, s))
    code = reap_until(child)
    sys.exit(code if code >= 0 else 128 - code)


def daemon(pidfile: str, logfile: str, command: list[str]) -> None:
    become_subreaper()
    with open(pidfile, "w") as f:
        f.write(f"{os.getpid()}\n")
    log = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    code = reap_until(spawn(command, log))
    print(code, flush=True)
    os.dup2(log, 1)
    os.dup2(log, 2)

    def on_term(_signum, _frame):
        raise Stop()

    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                time.sleep(0.5)
    except Stop:
        pass


def main() -> None:
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "run" and args[1] == "--":
        run(args[2:])
    elif len(args) >= 5 and args[0] == "daemon" and args[3] == "--":
        daemon(args[1], args[2], args[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
