"""Admission control: the in-flight gate and the per-tenant token bucket refuse with a retry hint."""

from __future__ import annotations

import time

import pytest

from dash_router.admission import Admission, AdmissionConfig, Overloaded


def test_in_flight_gate_refuses_beyond_the_limit_and_frees_on_release() -> None:
    gate = Admission(AdmissionConfig(max_in_flight=2))
    gate.admit("a")
    gate.admit("b")
    with pytest.raises(Overloaded, match=r"2 requests in flight \(limit 2\)") as refused:
        gate.admit("c")
    assert refused.value.retry_after_ms > 0 and refused.value.code == "RESOURCE_EXHAUSTED"
    gate.release()
    gate.admit("c")
    assert gate.in_flight == 2


def test_tenant_bucket_limits_one_tenant_not_the_others() -> None:
    gate = Admission(AdmissionConfig(max_in_flight=100, tenant_rate=20, tenant_burst=3))
    for _ in range(3):
        gate.admit("noisy")
        gate.release()
    with pytest.raises(Overloaded, match="'noisy' is over its rate") as refused:
        gate.admit("noisy")
    assert 0 < refused.value.retry_after_ms <= 60
    gate.admit("quiet")  # another tenant is unaffected
    gate.release()
    deadline = time.monotonic() + 2
    while True:  # the bucket refills at 20/s
        try:
            gate.admit("noisy")
            break
        except Overloaded:
            assert time.monotonic() < deadline
            time.sleep(0.01)


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="max-in-flight"):
        AdmissionConfig(max_in_flight=0)
