"""Webhook delivery against a real receiver on 127.0.0.1 (tests/webhook_receiver.py): through refused
connections, timeouts, 500s and redirects every event arrives, in order per key, signed; retries back off
with jitter and give up after the window; a URL the policy refuses is never contacted; `station worker`
killed with -9 mid-delivery loses nothing; two workers on PostgreSQL never send one event twice at once."""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import ssl
import statistics
import subprocess
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from conftest import _empty_postgres
from station import clock
from station.config import WEBHOOK_DELIVERY, ConfigError
from station.db import Database
from station.models import DeliveryStatus, Event, WebhookDelivery, WebhookSubscription
from station.processes.webhook_worker import WebhookWorker
from station.services import events
from station.services import webhook_delivery as delivery
from station.services.webhook_delivery import Settings, backoff
from station.services.webhook_signing import verify
from test_server import STATION, wait_for
from webhook_receiver import Receiver

SECRET = "whsec-test-3f9a1c"
LOOPBACK = "127.0.0.1/32"
FAST = Settings(timeout_s=1.0, retry_base_s=0.05, retry_max_s=0.3, give_up=dt.timedelta(hours=72))


def subscribe(db, url: str, types: list[str] | None = None, name: str = "ERP") -> int:
    """A subscription as services/webhooks.py makes one: from the newest event on."""
    with db.write() as s:
        newest = s.scalar(select(func.max(Event.position))) or 0
        sub = WebhookSubscription(name=name, url=url, types=types or [], secret=SECRET, active=True,
                                  fanned_position=newest)
        s.add(sub)
        s.flush()
        return sub.id


def record(db, keys: list[str], per_key: int, type: str = "lot.moved") -> list[str]:
    """per_key events for each key, interleaved, one transaction per round; their uids in order."""
    uids = []
    for i in range(per_key):
        with db.write() as s:
            rows = [events.record(s, type, {"lot": {"number": k[4:]}, "step": i}, key=k) for k in keys]
        uids += [r.uid for r in rows]
    return uids


def deliveries(db) -> list[WebhookDelivery]:
    with db.read() as s:
        rows = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        s.expunge_all()  # detached as loaded (the read's rollback would expire them)
        return rows


def all_delivered(db, count: int) -> bool:
    rows = deliveries(db)
    return len(rows) == count and all(d.status == DeliveryStatus.DELIVERED for d in rows)


def check_requests(rx: Receiver, uids: list[str]) -> None:
    """Every request signed and matching its headers; each event processed; one key's in order."""
    assert rx.requests and not rx.elsewhere, "a redirect was followed"
    per_key: dict[str, list[int]] = defaultdict(list)
    for r in rx.requests:
        assert verify(SECRET, r.headers["Station-Timestamp"], r.body, r.headers["Station-Signature"],
                      tolerance=None), r.headers
        assert not verify("another-secret", r.headers["Station-Timestamp"], r.body, r.headers["Station-Signature"],
                          tolerance=None)
        event = json.loads(r.body)
        assert r.headers["Content-Type"] == "application/json" and r.headers["User-Agent"] == "Station-Webhooks/1"
        assert (r.event_id, r.headers["Station-Event-Type"]) == (event["id"], event["type"])
        assert r.path == "/hooks/station" and r.body == json.dumps(event, separators=(",", ":")).encode()
        per_key[event["key"]].append(event["position"])
    for key, positions in per_key.items():
        assert positions == sorted(positions), f"{key} out of order: {positions}"
    assert set(rx.processed) == set(uids) and set(rx.processed.values()) == {1}


# --- failures, then recovery ---------------------------------------------------------------------------


def test_through_refusals_timeouts_errors_and_redirects_every_event_arrives_in_order_signed(db):
    with Receiver(mode="close", hang_s=3.0) as rx:
        sub_id = subscribe(db, rx.url)
        uids = record(db, ["lot:A", "lot:B", "lot:C"], 4)
        with WebhookWorker(db, settings=FAST, networks=LOOPBACK, threads=3, poll_s=0.02) as worker:
            for mode in ("close", "hang", "error", "redirect"):
                seen = rx.count(mode)
                rx.mode = mode
                wait_for(lambda m=mode, n=seen: rx.count(m) >= n + 3, timeout=120, what=f"3 tries in {mode}")
            with db.read() as s:
                sub = s.get(WebhookSubscription, sub_id)
                assert sub.last_error and sub.last_error_at and sub.last_delivered_at is None
            rx.mode = "ok"
            wait_for(lambda: all_delivered(db, len(uids)) and len(rx.processed) == len(uids), timeout=120,
                     what="every event delivered")
        assert worker.stats.delivered >= len(uids) and worker.stats.retried >= 12
    check_requests(rx, uids)
    rows = deliveries(db)
    assert all(d.last_status == 200 and d.delivered_at and d.claimed_by is None for d in rows)
    assert max(d.attempts for d in rows) > 1
    errors = {r.mode for r in rx.requests}
    assert errors == {"close", "hang", "error", "redirect", "ok"}
    with db.read() as s:
        assert s.get(WebhookSubscription, sub_id).last_delivered_at is not None


def test_what_a_failed_try_says(db):
    with Receiver(mode="redirect") as rx:
        subscribe(db, rx.url)
        record(db, ["lot:A"], 1)
        worker = WebhookWorker(db, settings=FAST, networks=LOOPBACK)
        said = []
        for mode in ("redirect", "error", "close", "hang"):
            rx.mode = mode
            with clock.at(clock.now() + dt.timedelta(hours=1 + len(said))):
                assert worker.run_once() == 1
            said.append(deliveries(db)[0].last_error)
    assert "302" in said[0] and "does not follow redirects" in said[0] and "/elsewhere" in said[0]
    assert said[1].startswith("The receiver answered 500") and "the ERP is down" in said[1]
    assert "closed the connection without answering" in said[2]
    assert "did not answer within 1 s" in said[3]
    assert deliveries(db)[0].last_status is None and not rx.elsewhere


def test_one_key_is_claimed_one_at_a_time_in_order_also_with_a_replayed_copy(db):
    subscribe(db, "http://127.0.0.1:9/never-sent")
    record(db, ["lot:A"], 3)
    record(db, ["lot:B"], 1)
    with db.write() as s:
        assert delivery.fan_out(s) == 4
        first = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.position)).first()
        # A replay (services/webhooks.py) of the first event while its delivery is still pending.
        s.add(WebhookDelivery(subscription_id=first.subscription_id, event_id=first.event_id, position=first.position,
                              key=first.key, status=DeliveryStatus.PENDING, replay=True, attempts=0,
                              next_at=clock.now(), created_at=clock.now()))
    with db.write() as s:
        assert delivery.fan_out(s) == 0  # each event once per subscription

    def claim(worker: str):
        with db.write() as s:
            return delivery.claim(s, worker, FAST)

    held = {"w1": claim("w1"), "w2": claim("w2")}
    assert sorted((c.key, c.position) for c in held.values()) == [("lot:A", 1), ("lot:B", 4)]
    assert claim("w3") is None  # lot:A's next ones wait behind the one in flight
    worker, a = next((w, c) for w, c in held.items() if c.key == "lot:A")
    sent = []
    while a is not None:
        with db.write() as s:
            assert not delivery.record_delivered(s, a, "intruder", 200)  # not its claim: nothing written
            assert delivery.record_delivered(s, a, worker, 200)
        sent.append((a.position, a.id))
        worker, a = "w3", claim("w3")
    assert [p for p, _ in sent] == [1, 1, 2, 3] and sent[0][1] < sent[1][1]


# --- backoff and giving up -----------------------------------------------------------------------------


def test_backoff_grows_with_full_jitter_and_a_delivery_dies_after_the_window(db):
    settings = Settings(timeout_s=5, retry_base_s=10, retry_max_s=3600, give_up=dt.timedelta(hours=72))
    rng = random.Random(16)
    samples = [[backoff(n, settings, rng) for _ in range(2000)] for n in range(1, 13)]
    means = [statistics.mean(s) for s in samples]
    for n, (s, mean) in enumerate(zip(samples, means), start=1):
        bound = min(3600, 10 * 2 ** (n - 1))
        assert 0 <= min(s) and max(s) <= bound and abs(mean - bound / 2) < bound * 0.05  # uniform on [0, bound]
        assert len({round(x, 6) for x in s}) > 1900  # jittered, not one value
    growing = means[:9]  # bounds 10 s ... 2560 s; from the 10th try on the cap (3600 s) holds
    assert growing == sorted(growing) and all(m == pytest.approx(1800, rel=0.05) for m in means[9:])

    with Receiver(mode="error") as rx:
        subscribe(db, rx.url)
        record(db, ["lot:A"], 1)
        worker = WebhookWorker(db, settings=settings, networks=LOOPBACK, rng=random.Random(7))
        start = clock.now().replace(microsecond=0) + dt.timedelta(minutes=1)
        moment, waits = start, []
        for attempt in range(1, 15):
            with clock.at(moment):
                assert worker.run_once() == 1, f"attempt {attempt} not made"
            row = deliveries(db)[0]
            assert row.status == DeliveryStatus.PENDING and row.attempts == attempt
            next_at = row.next_at.replace(tzinfo=dt.timezone.utc) if row.next_at.tzinfo is None else row.next_at
            wait = (next_at - moment).total_seconds()
            assert 0 <= wait <= min(3600, 10 * 2 ** (attempt - 1)) + 1e-3
            waits.append(wait)
            if wait > 0.01:  # not due before its time
                with clock.at(next_at - dt.timedelta(milliseconds=5)):
                    assert worker.run_once() == 0
            moment = next_at
        assert max(waits[:5]) < 160 < max(waits[8:]) and len(set(waits)) == len(waits)
        with clock.at(start + dt.timedelta(hours=72, seconds=1)):
            assert worker.run_once() == 1
            assert worker.run_once() == 0
        row = deliveries(db)[0]
        assert row.status == DeliveryStatus.DEAD and row.attempts == 15 and "Gave up after 15 tries" in row.last_error
        assert rx.count() == 15


# --- the policy at delivery ----------------------------------------------------------------------------


def test_a_url_the_policy_now_refuses_is_not_contacted(db):
    with Receiver() as rx:
        sub_id = subscribe(db, rx.url)  # allowed when it was saved (STATION_WEBHOOK_NETWORKS had loopback)
        record(db, ["lot:A"], 2)
        worker = WebhookWorker(db, settings=FAST, networks="")  # now it has not
        assert worker.run_once() == 1
        row = deliveries(db)[0]
        assert row.status == DeliveryStatus.PENDING and row.attempts == 1 and row.last_status is None
        assert row.last_error.startswith("Not sent: ") and "STATION_WEBHOOK_NETWORKS" in row.last_error
        with db.read() as s:
            assert "loopback" in s.get(WebhookSubscription, sub_id).last_error
        assert worker.stats.refused == 1 and rx.count() == 0
        # Named in the allow-list again: it goes.
        with WebhookWorker(db, settings=FAST, networks=LOOPBACK, poll_s=0.02):
            wait_for(lambda: all_delivered(db, 2), timeout=60, what="delivery once allowed")
    assert rx.count() == 2


def test_an_inactive_subscription_and_other_types_are_not_sent(db):
    with Receiver() as rx:
        subscribe(db, rx.url, types=["lot.held"])
        quiet = subscribe(db, rx.url, name="paused")
        with db.write() as s:
            s.get(WebhookSubscription, quiet).active = False
        record(db, ["lot:A"], 2, type="lot.moved")
        held = record(db, ["lot:A"], 1, type="lot.held")
        with WebhookWorker(db, settings=FAST, networks=LOOPBACK, poll_s=0.02):
            wait_for(lambda: all_delivered(db, 1), timeout=60, what="the held event")
    assert [r.event_id for r in rx.requests] == held
    with db.read() as s:
        assert s.get(WebhookSubscription, quiet).fanned_position == 0


def test_the_settings_come_from_the_environment_and_a_bad_one_is_refused_in_words(monkeypatch):
    for name, *_ in WEBHOOK_DELIVERY.values():
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_config() == Settings()
    monkeypatch.setenv("STATION_WEBHOOK_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("STATION_WEBHOOK_GIVE_UP_HOURS", "1")
    got = Settings.from_config()
    assert got.timeout_s == 2.5 and got.give_up == dt.timedelta(hours=1) and got.claim_for == dt.timedelta(seconds=10)
    for bad in ("nan", "-1", "ten", "0"):
        monkeypatch.setenv("STATION_WEBHOOK_RETRY_BASE_SECONDS", bad)
        with pytest.raises(ConfigError, match="STATION_WEBHOOK_RETRY_BASE_SECONDS must be a number of seconds"):
            Settings.from_config()


# --- https ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for the name `localhost` (its own CA): (cert file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return str(cert), str(key)


def test_https_connects_to_the_checked_address_and_verifies_the_name(db, certificate):
    cert, key = certificate
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    with Receiver(tls=server, host="localhost") as rx:
        subscribe(db, rx.url)
        record(db, ["lot:A"], 1)
        # The system's CAs do not know this certificate: refused, in words, and tried again later.
        stranger = WebhookWorker(db, settings=FAST, networks="127.0.0.1/32,::1/128")
        assert stranger.run_once() == 1
        assert "TLS certificate of localhost" in deliveries(db)[0].last_error and rx.count() == 0
        trusting = ssl.create_default_context(cafile=cert)
        worker = WebhookWorker(db, settings=FAST, networks="127.0.0.1/32,::1/128", tls=trusting)
        with clock.at(clock.now() + dt.timedelta(minutes=1)):
            assert worker.run_once() == 1
        assert deliveries(db)[0].status == DeliveryStatus.DELIVERED
        assert rx.requests[0].headers["Host"] == f"localhost:{rx.port}"
        # The same receiver by its address: the certificate names `localhost`, not 127.0.0.1.
        with db.write() as s:
            s.scalars(select(WebhookSubscription)).one().url = rx.url.replace("localhost", "127.0.0.1")
        record(db, ["lot:A"], 1)
        with clock.at(clock.now() + dt.timedelta(minutes=2)):
            assert worker.run_once() == 1
        assert "could not be verified" in deliveries(db)[1].last_error and rx.count() == 1


# --- real processes ------------------------------------------------------------------------------------


def start_worker(db_url: str, tmp_path, name: str, threads: int = 2) -> subprocess.Popen:
    env = {**os.environ, "STATION_DATABASE_URL": db_url, "STATION_INSTANCE": str(tmp_path / "instance"),
           "PYTHONUNBUFFERED": "1", "STATION_WEBHOOK_NETWORKS": LOOPBACK, "STATION_WEBHOOK_TIMEOUT_SECONDS": "2",
           "STATION_WEBHOOK_RETRY_BASE_SECONDS": "0.1", "STATION_WEBHOOK_RETRY_MAX_SECONDS": "0.5"}
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - the child holds it
    process = subprocess.Popen([STATION, "worker", "--poll", "0.05", "--threads", "1", "--webhook-threads",
                                str(threads)], env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    return process


def stop_worker(process: subprocess.Popen, tmp_path, name: str) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        raise AssertionError(f"station worker did not stop on SIGTERM:\n{(tmp_path / f'{name}.log').read_text()}") \
            from None
    return (tmp_path / f"{name}.log").read_text()


def test_station_worker_killed_mid_delivery_and_restarted_loses_nothing(db, db_url, tmp_path):
    with Receiver(mode="ok") as rx:
        subscribe(db, rx.url)
        uids = record(db, ["lot:A", "lot:B"], 6)
        first = start_worker(db_url, tmp_path, "first")
        try:
            wait_for(lambda: len(rx.processed) >= 3 or first.poll() is not None, timeout=120,
                     what="the first deliveries")
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            rx.hold()
            assert rx.holding.wait(120), "no request held"
            held = {r.event_id for r in rx.requests if r.mode == "hold"}
        finally:
            os.killpg(first.pid, signal.SIGKILL)  # mid-delivery: the receiver holds its request
            first.wait(10)
        rx.mode = "ok"
        rx.release()  # the held request is answered to nobody (it may have been processed: dedupe)
        second = start_worker(db_url, tmp_path, "second")
        try:
            wait_for(lambda: all_delivered(db, len(uids)) and len(rx.processed) == len(uids), timeout=180,
                     what="every event delivered after the restart")
        finally:
            out = stop_worker(second, tmp_path, "second")
    assert "webhook worker stopped" in out, out
    check_requests(rx, uids)
    for uid in held:
        assert sum(1 for r in rx.requests if r.event_id == uid) >= 2, "the held event was not sent again"


def test_two_worker_processes_on_postgresql_never_send_one_event_twice_at_once(pg_url, tmp_path):
    db = Database(pg_url)
    _empty_postgres(db)
    try:
        with Receiver(mode="slow", slow_s=0.02) as rx:
            subscribe(db, rx.url)
            uids = record(db, [f"lot:K{k:02}" for k in range(20)], 10)
            workers = [start_worker(pg_url, tmp_path, f"w{i}", threads=4) for i in range(2)]
            outs = []
            try:
                wait_for(lambda: all_delivered(db, len(uids)) and len(rx.processed) == len(uids), timeout=240,
                         what="every event delivered by two workers")
            finally:
                outs = [stop_worker(w, tmp_path, f"w{i}") for i, w in enumerate(workers)]
        check_requests(rx, uids)
        assert max(rx.max_in_flight.values()) == 1, {k: v for k, v in rx.max_in_flight.items() if v > 1}
        duplicates = len(rx.requests) - len(uids)
        delivered = [line for out in outs for line in out.splitlines() if "webhook worker stopped" in line]
        print(f"two workers: {len(rx.requests)} requests for {len(uids)} events, {duplicates} duplicates; "
              f"{delivered}")
    finally:
        db.dispose()
