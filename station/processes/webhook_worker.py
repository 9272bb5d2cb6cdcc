"""The webhook worker: POSTs each subscription's events to its receiver, signed, in order per key.

Each of its threads loops: fan new events out into deliveries (when some subscription is behind), claim
one due delivery, check its URL against STATION_WEBHOOK_NETWORKS again and resolve it
(webhook_policy.resolve: the address checked is the address connected to), POST it outside any
transaction (webhook_post.post, bounded by STATION_WEBHOOK_TIMEOUT_SECONDS), and record the outcome if
the claim is still its own. The rules — exactly one delivery per event and subscription, one key at a
time, retries with backoff for three days, at least once when a worker dies — are
services/webhook_delivery.py's.

An idle thread looks (a read) every `poll_s` seconds; it takes a write transaction only when there is
something to fan out or claim. `station worker` runs it beside the print worker, `station run` in its
first process; any number may run against one PostgreSQL database. `stop()` (SIGTERM) lets each
thread finish the POST it is making and record it, and joins the threads.

Secrets are never logged: the log says which delivery and what the receiver did, nothing signed.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field

from .. import clock, unavailable, webhook_policy
from ..db import Database
from ..services import webhook_delivery as delivery
from ..services import webhook_signing as signing
from .webhook_post import Answer, post

log = logging.getLogger(__name__)
FAN_OUT_EVERY = 0.25  # seconds between looks for new events while deliveries keep a thread busy


@dataclass
class Stats:
    """What the worker has done since it started (for logs, tests and the benchmark)."""

    fanned: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    refused: int = 0      # not sent: the URL is refused by the network policy
    lost_claims: int = 0  # the claim ran out and another worker had it before the outcome was written
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **values: int) -> None:
        with self.lock:
            for key, value in values.items():
                setattr(self, key, getattr(self, key) + value)


class WebhookWorker:
    """Delivers webhooks; `start()` runs `threads` threads, `stop()` ends them cleanly."""

    def __init__(self, db: Database, *, settings: delivery.Settings | None = None, networks=None,
                 worker_id: str | None = None, threads: int = 2, poll_s: float = 0.5,
                 fan_out_batch: int = delivery.FAN_OUT_BATCH, rng: random.Random | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.db = db
        self.settings = settings or delivery.Settings.from_config()
        # STATION_WEBHOOK_NETWORKS: checked again at every delivery, whatever the subscription's row says.
        self.networks = webhook_policy.from_environment() if networks is None \
            else webhook_policy.parse_networks(networks)
        self.worker_id = worker_id or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.threads = max(1, threads)
        self.poll_s = poll_s
        self.fan_out_batch = max(1, fan_out_batch)
        self.rng = rng or random.Random()
        self.tls = tls  # None: https receivers are verified against the system's CAs
        self.stats = Stats()
        self.stopping = threading.Event()
        self._fanned_at = 0.0
        self._threads: list[threading.Thread] = []

    @classmethod
    def for_app(cls, app, **options) -> WebhookWorker:
        options.setdefault("settings", delivery.Settings.from_config(app.config))
        options.setdefault("networks", app.config.get("WEBHOOK_NETWORKS", ()))
        worker = cls(app.extensions["station.db"], **options)
        app.extensions["station.webhook_worker"] = worker
        return worker

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> WebhookWorker:
        self.stopping.clear()
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True, name=f"webhook worker {index}")
            self._threads.append(thread)
            thread.start()
        log.info("webhook worker %s: %d thread(s)", self.worker_id, self.threads)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Let each thread finish the POST it is making, then join them; safe to repeat."""
        self.stopping.set()
        deadline = time.monotonic() + (timeout if timeout is not None else 2 * self.settings.timeout_s + 10)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        self._threads = []
        if alive:
            log.warning("webhook worker %s: %s still busy at the stop", self.worker_id, ", ".join(alive))

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def __enter__(self) -> WebhookWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self, index: int) -> None:
        thread_id = f"{self.worker_id}/{index}"
        outage = 0
        worked = 0
        while not self.stopping.is_set():
            try:
                worked = self.run_once(thread_id, busy=bool(worked))
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the worker
                worked = 0
                problem = unavailable.describe(exc)
                if problem is None:
                    log.exception("webhook worker %s: a round failed", thread_id)
                else:
                    if not outage:
                        log.warning("webhook worker %s: the database cannot be reached (%s); retrying",
                                    thread_id, problem.code)
                    outage += 1
                    self.stopping.wait(min(0.25 * outage, 5.0))
                    continue
            if outage:
                log.warning("webhook worker %s: the database is back", thread_id)
                outage = 0
            if not worked:
                self.stopping.wait(self.poll_s)

    # --- one round -------------------------------------------------------------------------------

    def run_once(self, thread_id: str | None = None, *, busy: bool = False) -> int:
        """Fan out what is new, then claim and send one delivery; 1 when one was tried, else 0. `busy`
        (the last round sent one): straight to the claim, looking for new events every `FAN_OUT_EVERY`
        seconds — the reads that spare an idle worker the write lock only cost a busy one time."""
        thread_id = thread_id or f"{self.worker_id}/0"
        if not busy or time.monotonic() - self._fanned_at > FAN_OUT_EVERY:
            self._fanned_at = time.monotonic()
            with self.db.read() as session:
                behind = delivery.fan_out_needed(session)
            if behind:
                with self.db.write() as session:
                    self.stats.add(fanned=delivery.fan_out(session, batch=self.fan_out_batch))
        if not busy:
            with self.db.read() as session:
                if not delivery.anything_due(session):
                    return 0
        with self.db.write() as session:
            claimed = delivery.claim(session, thread_id, self.settings)
        if claimed is None:
            return 0
        self.deliver(claimed, thread_id)
        return 1

    def deliver(self, claimed: delivery.Claim, thread_id: str) -> Answer:
        """Send one claimed delivery and record what the receiver did."""
        answer = self._send(claimed)
        with self.db.write() as session:
            if answer.delivered:
                held = delivery.record_delivered(session, claimed, thread_id, answer.status)
                outcome = delivery.DELIVERED if held else None
            else:
                outcome = delivery.record_failed(session, claimed, thread_id, answer.status, answer.error,
                                                 self.settings, rng=self.rng)
        if outcome is None:
            self.stats.add(lost_claims=1)
            log.warning("webhook worker %s: delivery %d was claimed by another worker before its outcome "
                        "was written (it may be sent again)", thread_id, claimed.id)
        elif outcome == delivery.DELIVERED:
            self.stats.add(delivered=1)
        elif outcome == delivery.DEAD:
            self.stats.add(dead=1)
            log.warning("webhook worker %s: delivery %d (subscription %d) given up: %s", thread_id, claimed.id,
                        claimed.subscription_id, answer.error)
        else:
            self.stats.add(retried=1)
            log.info("webhook worker %s: delivery %d (subscription %d) failed, tried again later: %s",
                     thread_id, claimed.id, claimed.subscription_id, answer.error)
        return answer

    def _send(self, claimed: delivery.Claim) -> Answer:
        if claimed.event is None:  # cannot happen while events are never deleted; not a reason to stop
            return Answer(None, "The event of this delivery no longer exists.")
        started = time.monotonic()
        target, problem = webhook_policy.resolve(claimed.url, self.networks)
        if problem:
            self.stats.add(refused=1)
            return Answer(None, f"Not sent: {problem}")
        if time.monotonic() - started > self.settings.lookup_s:
            # Past this the POST could outlast the claim, and another worker could be sending it too.
            return Answer(None, f"Not sent: looking up the receiver's host took longer than "
                                f"{self.settings.lookup_s:g} s.")
        body = signing.encode(claimed.event)
        timestamp = int(clock.now().timestamp())
        headers = signing.headers(claimed.secret, claimed.event, timestamp, body)
        return post(target, body, headers, self.settings.timeout_s, self.tls)
