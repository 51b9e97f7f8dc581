"""README cannot rot: every command and setting the code has is documented there."""

from __future__ import annotations

import argparse
import re

from layers import cli
from layers.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_quick_start_is_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick and "make test" in quick


def test_every_cli_command_and_option_is_in_readme() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        assert f"python -m layers {name}" in README, name
        for action in command._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in README, f"{name} {option}"


def test_every_setting_is_in_readme() -> None:
    settings_src = (REPO_ROOT / "layers" / "settings.py").read_text()
    for name in set(re.findall(r"OURPATCH_[A-Z_]+", settings_src)):
        assert f"`{name}`" in README, name


def test_readme_screenshot_exists() -> None:
    for path in re.findall(r"\]\((docs/[^)]+\.png)\)", README):
        assert (REPO_ROOT / path).is_file(), path


def test_every_limit_is_in_readmes_limits_section() -> None:
    from layers import settings

    limits = README.split("## Limits", 1)[1].split("\n## ", 1)[0]
    settings_src = (
        (REPO_ROOT / "layers" / "settings.py")
        .read_text()
        .split("# ---------------------------------------------------------------- limits", 1)[1]
    )
    names = re.findall(r"^([a-z_]+): [a-z\[\]]+ = ", settings_src, flags=re.MULTILINE)
    assert len(names) > 15
    for name in names:
        assert f"`{name}`" in limits, name
        value = getattr(settings, name)
        if isinstance(value, int | float) and name.startswith("max_") and "bytes" not in name:
            assert f"{value:,.0f}" in limits, (name, value)
