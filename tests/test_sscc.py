"""SSCCs for pallet labels: composition, configuration, exhaustion, and no repeats under concurrency."""
from __future__ import annotations

import threading

import pytest
from biip.sscc import Sscc
from sqlalchemy import select

from station import config
from station.models import SsccCounter
from station.services import sscc as sscc_service
from station.services.errors import Conflict


def serial(code: str, prefix: str) -> str:
    """The serial reference of an SSCC made on `prefix`, once biip has checked the whole code."""
    parsed = Sscc.parse(code)  # length and check digit
    assert parsed.value[1:1 + len(prefix)] == prefix
    return parsed.value[1 + len(prefix):17]


def test_draws_count_up_from_one_per_prefix_and_extension(db):
    with db.write() as s:
        first = [sscc_service.next_sscc(s, company_prefix="7312345", extension=0) for _ in range(3)]
        other_ext = sscc_service.next_sscc(s, company_prefix="7312345", extension=3)
        other_prefix = sscc_service.next_sscc(s, company_prefix="4012345678", extension=0)
    assert [serial(c, "7312345") for c in first] == ["000000001", "000000002", "000000003"]
    parsed = Sscc.parse(first[0])
    assert (parsed.extension_digit, parsed.prefix.value, parsed.check_digit) == (0, "731", int(first[0][-1]))
    assert first[0] == "0" + "7312345" + "000000001" + first[0][-1]
    assert Sscc.parse(other_ext).extension_digit == 3
    assert other_ext[8:17] == "000000001"
    assert other_prefix[1:11] == "4012345678" and other_prefix[11:17] == "000001"


def test_the_prefix_and_extension_come_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("STATION_GS1_COMPANY_PREFIX", "95012345")
    monkeypatch.setenv("STATION_SSCC_EXTENSION", "7")
    with db.write() as s:
        code = sscc_service.next_sscc(s)
    assert code.startswith("7") and serial(code, "95012345") == "00000001"
    preview = sscc_service.preview_sscc()
    assert preview.startswith("7") and serial(preview, "95012345") == "00000000"


def test_the_preview_sscc_is_serial_zero_which_is_never_drawn(db):
    preview = sscc_service.preview_sscc(company_prefix="7312345", extension=0)
    assert serial(preview, "7312345") == "000000000"
    with db.write() as s:
        drawn = {sscc_service.next_sscc(s, company_prefix="7312345", extension=0) for _ in range(5)}
    assert preview not in drawn


def test_without_settings_the_demo_prefix_is_used(monkeypatch):
    monkeypatch.delenv("STATION_GS1_COMPANY_PREFIX", raising=False)
    monkeypatch.delenv("STATION_SSCC_EXTENSION", raising=False)
    assert config.sscc_settings() == (config.DEMO_GS1_COMPANY_PREFIX, 0)


@pytest.mark.parametrize("prefix, extension, message", [
    ("123456", "0", "STATION_GS1_COMPANY_PREFIX must be a GS1 company prefix of 7 to 10 digits"),
    ("12345678901", "0", "STATION_GS1_COMPANY_PREFIX"),
    ("73123A5", "0", "STATION_GS1_COMPANY_PREFIX"),
    ("７３１２３４５", "0", "STATION_GS1_COMPANY_PREFIX"),  # full-width digits are not digits here
    ("7312345", "10", "STATION_SSCC_EXTENSION must be one digit"),
    ("7312345", "x", "STATION_SSCC_EXTENSION"),
    ("7312345", "", "STATION_SSCC_EXTENSION"),
])
def test_bad_settings_stop_the_app_at_start(monkeypatch, tmp_path, prefix, extension, message):
    from station import create_app

    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path))
    monkeypatch.setenv("STATION_GS1_COMPANY_PREFIX", prefix)
    monkeypatch.setenv("STATION_SSCC_EXTENSION", extension)
    with pytest.raises(ValueError, match=message):
        config.sscc_settings()
    with pytest.raises(ValueError, match=message):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_running_out_of_serials_is_a_clear_refusal_that_changes_nothing(db):
    prefix = "4012345678"  # 10 digits leave 6 for the serial: 999,999 pallets
    top = sscc_service.max_serial(prefix)
    assert top == 999_999
    with db.write() as s:
        s.add(SsccCounter(company_prefix=prefix, extension=1, last_serial=top - 1))
    with db.write() as s:
        last = sscc_service.next_sscc(s, company_prefix=prefix, extension=1)
    assert serial(last, prefix) == "999999"
    with pytest.raises(sscc_service.SsccExhausted, match="Every SSCC serial of company prefix 4012345678 "
                                                         "with extension digit 1 has been used") as caught:
        with db.write() as s:
            sscc_service.next_sscc(s, company_prefix=prefix, extension=1)
    assert isinstance(caught.value, Conflict) and caught.value.code == "sscc_exhausted"
    with db.read() as s:
        assert s.scalar(select(SsccCounter.last_serial).where(SsccCounter.company_prefix == prefix)) == top
    with db.write() as s:  # another extension digit still has all its serials
        assert serial(sscc_service.next_sscc(s, company_prefix=prefix, extension=2), prefix) == "000001"


def test_a_rolled_back_draw_is_drawn_again(db):
    with pytest.raises(RuntimeError):
        with db.write() as s:
            sscc_service.next_sscc(s, company_prefix="7312345", extension=0)
            raise RuntimeError("the print request failed after the draw")
    with db.write() as s:
        again = sscc_service.next_sscc(s, company_prefix="7312345", extension=0)
    assert serial(again, "7312345") == "000000001"


def test_eight_workers_drawing_a_thousand_ssccs_get_a_thousand_distinct_valid_ones(db, monkeypatch):
    monkeypatch.setenv("STATION_GS1_COMPANY_PREFIX", "7312345")
    monkeypatch.setenv("STATION_SSCC_EXTENSION", "0")
    codes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker():
        start.wait()
        try:
            for _ in range(125):
                with db.write() as s:  # one transaction per draw, as a print request does
                    code = sscc_service.next_sscc(s)
                with lock:
                    codes.append(code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(codes) == 1000
    assert len(set(codes)) == 1000
    assert sorted(int(serial(c, "7312345")) for c in codes) == list(range(1, 1001))
    assert {Sscc.parse(c).extension_digit for c in codes} == {0}
    with db.read() as s:
        assert s.scalar(select(SsccCounter.last_serial)) == 1000
