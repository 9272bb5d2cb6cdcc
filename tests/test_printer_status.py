"""~HS host status: what each answer means, garbage included, and the emulator's builder round-trips."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.printers import PrinterState
from devices.printers import status as hs

URL = "tcp://printer:9100"

# A real answer's layout (ZPL II manual, ~HS), with the positions this table flips.
LINE1 = "030,{b},{c},1245,{eee},{f},0,{h},000,0,0,0"
LINE2 = "001,0,{o},{p},0,2,6,0,{u},1,000"
LINE3 = "1234,0"


def answer(b=0, c=0, eee="000", f=0, h=0, o=0, p=0, u="00000000", line3=LINE3) -> bytes:
    lines = (LINE1.format(b=b, c=c, eee=eee, f=f, h=h), LINE2.format(o=o, p=p, u=u), line3)
    return b"".join(b"\x02" + line.encode() + b"\x03\r\n" for line in lines)


@pytest.mark.parametrize(("reply", "problems", "state"), [
    (answer(), (), PrinterState.READY),
    (answer(b=1), (PrinterState.PAPER_OUT,), PrinterState.PAPER_OUT),
    (answer(c=1), (PrinterState.PAUSED,), PrinterState.PAUSED),
    (answer(o=1), (PrinterState.HEAD_OPEN,), PrinterState.HEAD_OPEN),
    (answer(p=1), (PrinterState.RIBBON_OUT,), PrinterState.RIBBON_OUT),
    (answer(f=1), (PrinterState.BUFFER_FULL,), PrinterState.BUFFER_FULL),
    # Several at once: all are kept, the worst is the state.
    (answer(b=1, c=1), (PrinterState.PAPER_OUT, PrinterState.PAUSED), PrinterState.PAPER_OUT),
    (answer(c=1, o=1, f=1), (PrinterState.HEAD_OPEN, PrinterState.PAUSED, PrinterState.BUFFER_FULL),
     PrinterState.HEAD_OPEN),
    # Fields that are not faults do not make one.
    (answer(eee="012", h=1, u="00000007"), (), PrinterState.READY),
], ids=["ready", "paper-out", "paused", "head-up", "ribbon-out", "buffer-full", "paper-out+paused",
        "head+paused+full", "busy-not-faulted"])
def test_a_complete_answer_gives_its_flags(reply, problems, state):
    status = hs.printer_status(URL, reply)
    assert status.known
    assert status.problems == problems
    assert status.state == state
    assert status.can_print is (not problems)
    assert status.detail.startswith("~HS: ")


def test_counts_and_words_in_the_detail():
    status = hs.printer_status(URL, answer(b=1, eee="002", u="00000005"))
    assert status.detail == "~HS: paper out; 2 formats in buffer; 5 labels to print"
    parsed = hs.parse(answer(eee="002", h=1, u="00000005"))
    assert (parsed.formats_in_buffer, parsed.partial_format, parsed.labels_remaining, parsed.label_length) \
        == (2, True, 5, 1245)


def test_bytes_outside_the_frames_are_ignored():
    # A late CR LF from an earlier answer, or line noise before the first STX.
    status = hs.printer_status(URL, b"\r\n\x00junk" + answer(c=1))
    assert status.known and status.problems == (PrinterState.PAUSED,)


@pytest.mark.parametrize(("reply", "words"), [
    (b"", "empty answer"),
    (b"hello, I am not a Zebra\r\n", "no STX"),
    (b"\x00\xff\xfe~HS", "no STX"),
    (answer()[:20], "no STX"),                               # cut inside line 1: no complete frame
    (answer().split(b"\r\n")[0] + b"\r\n", "only 1 of 3 lines"),
    (answer() + answer(), "6 lines instead of 3"),
    (answer(line3="1234"), "line 3 has 1 fields, expected 2"),
    (answer(eee="0x2"), "line 1 has a field that is not a number"),
    (b"\x02" + b"1," * 11 + b"1\x03\r\n" + b"\x02\x03\r\n" + b"\x02\x03\r\n", "line 2 has 1 fields"),
], ids=["empty", "text", "binary", "cut-in-line-1", "one-line", "two-answers", "short-line-3", "not-a-number",
        "empty-lines"])
def test_garbage_or_a_partial_answer_is_unknown_with_a_reason(reply, words):
    status = hs.printer_status(URL, reply)
    assert not status.known
    assert words in status.detail
    assert status.detail.startswith("~HS answer not understood")
    with pytest.raises(ValueError, match="not a ~HS answer"):
        hs.parse(reply)


def test_a_fault_on_a_good_line_counts_even_when_the_rest_is_missing():
    # Some printers send less while faulted: line 1 alone still says paper out.
    status = hs.printer_status(URL, answer(b=1).split(b"\r\n")[0] + b"\r\n")
    assert status.problems == (PrinterState.PAPER_OUT,)
    assert not status.known
    assert status.state == PrinterState.PAPER_OUT and not status.can_print
    assert "the readable part says: paper out" in status.detail


def test_a_garbled_answer_is_unknown_but_not_a_fault():
    status = hs.printer_status(URL, b"\x02garbage\x03\r\n")
    assert status.state == PrinterState.UNKNOWN
    assert status.problems == ()


def test_a_long_bad_answer_is_shortened_in_the_detail():
    status = hs.printer_status(URL, b"x" * 10_000)
    assert len(status.detail) < 400 and "(10000 bytes)" in status.detail


def test_reply_complete_waits_for_three_frames():
    reply = answer()
    cut = [i for i in range(len(reply)) if hs.reply_complete(reply[:i])]
    assert cut[0] == reply.rindex(b"\x03") + 1     # complete at the last ETX, not before


def test_built_answer_has_the_manuals_layout():
    reply = hs.HostStatus(paper_out=True, formats_in_buffer=3, labels_remaining=12).to_bytes()
    assert reply == (b"\x02030,1,0,1218,003,0,0,0,000,0,0,0\x03\r\n"
                     b"\x02001,0,0,0,0,0,6,0,00000012,1,000\x03\r\n"
                     b"\x021234,0\x03\r\n")


flags = st.builds(
    hs.HostStatus,
    paper_out=st.booleans(), paused=st.booleans(), head_open=st.booleans(), ribbon_out=st.booleans(),
    buffer_full=st.booleans(), partial_format=st.booleans(), under_temperature=st.booleans(),
    over_temperature=st.booleans(), label_waiting=st.booleans(), thermal_transfer=st.booleans(),
    formats_in_buffer=st.integers(0, 999), labels_remaining=st.integers(0, 99_999_999),
    label_length=st.integers(1, 9999), print_mode=st.integers(0, 9),
)


@given(flags)
def test_building_then_parsing_gives_the_same_status(status):
    assert hs.parse(status.to_bytes()) == status


@given(st.binary(max_size=200))
def test_any_bytes_give_a_status_never_an_exception(data):
    status = hs.printer_status(URL, data)
    assert status.url == URL and status.detail
