"""Train a run twice, once uninterrupted and once SIGKILLed at its first mid-epoch checkpoint
and then resumed: the run's folders for the resume tests to compare (not a test itself)."""
import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def killed_and_resumed(cmd: list[str], tmp_path: Path) -> tuple[Path, Path, str]:
    """``cmd`` (a train command line without --output-dir, checkpointing every step) trained
    into tmp_path/ref, and into tmp_path/killed with a SIGKILL once a mid-epoch checkpoint of
    epoch 0 exists, then run again there.  Returns (ref, killed, the resume's stdout)."""
    ref = subprocess.run(cmd + ["--output-dir", str(tmp_path / "ref")], cwd=REPO, capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    run = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--output-dir", str(run)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill once a mid-epoch checkpoint of epoch 0 exists
        log = run / "metrics.jsonl"
        if (run / "last.pt").exists() and log.exists() and log.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "final.json").exists(), "the run finished before it could be killed"
    again = subprocess.run(cmd + ["--output-dir", str(run)], cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    return tmp_path / "ref", run, again.stdout
