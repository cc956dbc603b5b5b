"""The lab's load test: how it summarises requests and judges its goals (the run itself takes minutes)."""

from lab.load_test import goals_met, summarise


def records(good_seconds: list[float], extra: list[tuple]) -> list[tuple]:
    return [("good", "digit", 200, seconds, 0.0) for seconds in good_seconds] + extra


def memory(after_warm_up: float, peak: float, after_load: float) -> dict:
    return {
        "after_warm_up_bytes": after_warm_up,
        "peak_bytes": peak,
        "after_load_bytes": after_load,
        "after_load_vs_warm_up": after_load / after_warm_up - 1,
    }


def test_summary_counts_statuses_and_latency_of_good_answers():
    summary = summarise(records([0.1] * 95 + [2.0] * 5, [("bad", "noise", 422, 0.2, 0.0)]), duration_s=10)
    assert summary["requests"] == 101 and summary["requests_per_s"] == 10.1
    assert summary["statuses"] == {"200": 100, "422": 1}
    assert summary["good_200_p50_s"] == 0.1 and summary["good_200_p99_s"] > 1
    assert summary["by_payload"]["noise"]["statuses"] == {"422": 1}


def test_goals_count_503_as_no_server_error_and_timeouts_as_hangs():
    summary = summarise(records([0.1] * 10, [("good", "digit", 503, 0.0, 0.0)]), duration_s=1)
    summary["memory"] = memory(1e9, 1.2e9, 1.05e9)
    assert all(goals_met(summary).values())
    summary = summarise(
        records([0.1] * 10, [("bad", "x", 500, 0.1, 0.0), ("stalled", "y", "timeout", 30, 0.0)]), duration_s=1
    )
    summary["memory"] = memory(1e9, 1.6e9, 1.2e9)
    assert goals_met(summary) == {
        "no_500": False,
        "no_hang": False,
        "peak_memory": False,
        "memory_returns": False,
        "good_p99": True,
    }
