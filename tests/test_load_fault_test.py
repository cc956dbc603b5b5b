"""The lab's load-and-fault test: its attack list, its addresses and how it judges a phase (a run takes
minutes; see lab/load_fault_test.py)."""

import argparse

import pytest

from lab.load_fault_test import (
    ATTACKER_ADDRESS,
    ATTACKS,
    attack_list,
    interleaved,
    neighbouring_baseline,
    parse_args,
    phase_goals,
)
from lab.load_test import client_address


def phase(**changes) -> dict:
    return {
        "good_200_per_s": 50.0,
        "good_statuses": {"200": 500},
        "good_200_p99_s": 0.4,
        "good_max_wait_s": 1.0,
        "attack_answers": {"403": 100},
        "attack_longest_held_s": 0.1,
        "peak_memory_bytes": 1.0e9,
        "after_memory_bytes": 0.9e9,
        "tracebacks": 0,
        **changes,
    }


def test_a_phase_within_every_goal_meets_them_all():
    assert all(phase_goals(phase(), phase(), warm_bytes=0.85e9).values())


@pytest.mark.parametrize(
    ("changes", "missed"),
    [
        ({"good_200_per_s": 39.0}, "good_reads"),
        ({"good_200_p99_s": 1.2}, "good_p99"),
        ({"good_max_wait_s": 2.5}, "good_max_wait"),
        ({"peak_memory_bytes": 1.6e9}, "peak_memory"),
        ({"after_memory_bytes": 1.0e9}, "memory_returns"),
        ({"attack_answers": {"ico bomb: 500": 1}}, "no_500"),
        ({"tracebacks": 1}, "no_500"),
        ({"attack_answers": {"400+left open": 1}}, "no_hang"),
        ({"good_statuses": {"200": 10, "timeout": 1}}, "no_hang"),
    ],
)
def test_each_goal_can_be_missed(changes, missed):
    goals = phase_goals(phase(**changes), phase(), warm_bytes=0.85e9)
    assert [name for name, met in goals.items() if not met] == [missed]


def test_attacks_are_named_from_the_list():
    assert attack_list("cl_te, idle_sockets") == ["cl_te", "idle_sockets"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown attack smuggle"):
        attack_list("cl_te,smuggle")
    assert parse_args(["--attacks", "cross_site"]).attacks == ["cross_site"]


def test_picture_attacks_need_the_hostile_pictures(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "lab.hostile_pictures", None)  # as on a branch without the file
    with pytest.raises(SystemExit):
        parse_args(["--attacks", "pictures"])
    assert "need lab/hostile_pictures.py" in capsys.readouterr().err
    assert set(ATTACKS) >= {"slow_bodies", "idle_sockets", "cross_site", "cl_te", "pictures", "big_jpegs"}


def test_clients_and_the_attacker_connect_from_distinct_addresses():
    addresses = {client_address(index) for index in range(300)}
    assert len(addresses) == 300 and ATTACKER_ADDRESS not in addresses
    assert all(address.startswith("127.") for address in addresses)


def test_each_attack_runs_between_two_phases_without_and_is_judged_against_their_mean():
    assert interleaved(["cl_te", "pictures"]) == [None, "cl_te", None, "pictures", None]
    phases = [
        {"attack": "none", "good_200_per_s": 100.0},
        {"attack": "cl_te", "good_200_per_s": 90.0},
        {"attack": "none", "good_200_per_s": 140.0},
    ]
    assert neighbouring_baseline(phases, 1) == {"good_200_per_s": 120.0}
    assert neighbouring_baseline(phases, 2) is phases[2]
    assert not phase_goals(phase(good_200_per_s=90.0), neighbouring_baseline(phases, 1), 0.85e9)["good_reads"]
