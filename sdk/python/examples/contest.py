"""The SDK example: as a competitions organiser, drafts a contest through the gateway, reads it
back, tries to open it after its deadline under the development clock (refused,
``DEADLINE_PASSED``), opens it before the deadline, and creates it a second time (refused,
``ALREADY_EXISTS``). Prints each step; exits non-zero when anything is not as expected.

    export EDU_GATEWAY=127.0.0.1:50051
    export EDU_TOKEN=$(cargo suite token --role competitions.organiser --subject me)
    .local/sdk-venv/bin/python sdk/python/examples/contest.py
"""

from __future__ import annotations

import os
import sys
import uuid

import grpc
from edu.competitions.v1 import contest_pb2, team_pb2
from edu.competitions.v1.contest_pb2_grpc import ContestServiceStub
from google.type import date_pb2

import edu_suite_client
from edu_suite_client import CLOCK_HEADER, refusal

# The development clock of the example: ten days before the draft's deadline, and five after.
BEFORE_DEADLINE = "2030-01-21T10:00:00+03:00"
AFTER_DEADLINE = "2030-02-05T10:00:00+03:00"
TIMEOUT = 10.0


class Unexpected(Exception):
    pass


def expect_refusal(what: str, call, reason: str) -> None:
    """Checks that ``call()`` is refused with ``reason`` and says so."""
    try:
        call()
    except grpc.RpcError as error:
        refused = refusal(error)
        if refused.reason != reason:
            raise Unexpected(f"{what}: {refused}, expected {reason}") from None
        print(f"{what}: refused, reason {reason} ({refused})")
        return
    raise Unexpected(f"{what}: succeeded, expected {reason}")


def run(gateway: str, token: str) -> None:
    # One channel; every call carries the token and the development clock.
    channel = edu_suite_client.connect(gateway, token=token, clock=BEFORE_DEADLINE)
    contests = ContestServiceStub(channel)

    contest_id = f"sdk-python-{uuid.uuid4().hex[:12]}"
    draft = contest_pb2.Contest(
        title="Конкурс практик: пример Python SDK",
        organiser="Пример клиента",
        time_zone="Europe/Moscow",
        application_deadline=date_pb2.Date(year=2030, month=1, day=31),
        results_due=date_pb2.Date(year=2030, month=3, day=22),
        nominations=[contest_pb2.Nomination(id="health", title="Здоровьесбережение с детства")],
        eligible_levels=[team_pb2.TEAM_LEVEL_REGIONAL],
    )

    def create() -> contest_pb2.Contest:
        return contests.CreateContest(
            contest_pb2.CreateContestRequest(
                contest=draft, contest_id=contest_id, request_id=str(uuid.uuid4())
            ),
            timeout=TIMEOUT,
        )

    created = create()
    print(f"created {created.name} ({contest_pb2.ContestState.Name(created.state)})")

    read = contests.GetContest(contest_pb2.GetContestRequest(name=created.name), timeout=TIMEOUT)
    if read.state != contest_pb2.CONTEST_STATE_DRAFT or read.title != draft.title:
        raise Unexpected(f"read back {read.state} {read.title!r}")
    print(
        f"read {read.name}: {read.title!r}, {contest_pb2.ContestState.Name(read.state)}, "
        f"deadline {read.application_deadline_time.ToJsonString()}"
    )

    # The clock of this one call is after the deadline: the contest cannot open.
    open_request = contest_pb2.OpenContestRequest(name=read.name, etag=read.etag)
    expect_refusal(
        "OpenContest after the deadline",
        lambda: contests.OpenContest(
            open_request, timeout=TIMEOUT, metadata=[(CLOCK_HEADER, AFTER_DEADLINE)]
        ),
        "DEADLINE_PASSED",
    )

    opened = contests.OpenContest(open_request, timeout=TIMEOUT)
    if opened.state != contest_pb2.CONTEST_STATE_OPEN:
        raise Unexpected(f"opened as {contest_pb2.ContestState.Name(opened.state)}")
    print(f"opened {opened.name} ({contest_pb2.ContestState.Name(opened.state)})")

    # The same ID with another request ID is a second contest, which cannot be.
    expect_refusal("CreateContest with the same ID", create, "ALREADY_EXISTS")
    channel.close()
    print("python example: ok")


def main() -> int:
    token = os.environ.get("EDU_TOKEN")
    if not token:
        print(
            "set EDU_TOKEN to a token of the role competitions.organiser, e.g. "
            "$(cargo suite token --role competitions.organiser --subject me)",
            file=sys.stderr,
        )
        return 2
    gateway = os.environ.get("EDU_GATEWAY") or edu_suite_client.LOCAL_GATEWAY
    try:
        run(gateway, token)
    except Unexpected as e:
        print(f"contest example failed: {e}", file=sys.stderr)
        return 1
    except grpc.RpcError as error:
        print(f"contest example failed: {refusal(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
