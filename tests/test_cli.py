"""The `nertransfer` command: a bad input or a Ctrl-C ends in one line on the terminal, never a traceback."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO


def nertransfer(*args, cwd: Path, **run) -> subprocess.CompletedProcess:
    """The installed `nertransfer` command, run for real in `cwd`."""
    command = shutil.which("nertransfer", path=str(Path(sys.executable).parent)) or "nertransfer"
    return subprocess.run([command, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, **run)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


def test_status_of_a_run_folder_that_does_not_exist_is_one_line(tmp_path):
    error = one_error_line(nertransfer("status", "-d", tmp_path / "missing", cwd=tmp_path))
    assert "--directory" in error and "missing" in error and "not a folder" in error


def test_status_writing_its_page_over_a_folder_is_one_line(tmp_path):
    (tmp_path / "page").mkdir()
    error = one_error_line(nertransfer("status", "--html", "page", cwd=tmp_path))
    assert "--html 'page': expected a file" in error


def test_status_of_a_config_file_with_a_tab_names_its_line_and_column(tmp_path):
    (tmp_path / "tab.yaml").write_text("training:\n\tepochs: 2\n")
    error = one_error_line(nertransfer("status", "--configfile", "tab.yaml", cwd=tmp_path))
    assert "tab.yaml:2:1: not valid YAML" in error and "replace the tab" in error


def test_status_says_which_checkpoint_setting_beats_a_top_level_training_value(tmp_path):
    (tmp_path / "override.yaml").write_text("training: {epochs: 2}\n")
    result = nertransfer("status", "--configfile", "override.yaml", "--csv", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("override.yaml sets training.epochs: 2, but checkpoints.tiny.training.epochs: 10 "
            f"({REPO / 'config' / 'config.yaml'}) wins for the cells of checkpoint 'tiny'") in result.stderr


def test_ctrl_c_ends_status_watch_quietly_with_status_130(tmp_path):
    command = shutil.which("nertransfer", path=str(Path(sys.executable).parent)) or "nertransfer"
    # SIGINT as a terminal leaves it: a shell without job control starts a background command (`pytest &`, CI
    # runners) with SIGINT ignored, and the watch would inherit that and never see the Ctrl-C
    watch = subprocess.Popen([command, "status", "--watch", "0.5", "--csv", "-"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert watch.stdout.readline().startswith("row,"), "no status came"  # the loop is running
        time.sleep(0.3)
        watch.send_signal(signal.SIGINT)
        _, stderr = watch.communicate(timeout=60)
    finally:
        watch.kill()
    assert watch.returncode == 130 and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr


def test_a_line_of_nuls_without_an_end_is_refused_early_in_a_short_line_and_little_memory(tmp_path):
    """A 1 GB sparse file (NULs, no newline): refused after its first MiB or two, well within seconds.
    The command runs under a parent whose only child it is, so the parent's RUSAGE_CHILDREN is its peak memory."""
    big = tmp_path / "nuls.txt"
    with open(big, "wb") as out:
        out.truncate(1 << 30)
    measure = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "sys.stderr.write(r.stderr); sys.exit(r.returncode)")
    command = shutil.which("nertransfer", path=str(Path(sys.executable).parent)) or "nertransfer"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", measure, command, "score", "--pred", str(big)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    seconds, peak_mib = time.perf_counter() - started, int(result.stdout) / 1024
    error = one_error_line(result)
    assert f"{big}:1: line longer than 1048576 bytes (1 MiB), beginning '\\x00" in error and len(error) < 400, error
    assert seconds < 10 and peak_mib < 100, (seconds, peak_mib)


def test_only_the_subcommands_that_read_tags_take_the_entity_types():
    """`--types` where a command reads or scores BIO tags; elsewhere it is refused rather than silently ignored."""
    from nertransfer.cli import build_parser

    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    takes = {name for name, parser in subcommands.items() if any("--types" in a.option_strings for a in parser._actions)}
    assert takes == {"score", "train", "evaluate", "adapt", "tables", "overlap", "effect"}
    refused = subprocess.run([sys.executable, "-m", "nertransfer", "card", "--types", "PER", "--run", "r", "--test-metrics", "m",
                              "--output", "o"], capture_output=True, text=True)
    assert refused.returncode == 2 and "unrecognized arguments: --types PER" in refused.stderr
