"""The one console-log tail reader (runner.runs.console) and its one ANSI pattern.

The run folder's console tail, the supervisor record's tail (runner.control.records) and the verl
step-line parser (runner.runs.foreign) all go through it: a test per behaviour, on real files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.control import records
from runner.runs import console
from runner.runs.console import ANSI_RE, console_tail_or_error, read_console_tail, strip_ansi
from runner.runs.foreign import parse_verl_line
from tests.shared_data import SHARED

REPO = Path(__file__).resolve().parents[2]
CHAT_SL_LOG = SHARED / "realdata/arvindcr4_tinker-experiments/logs/tinker_chat_sl.log"

ANSI_VARIANTS = [
    pytest.param("\x1b[92mINFO\x1b[0m", "INFO", id="sgr-colour"),
    pytest.param("\x1b[1;35mbold\x1b[m", "bold", id="sgr-multi-and-empty"),
    pytest.param("\x1b[38:2:10:20:30mrgb\x1b[0m", "rgb", id="sgr-colon-truecolour"),
    pytest.param("\x1b[?25lhidden\x1b[?25h", "hidden", id="private-mode"),
    pytest.param("\x1b[2K\x1b[1Gline", "line", id="erase-and-move"),
    pytest.param("\x1b[1 qcursor", "cursor", id="csi-with-intermediate-byte"),
    pytest.param("\x1b(B\x1b[mplain", "plain", id="charset-as-tput-sgr0"),
    pytest.param("\x1bMup\x1b7save\x1b8", "upsave", id="two-char-escapes"),
    pytest.param("\x1b]8;;https://x.org/a\x1b\\link\x1b]8;;\x1b\\", "link", id="osc-hyperlink"),
    pytest.param("\x1b]0;title\x07text", "text", id="osc-title-bel"),
    pytest.param("no [escape] here; a=1", "no [escape] here; a=1", id="plain-text-kept"),
]


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("raw", "clean"), ANSI_VARIANTS)
def test_every_reader_strips_each_ansi_variant(tmp_path: Path, raw: str, clean: str) -> None:
    assert strip_ansi(raw) == clean
    log = write(tmp_path / "logs.log", f"first\n{raw}\n")
    assert read_console_tail(log) == ["first", clean]
    assert records.tail(log) == ["first", clean]
    assert parse_verl_line(f"step:3 - {raw}score:0.5") == {"step": 3, f"{clean}score": 0.5}


def test_verl_lines_and_records_use_the_one_pattern() -> None:
    from runner.runs import foreign

    assert foreign.ANSI_RE is ANSI_RE and not hasattr(records, "_ANSI")
    assert parse_verl_line("\x1b(B\x1b[36m(TaskRunner)\x1b[0m step:7 - a/b:1.5") == {"step": 7, "a/b": 1.5}


def test_an_unterminated_escape_or_a_lone_esc_loses_only_itself(tmp_path: Path) -> None:
    log = write(tmp_path / "logs.log", "a\x1b]0;no end\nb\x1b[12;\nc\x1b\n")
    assert read_console_tail(log) == ["a0;no end", "b12;", "c"]


def test_progress_bar_updates_split_at_carriage_returns(tmp_path: Path) -> None:
    text = "start\r\n\r 10%|#  \x1b[2K\r 50%|## \r100%|###\nTraceback\r\n\rValueError: bad\n"
    log = write(tmp_path / "logs.log", text)
    assert read_console_tail(log) == ["start", "", " 10%|#  ", " 50%|## ", "100%|###", "Traceback", "",
                                      "ValueError: bad"]  # fmt: skip
    assert records.tail(log) == ["start", " 10%|#  ", " 50%|## ", "100%|###", "Traceback", "ValueError: bad"]
    assert records.tail(log, 2) == ["Traceback", "ValueError: bad"]
    assert read_console_tail(log, 2) == ["", "ValueError: bad"]


def test_real_tqdm_progress_lines_come_out_clean() -> None:
    if not CHAT_SL_LOG.is_file():
        pytest.skip(f"shared data missing: {CHAT_SL_LOG}")
    lines = read_console_tail(CHAT_SL_LOG, 10**6)
    assert lines and not [line for line in lines if "\r" in line or "\x1b" in line]
    assert any(line.startswith("Generating train split: 100%|") for line in lines)
    assert "Generating train split:   0%|          | 0/9500 [00:00<?, ? examples/s]" in lines


def test_blank_lines_do_not_crowd_out_the_records_tail(tmp_path: Path) -> None:
    log = write(tmp_path / "console.log", "".join(f"line {i}\n\n\n\r\n" for i in range(40)))
    assert records.tail(log, 3) == ["line 37", "line 38", "line 39"]


def test_the_tail_is_read_from_the_end_and_a_cut_first_line_dropped(tmp_path: Path) -> None:
    log = write(tmp_path / "logs.log", "".join(f"\x1b[92mINFO\x1b[0m line {i}\n" for i in range(50_000)))
    assert read_console_tail(log, 3) == ["INFO line 49997", "INFO line 49998", "INFO line 49999"]
    lines = read_console_tail(log, 10**6, max_bytes=1000)
    assert lines[-1] == "INFO line 49999" and all(line.startswith("INFO line ") for line in lines)
    assert len(lines) < 1000 // len("INFO line 49999")


def test_a_20_mb_line_without_newline_is_read_bounded(tmp_path: Path) -> None:
    log = write(tmp_path / "logs.log", b"x" * (20 * 1024 * 1024) + b"END")
    (line,) = read_console_tail(log)
    assert line.endswith("xEND") and len(line) == console.CONSOLE_MAX_BYTES
    (line,) = read_console_tail(log, max_bytes=4096)
    assert line.endswith("xEND") and len(line) == 4096
    (line,) = records.tail(log)
    assert line.endswith("xEND") and len(line) <= 64_000


def test_a_fifo_is_never_opened_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "logs.log"
    os.mkfifo(fifo)
    lines, error = console_tail_or_error(fifo)
    assert lines == [] and error == "logs.log: not a regular file (FIFO), skipped"
    # records.tail in a child process: with a blocking open it would wait for a writer forever
    code = "import sys; from runner.control import records; print(records.tail(__import__('pathlib').Path(sys.argv[1])))"
    out = subprocess.run([sys.executable, "-c", code, str(fifo)], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_a_missing_file_is_no_lines_and_no_error(tmp_path: Path) -> None:
    assert console_tail_or_error(tmp_path / "nope.log") == ([], None)
    assert read_console_tail(tmp_path / "nope.log") == [] and records.tail(tmp_path / "nope.log") == []


def test_a_directory_is_named_as_the_reason(tmp_path: Path) -> None:
    lines, error = console_tail_or_error(tmp_path)
    assert lines == [] and error is not None and error.startswith(f"{tmp_path.name}: ")


def test_the_old_import_path_still_works() -> None:
    from runner.runs.folder import CONSOLE_MAX_BYTES
    from runner.runs.folder import read_console_tail as old

    assert old is read_console_tail and CONSOLE_MAX_BYTES == console.CONSOLE_MAX_BYTES == 1024 * 1024
