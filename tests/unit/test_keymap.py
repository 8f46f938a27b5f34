"""``[keys]`` in tinkertop.toml: binding id -> keys, every problem a message naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.alerts.settings import load_settings
from runner.keymap import KeymapError, key_problem, load_keymap, split_keys

KNOWN = {"runs.sort", "app.quit", "run.tab_charts", "alerts.ack"}


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "tinkertop.toml").write_text(text)
    return tmp_path


def test_no_file_or_no_table_is_an_empty_keymap(tmp_path: Path) -> None:
    assert load_keymap(tmp_path, KNOWN) == {}
    write(tmp_path, "[alerts.kl_sample_train]\nwarn = 0.02\n")
    assert load_keymap(tmp_path, KNOWN) == {}


def test_known_ids_are_asked_for_only_when_keys_are_remapped(tmp_path: Path) -> None:
    calls: list[int] = []

    def known() -> set[str]:
        calls.append(1)
        return KNOWN

    write(tmp_path, "[notify]\nbell = true\n")
    assert load_keymap(tmp_path, known) == {} and calls == []
    write(tmp_path, '[keys]\n"runs.sort" = "o"\n')
    assert load_keymap(tmp_path, known) == {"runs.sort": "o"} and calls == [1]


@pytest.mark.parametrize(
    "text",
    [
        '[keys]\n"runs.sort" = "o"\n"app.quit" = "q,ctrl+q"\n',
        "[keys]\nruns.sort = 'o'\napp.quit = ['q', 'ctrl+q']\n",
        '[keys.runs]\nsort = "o"\n[keys.app]\nquit = "q, ctrl+q"\n',
        'keys = { "runs.sort" = "o", app = { quit = "q,ctrl+q" } }\n',
    ],
)
def test_every_toml_spelling_means_the_same(tmp_path: Path, text: str) -> None:
    write(tmp_path, text)
    assert load_keymap(tmp_path, KNOWN) == {"runs.sort": "o", "app.quit": "q,ctrl+q"}


def test_unknown_id_and_bad_key_name_the_file_and_line_and_keep_the_good_ones(tmp_path: Path) -> None:
    text = '[alerts.spike]\nwarn = 7\n\n[keys]\n"runs.sort" = "o"\n"runs.sortt" = "p"\n[keys.alerts]\nack = "ctlr+a"\n'
    write(tmp_path, text)
    with pytest.raises(KeymapError) as err:
        load_keymap(tmp_path, KNOWN)
    path = tmp_path / "tinkertop.toml"
    lines = str(err.value).splitlines()
    assert lines[0].startswith(f"{path}: line 6: unknown binding id 'runs.sortt'")
    assert lines[1].startswith(f"{path}: line 8: unknown modifier 'ctlr' in 'ctlr+a'")
    assert err.value.keymap == {"runs.sort": "o"}
    assert load_settings(tmp_path).rules["spike"]["warn"] == 7  # the alert settings ignore [keys]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"sortkey"', "unknown key 'sortkey'"),
        ('""', "empty key"),
        ('"o,,p"', "empty key"),
        ("3", "keys must be a string"),
        ("[1, 2]", "keys must be a string"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, value: str, problem: str) -> None:
    write(tmp_path, f'# remaps\n[keys]\n"app.quit" = {value}\n')
    with pytest.raises(KeymapError, match=f": line 3: {problem}"):
        load_keymap(tmp_path, KNOWN)


def test_bad_toml_and_a_keys_value_that_is_no_table_name_the_line(tmp_path: Path) -> None:
    write(tmp_path, '[keys]\n"runs.sort" = o\n')
    with pytest.raises(KeymapError, match=r"tinkertop.toml: .*line 2"):
        load_keymap(tmp_path, KNOWN)
    write(tmp_path, "[notify]\nbell = true\n\n[alerts]\n[xkeys]\n")
    assert load_keymap(tmp_path, KNOWN) == {}
    (tmp_path / "tinkertop.toml").write_text('title = "x"\nkeys = "o"\n')
    with pytest.raises(KeymapError, match=r"tinkertop.toml: line 2: \[keys\] must be a table"):
        load_keymap(tmp_path, KNOWN)


def test_unreadable_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "tinkertop.toml").mkdir()
    with pytest.raises(KeymapError, match="tinkertop.toml: cannot be read"):
        load_keymap(tmp_path, KNOWN)


def test_without_known_ids_only_keys_are_checked(tmp_path: Path) -> None:
    write(tmp_path, '[keys]\n"anything.at_all" = "f5"\n')
    assert load_keymap(tmp_path) == {"anything.at_all": "f5"}


@pytest.mark.parametrize(
    "key",
    ["o", "S", "?", "ctrl+o", "shift+tab", "alt+x", "f12", "question_mark", "right_square_bracket",
     "exclamation_mark", "less_than_sign", "slash", "minus", "plus", "comma", "escape", "enter", "é"],
)  # fmt: skip
def test_key_names_textual_knows_pass(key: str) -> None:
    assert key_problem(key) is None


@pytest.mark.parametrize("key", ["sortkey", "ctlr+s", "ctrl+", "solidus", "<any>", "\t", "ctrl+spacebar"])
def test_key_names_textual_does_not_know_fail(key: str) -> None:
    assert key_problem(key) is not None


def test_keys_are_joined_and_stripped() -> None:
    assert split_keys(["o", " ctrl+o "]) == ("o,ctrl+o", None)
    assert split_keys("o , p") == ("o,p", None)
