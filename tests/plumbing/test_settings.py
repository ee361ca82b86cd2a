"""Options made from a pydantic-settings model: option over environment over default."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from typer.testing import CliRunner, Result

from plumbing.settings import (
    LogLevel,
    LogLevelSetting,
    Port,
    SettingsOptions,
    configure_logging,
)


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINLI_TEST_")

    name: str = Field(description="the site name")
    port: Port = Field(default=1883, description="broker port")
    site: str | None = Field(default=None, description="site code")
    retain: bool = Field(default=True, description="retain status messages")
    tags: list[str] = Field(default_factory=list, description="tags to add")
    labels: dict[str, str] = Field(default_factory=dict, description="labels")
    data_dir: Path = Field(default=Path("data"), description="where data is kept.")
    ratio: float = Field(default=0.25, description="share of devices polled")
    retries: int = Field(default=3, ge=0, description="retries (no option)")
    zone: str = "north"
    log_level: LogLevelSetting = LogLevel.INFO


OPTIONS = SettingsOptions(DemoSettings, program="linli test")
app = typer.Typer(add_completion=False)


@app.command()
def show(
    name: Annotated[str | None, OPTIONS.option("name", "--name")] = None,
    port: Annotated[int | None, OPTIONS.option("port", "--port", metavar="PORT")] = None,
    site: Annotated[str | None, OPTIONS.option("site", "--site")] = None,
    retain: Annotated[bool | None, OPTIONS.option("retain", "--retain/--no-retain")] = None,
    tags: Annotated[list[str] | None, OPTIONS.option("tags", "--tag")] = None,
    data_dir: Annotated[Path | None, OPTIONS.option("data_dir", "--data-dir")] = None,
    ratio: Annotated[
        float | None, OPTIONS.option("ratio", "--ratio", default_text="a quarter")
    ] = None,
    zone: Annotated[str | None, OPTIONS.option("zone", "--zone", help="map zone")] = None,
    log_level: Annotated[
        LogLevel | None, OPTIONS.option("log_level", "--log-level", case_sensitive=False)
    ] = None,
    env_file: Annotated[Path | None, typer.Option("--env-file")] = None,
) -> None:
    settings = OPTIONS.build(
        env_file=env_file,
        name=name,
        port=port,
        site=site,
        retain=retain,
        tags=tags,
        data_dir=data_dir,
        ratio=ratio,
        zone=zone,
        log_level=log_level,
    )
    typer.echo(settings.model_dump_json())


@pytest.fixture(autouse=True)
def _no_test_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.startswith("LINLI_TEST_"):
            monkeypatch.delenv(variable)


def _run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"LINLI_TEST_NAME": "maple", **env})


def _settings(*args: str, **env: str) -> dict[str, Any]:
    result = _run(*args, **env)
    assert result.exit_code == 0, result.output
    settings: dict[str, Any] = json.loads(result.stdout)
    return settings


def _failure(*args: str, **env: str) -> str:
    result = _run(*args, **env)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.stderr


def test_defaults() -> None:
    settings = _settings()
    assert settings["port"] == 1883 and settings["site"] is None and settings["retain"] is True
    assert settings["tags"] == [] and settings["log_level"] == "info"


def test_env_sets_and_option_overrides() -> None:
    assert _settings(LINLI_TEST_PORT="1884")["port"] == 1884
    assert _settings("--port", "1885", LINLI_TEST_PORT="1884")["port"] == 1885
    assert _settings("--site", "b", LINLI_TEST_SITE="a")["site"] == "b"


def test_an_option_not_given_leaves_its_variable() -> None:
    settings = _settings(LINLI_TEST_SITE="a", LINLI_TEST_ZONE="south", LINLI_TEST_RATIO="0.5")
    assert (settings["site"], settings["zone"], settings["ratio"]) == ("a", "south", 0.5)


def test_a_bool_flag_false_in_env_is_flipped_by_the_option() -> None:
    assert _settings(LINLI_TEST_RETAIN="false")["retain"] is False
    assert _settings("--retain", LINLI_TEST_RETAIN="false")["retain"] is True
    assert _settings("--no-retain")["retain"] is False


def test_a_list_from_a_json_variable_or_repeated_options() -> None:
    assert _settings(LINLI_TEST_TAGS='["a", "b"]')["tags"] == ["a", "b"]
    assert _settings("--tag", "x", "--tag", "y", LINLI_TEST_TAGS='["a"]')["tags"] == ["x", "y"]


def test_a_list_variable_that_is_not_json() -> None:
    assert _failure(LINLI_TEST_TAGS="a,b") == (
        "linli test: setting tags (--tag or LINLI_TEST_TAGS): not valid JSON for its type\n"
    )


def test_an_out_of_range_value_names_option_and_variable() -> None:
    expected = "linli test: setting port (--port or LINLI_TEST_PORT): Input should be less than"
    assert _failure(LINLI_TEST_PORT="70000").startswith(expected)
    assert _failure("--port", "70000").startswith(expected)


def test_every_invalid_value_is_reported_one_a_line() -> None:
    lines = _failure(LINLI_TEST_NAME="", LINLI_TEST_PORT="0", LINLI_TEST_RETRIES="-1").splitlines()
    assert lines == [
        "linli test: setting port (--port or LINLI_TEST_PORT): "
        "Input should be greater than or equal to 1",
        "linli test: setting retries (LINLI_TEST_RETRIES): "
        "Input should be greater than or equal to 0",
    ]


def test_a_required_setting_not_given() -> None:
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2
    assert result.stderr == (
        "linli test: setting name (--name or LINLI_TEST_NAME): Field required\n"
    )


def test_a_log_level_option_ignores_case() -> None:
    assert _settings("--log-level", "DEBUG")["log_level"] == "debug"
    assert _failure(LINLI_TEST_LOG_LEVEL="loud").startswith(
        "linli test: setting log_level (--log-level or LINLI_TEST_LOG_LEVEL): Input should be"
    )


def test_help_says_variable_and_default() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())
    for expected in [
        "The site name. (env LINLI_TEST_NAME; required)",
        "Broker port. (env LINLI_TEST_PORT; default 1883)",
        "Site code. (env LINLI_TEST_SITE)",
        "Retain status messages. (env LINLI_TEST_RETAIN; default true)",
        "Tags to add. (env LINLI_TEST_TAGS, a JSON list)",
        "Where data is kept. (env LINLI_TEST_DATA_DIR; default ./data)",
        "Share of devices polled. (env LINLI_TEST_RATIO; default a quarter)",
        "Map zone. (env LINLI_TEST_ZONE; default north)",
        "Logging detail. (env LINLI_TEST_LOG_LEVEL; default info)",
    ]:
        assert expected in text


def test_a_dict_setting_is_a_json_object() -> None:
    help_text = OPTIONS.option("labels", "--label").help
    assert help_text == "Labels. (env LINLI_TEST_LABELS, a JSON object)"


def test_option_refuses_unknown_fields_missing_descriptions_and_no_flags() -> None:
    with pytest.raises(KeyError, match="DemoSettings has no setting 'nope'"):
        OPTIONS.option("nope", "--nope")
    with pytest.raises(ValueError, match=r"DemoSettings.zone needs a description"):
        OPTIONS.option("zone", "--zone")
    with pytest.raises(ValueError, match="needs at least one flag"):
        OPTIONS.option("port")


def test_env_name_and_describe() -> None:
    options = SettingsOptions(DemoSettings, program="x")
    assert options.env_name("data_dir") == "LINLI_TEST_DATA_DIR"
    assert options.describe("retain") == "setting retain (LINLI_TEST_RETAIN)"
    options.option("retain", "--retain/--no-retain")
    assert options.describe("retain") == "setting retain (--retain or LINLI_TEST_RETAIN)"


def test_log_levels() -> None:
    assert [level.value for level in LogLevel] == ["debug", "info", "warning", "error"]
    assert LogLevel("warning") is LogLevel.WARNING


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, put back as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configure_logging_to_stderr_at_the_level(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    root_logger.handlers.clear()  # basicConfig does nothing while the root has handlers
    configure_logging(LogLevel.ERROR)
    assert root_logger.level == logging.ERROR
    (handler,) = root_logger.handlers
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
    logging.getLogger("linli.test").warning("hidden")
    logging.getLogger("linli.test").error("shown %d", 7)
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert err.endswith(" ERROR   linli.test: shown 7\n")


def test_an_env_file_sets_what_the_environment_and_options_do_not(tmp_path: Path) -> None:
    """As ``linli gateway add`` writes an edge agent's settings: the file is the base, the
    environment and the options override it."""
    env_file = tmp_path / "edge.env"
    env_file.write_text("# made for the test\nLINLI_TEST_SITE=from-file\nLINLI_TEST_PORT=1999\n")
    settings = _settings("--env-file", str(env_file), "--port", "2000")
    assert (settings["site"], settings["port"]) == ("from-file", 2000)
    assert _settings("--env-file", str(env_file), LINLI_TEST_SITE="env")["site"] == "env"
    missing = _failure("--env-file", str(tmp_path / "nowhere.env"))
    assert "--env-file" in missing and "no such file" in missing


def test_json_logs_are_one_object_a_line_for_a_log_collector() -> None:
    script = (
        "import logging\n"
        "from plumbing.settings import LogFormat, LogLevel, configure_logging\n"
        "configure_logging(LogLevel.INFO, LogFormat.JSON)\n"
        "log = logging.getLogger('cloud.ingest')\n"
        "log.debug('not at info')\n"
        "log.info('gateway %s: connected', 'gw-1')\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('ingest failed: 路灯')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("info", "cloud.ingest", "gateway gw-1: connected"),
        ("error", "cloud.ingest", "ingest failed: 路灯"),
    ]
    assert "ZeroDivisionError" in lines[1]["exception"]
    assert lines[0]["time"].endswith("+00:00")
