"""The API's bodies for printing: print requests, jobs and printers (base types: api/schemas.py)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from .schemas import SSCC, PrinterName, Request, RequestId, _utc

# --- printing --------------------------------------------------------------------------------




class PrintRequestIn(Request):
    """Bad values (copies out of range, an unknown printer or template) are refused with 400."""

    printer: PrinterName | None = Field(
        None, description="The printer's name. Default: the site's only active printer.")
    template: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        "lot", description="lot: the lot label; pallet: a GS1 logistic label with a newly drawn SSCC "
                           "(or the sscc given, one of the lot's pallets).")
    copies: int = Field(1, description="How many labels, 1 to 1000.",
                        json_schema_extra={"minimum": 1, "maximum": 1000})
    request_id: RequestId | None = Field(
        None, description="Your id for this request: sending it again returns the same job and "
                          "prints nothing more.")
    sscc: Annotated[str, Field(pattern=SSCC)] | None = Field(
        None, description="pallet: the SSCC of one of the lot's pallets, to print its label again.")


class PrintJobOut(BaseModel):
    id: int
    status: Literal["queued", "sending", "sent", "printed", "failed", "cancelled"] = Field(
        description="queued: waiting (or retrying, see next_attempt_at); sending; sent: the printer (or "
                    "its spooler) took it — on a tcp:// printer it is waiting in the printer's buffer until "
                    "its counters show it done (last_error starting 'Not confirmed' when they never will), on "
                    "cups://, file:// and serial printers 'sent' is the last state known; printed: the "
                    "printer's own counters showed it done (sim:// printers: spooled); failed: see "
                    "last_error; cancelled. A job the printer lost unprinted (restarted with it in its "
                    "buffer) is queued again once, then failed.")
    printer: str
    template: str
    lot_number: str | None
    copies: int
    label_size: str
    dpi: int
    sscc: str | None = Field(description="The SSCC on a pallet label.")
    attempts: int = Field(description="Tries so far.")
    last_error: str | None = Field(description="Why the last try did not print, in words.")
    next_attempt_at: dt.datetime | None = Field(description="When a queued job is tried again.")
    created_at: dt.datetime
    sent_at: dt.datetime | None
    reprint_of: int | None = Field(description="The job this one prints again.")
    request_id: str | None

    @classmethod
    def of(cls, job, printer: str, lot_number: str | None) -> PrintJobOut:
        return cls(id=job.id, status=job.status.value, printer=printer, template=job.template,
                   lot_number=lot_number, copies=job.copies, label_size=job.label_size, dpi=job.dpi,
                   sscc=job.sscc, attempts=job.attempts, last_error=job.last_error,
                   next_attempt_at=job.next_attempt_at and _utc(job.next_attempt_at),
                   created_at=_utc(job.created_at), sent_at=job.sent_at and _utc(job.sent_at),
                   reprint_of=job.reprint_of_id, request_id=job.request_id)


class PrinterOut(BaseModel):
    name: str
    url: str
    label_size: str
    dpi: int
    active: bool
    state: str = Field(description="ready, offline, paper_out, head_open, ribbon_out, paused, buffer_full "
                                   "or unknown, as the print worker last read it.")
    state_text: str = Field(description="The state in words.")
    state_detail: str | None
    state_checked_at: dt.datetime | None
    queued: int = Field(description="Jobs waiting or being sent.")


class PrinterList(BaseModel):
    data: list[PrinterOut]
