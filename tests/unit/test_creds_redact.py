"""Key redaction (``runner.control.creds``): each form a W&B or Tinker key is written in, masked by
``redact`` and by the console scrubber, and a git commit away from any key name left alone; then the
code diff of a compared run (``tinkertop compare --json``) with such keys in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import cli
from runner.control import creds
from runner.control.scrub import ConsoleScrubber

HEX = "0123456789abcdef0123456789abcdef01234567"
HEX2 = "89abcdef0123456789abcdef0123456701234567"


@pytest.mark.parametrize(
    "line",
    [
        f'os.environ["WANDB_API_KEY"] = "{HEX}"',
        f"os.environ['WANDB_API_KEY']='{HEX}'",
        f'wandb.login(key="{HEX}")',
        f"wandb.login(key='{HEX}', relogin=True)",
        f'login(key = "{HEX}")',
        f"wandb login {HEX}",
        f"export WANDB_API_KEY={HEX}",
        f'"wandb_api_key": "{HEX}"',
        f"WANDB_API_KEY: {HEX}",
        f"run `wandb login --relogin {HEX}` first",
        f"{HEX}  # my wandb key",
        f"TINKER_API_KEY=tml-{'a' * 30}",
        f'tinker.ServiceClient(api_key="tml-{"b" * 30}")',
        f'os.environ["TINKER_API_KEY"] = "tml-{"c" * 30}"',
        f'os.environ["HF_TOKEN"] = "hf_{"d" * 30}"',
    ],
)
def test_each_form_of_a_key_is_masked(line: str) -> None:
    out = creds.redact(line)
    secret = line.split("tml-")[1][:30] if "tml-" in line else ("d" * 30 if "hf_" in line else HEX)
    assert secret not in out and creds.MASK in out, out
    assert creds.looks_secret(line)


def test_every_key_on_a_wandb_line_is_masked_and_commits_elsewhere_are_kept() -> None:
    text = f"+wandb login {HEX} && wandb login {HEX2} ({HEX})\ncommit {HEX}\n### repo: x @ {HEX2}\n"
    out = creds.redact(text)
    assert out.splitlines()[0] == "+wandb login *** && wandb login *** (***)"
    assert out.splitlines()[1:] == [f"commit {HEX}", f"### repo: x @ {HEX2}"]


@pytest.mark.parametrize(
    "line",
    [
        f"commit {HEX}",
        f"### repo: /r @ {HEX}",
        "sort_key = 'a_very_long_function_name_here'",  # a key= argument that is not a bare ``key``
        '"key": "env/all/reward/total"',  # a config key, not a key= argument
        "wandb_project = 'my-project'",
        "model_name: Qwen/Qwen3-8B",
    ],
)
def test_what_is_not_a_key_is_kept(line: str) -> None:
    assert creds.redact(line) == line


def test_the_console_scrubber_masks_the_same_forms_in_place(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    text = f'os.environ["WANDB_API_KEY"] = "{HEX}"\nwandb.login(key="{HEX2}")\nwandb login {HEX}\ncommit {HEX2}\n'
    log.write_text(text)
    ConsoleScrubber(log, []).scan()
    out = log.read_text()
    assert len(out) == len(text)  # same length: a reader's offsets stay right
    assert out.splitlines()[:3] == [
        'os.environ["WANDB_API_KEY"] = "' + "*" * 40 + '"',
        'wandb.login(key="' + "*" * 40 + '")',
        "wandb login " + "*" * 40,
    ]
    assert out.splitlines()[3] == f"commit {HEX2}"


def test_compare_json_shows_no_key_from_a_code_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    diff = f'### repo: x @ abcdef1\n+os.environ["WANDB_API_KEY"] = "{HEX}"\n+wandb.login(key="{HEX2}")\n'
    for name in ("a", "b"):
        run = tmp_path / name
        run.mkdir()
        (run / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
        (run / "config.json").write_text(json.dumps({"seed": name}))
        (run / "code.diff").write_text(diff)
    assert cli.main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 0
    out = capsys.readouterr().out
    codes = [json.loads(line) for line in out.splitlines() if '"type": "code"' in line]
    assert len(codes) == 2 and all("WANDB_API_KEY" in c["code_diff"] for c in codes)
    assert HEX not in out and HEX2 not in out
