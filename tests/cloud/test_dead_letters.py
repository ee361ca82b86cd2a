"""Dead letters are replayable: ``linli cloud dead-letters list|show|replay`` feed a stored
payload through the same ingest path, report each, and mark the replayed ones."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from cloud.cli import app
from cloud.db.models import DeadLetter, Reading
from cloud.ingest.replay import replay
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import batch_topic
from tests.cloud.helpers import count
from tests.cloud.ingest_support import good_batch_json

TOPIC = batch_topic("gw-1")


def cloud(services: Services, *args: str) -> Any:
    """``linli cloud ARGS`` on the test's database, in process."""
    where = ["--data-dir", str(services.settings.data_dir)]
    if services.settings.database_url:
        where += ["--database-url", services.settings.database_url]
    return CliRunner().invoke(app, [*args, *where], catch_exceptions=False)


def letter(services: Services, letter_id: int) -> DeadLetter:
    found = services.dead_letters.get(letter_id)
    assert found is not None
    return found


def failed_batch(services: Services, catalogue: Catalogue, seq: int) -> tuple[int, bytes]:
    """A valid batch that became a dead letter because storing it kept failing (a bug
    since fixed): the worker's way, through ``Intake.reject``."""
    payload = good_batch_json(catalogue, "gw-1", seq, minute=seq)
    reason = "failed 3 times, last with RuntimeError: a bug since fixed"
    outcome = services.intake.reject(TOPIC, payload, reason, "error")
    assert outcome.dead_letter is not None
    return outcome.dead_letter, payload


def test_replaying_a_fixed_dead_letter_stores_it_and_marks_it(
    services: Services, catalogue: Catalogue
) -> None:
    letter_id, _ = failed_batch(services, catalogue, 1)

    [report] = replay(services.dead_letters, services.intake, [letter_id])

    assert (report.result, report.ok) == ("stored", True)
    assert report.detail == "stored: 2 readings, 0 stored before"
    assert count(services.sessions, Reading) == 2
    replayed = letter(services, letter_id)
    assert replayed.replayed_at is not None
    assert replayed.replay_result == report.detail


def test_replaying_twice_stores_nothing_twice(services: Services, catalogue: Catalogue) -> None:
    letter_id, _ = failed_batch(services, catalogue, 1)

    list(replay(services.dead_letters, services.intake, [letter_id]))
    [again] = replay(services.dead_letters, services.intake, [letter_id])

    assert (again.result, again.ok) == ("duplicate", True)
    assert count(services.sessions, Reading) == 2


def test_a_dead_letter_rejected_again_stays_waiting_with_the_new_reason(
    services: Services,
) -> None:
    outcome = services.intake.process(TOPIC, b'{"v": 1, "seq": "one"}')
    assert outcome.dead_letter is not None

    [report] = replay(services.dead_letters, services.intake, [outcome.dead_letter])

    assert (report.result, report.ok) == ("rejected", False)
    again = letter(services, outcome.dead_letter)
    assert again.replayed_at is None
    assert again.replay_result is not None and again.replay_result.startswith("rejected again")
    assert count(services.sessions, DeadLetter) == 1, "a replay makes no new dead letter"


def test_a_missing_dead_letter_is_reported(services: Services) -> None:
    [report] = replay(services.dead_letters, services.intake, [999])

    assert (report.result, report.detail) == ("missing", "missing: no such dead letter")


def test_replay_command_stores_fixed_dead_letters_and_says_so(
    services: Services, catalogue: Catalogue
) -> None:
    first, _ = failed_batch(services, catalogue, 1)
    second, _ = failed_batch(services, catalogue, 2)

    done = cloud(services, "dead-letters", "replay", str(first), str(second))

    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        f"dead letter {first}: stored: 2 readings, 0 stored before",
        f"dead letter {second}: stored: 2 readings, 0 stored before",
        "2 replayed, 0 not",
    ]
    assert count(services.sessions, Reading) == 4
    assert services.dead_letters.waiting_ids() == []


def test_replay_all_takes_every_waiting_one_and_fails_on_those_rejected_again(
    services: Services, catalogue: Catalogue
) -> None:
    fixed, _ = failed_batch(services, catalogue, 1)
    broken = services.intake.process(TOPIC, b"not JSON").dead_letter
    list(replay(services.dead_letters, services.intake, [fixed]))
    waiting, _ = failed_batch(services, catalogue, 2)

    done = cloud(services, "dead-letters", "replay", "--all")

    assert done.exit_code == 1
    lines = done.output.splitlines()
    assert lines[0].startswith(f"dead letter {broken}: rejected again: ")
    assert lines[1:] == [
        f"dead letter {waiting}: stored: 2 readings, 0 stored before",
        "1 replayed, 1 not",
    ]


@pytest.mark.parametrize("args", [[], ["1", "--all"]])
def test_replay_needs_ids_or_all(services: Services, args: list[str]) -> None:
    done = cloud(services, "dead-letters", "replay", *args)

    assert done.exit_code == 2
    assert "ids, or --all" in done.output


def test_list_shows_waiting_dead_letters_and_all_of_them_on_request(
    services: Services, catalogue: Catalogue
) -> None:
    replayed, _ = failed_batch(services, catalogue, 1)
    list(replay(services.dead_letters, services.intake, [replayed]))
    waiting = services.intake.process(TOPIC, b"not JSON").dead_letter

    shown = cloud(services, "dead-letters", "list").output
    every = cloud(services, "dead-letters", "list", "--all").output

    rows = [line.split() for line in shown.splitlines()[1:] if line[:6].strip().isdigit()]
    assert [(int(r[0]), r[3], r[4], int(r[5]), r[6]) for r in rows] == [
        (waiting, "waiting", "invalid", 8, TOPIC)
    ]
    assert "Invalid JSON" in shown
    assert f"{replayed:>6} " in every and "replayed" in every
    empty = cloud(services, "dead-letters", "list")
    assert empty.exit_code == 0


def test_list_says_when_nothing_waits(services: Services) -> None:
    assert cloud(services, "dead-letters", "list").output == "no dead letters waiting\n"


def test_show_gives_the_reason_and_raw_gives_the_exact_bytes(services: Services) -> None:
    payload = json.dumps({"v": 1, "text": "门禁"}).encode() + b"\xff"
    letter_id = services.dead_letters.record(TOPIC, payload, "not UTF-8 at the end", "invalid")

    shown = cloud(services, "dead-letters", "show", str(letter_id))
    raw = cloud(services, "dead-letters", "show", str(letter_id), "--raw")
    missing = cloud(services, "dead-letters", "show", "999")

    assert "reason:      not UTF-8 at the end" in shown.output
    assert "gateway:     gw-1" in shown.output
    assert "state:       waiting" in shown.output
    assert raw.stdout_bytes == payload
    assert missing.exit_code == 1
