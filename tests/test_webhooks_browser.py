"""The Webhooks page in real Chromium against a real server: an admin adds a subscription by ticking types
(the secret shown once, gone on reload), sends one dead delivery and then all again (HTMX, in place),
replays a time range; layout at 1280 px and 360 px (no sideways scroll, every target 48 px or more)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from browser_support import HANDHELD, check_layout, screenshot
from station import clock, webhook_policy
from station.models import DeliveryStatus, Event, WebhookDelivery, WebhookSubscription
from station.services import events

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets="a, button, input:not([type=hidden]), select, summary")


@pytest.fixture
def db(sqlite_app):
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # sign in by badge alone
    sqlite_app.config["WEBHOOK_NETWORKS"] = webhook_policy.parse_networks("127.0.0.1/32")
    return sqlite_app.extensions["station.db"]


def kill(db, sub_id: int, n: int) -> list[int]:
    """n events the receiver never took: dead deliveries after three days of retries."""
    with db.write() as s:
        for i in range(n):
            events.record(s, "lot.held", {"lot": {"number": f"L-{i}"}}, key=f"lot:L-{i}",
                          at=clock.now() - dt.timedelta(days=3))
    with db.write() as s:
        ids = []
        for ev in s.scalars(select(Event).order_by(Event.position)):
            row = WebhookDelivery(subscription_id=sub_id, event_id=ev.id, position=ev.position, key=ev.key,
                                  status=DeliveryStatus.DEAD, attempts=31, last_status=503,
                                  last_error="The receiver answered 503 Service Unavailable.")
            s.add(row)
            s.flush()
            ids.append(row.id)
        sub = s.get(WebhookSubscription, sub_id)
        sub.fanned_position = max(ev.position for ev in s.scalars(select(Event)))
        sub.last_error, sub.last_error_at = "The receiver answered 503 Service Unavailable.", clock.now()
    return ids


def test_add_deliver_again_and_replay(live_server, browser_page, db, sqlite_app, signed_in_page):
    url, page = live_server.url, browser_page
    signed_in_page(page, url, sqlite_app, "admin", name="Ann Admin")
    page.goto(f"{url}/webhooks")
    expect(page.locator("[data-no-webhooks]")).to_be_visible()

    form = page.locator("[data-webhook-add]")
    form.locator('[name="name"]').fill("ERP (Odoo)")
    form.locator('[name="url"]').fill("http://10.20.0.5/station")  # not in the allow-list: refused, form kept
    form.locator("label.wh-type", has_text="lot.held").click()
    form.locator("label.wh-type", has_text="order.shipped").click()
    form.locator('button[type="submit"]').click()
    expect(page.locator(".banner--error")).to_contain_text("STATION_WEBHOOK_NETWORKS")
    form = page.locator("[data-webhook-add]")
    expect(form.locator('[name="name"]')).to_have_value("ERP (Odoo)")
    expect(form.locator('input[value="lot.held"]')).to_be_checked()
    form.locator('[name="url"]').fill("http://127.0.0.1:8069/station")
    form.locator('button[type="submit"]').click()
    expect(page.locator(".banner--ok")).to_contain_text("Added ERP (Odoo)")
    with db.read() as s:
        sub = s.scalar(select(WebhookSubscription))
        sub_id, secret = sub.id, sub.secret
        assert sub.types == ["order.shipped", "lot.held"]  # in the page's order
    expect(page.locator("[data-secret-value]")).to_have_value(secret)
    check_layout_at(page, "secret at 1280")
    screenshot(page, "webhooks-secret-1280")
    page.goto(f"{url}/webhooks")
    assert secret not in page.content()
    expect(page.locator("[data-secret-once]")).to_have_count(0)

    ids = kill(db, sub_id, 3)
    page.reload()
    card = page.locator(f"#webhook-{sub_id}")
    expect(card.locator("[data-last-error]")).to_contain_text("503 Service Unavailable")
    expect(card.locator("[data-dead-count] dd")).to_have_text("3")
    card.locator(f'[data-redeliver="{ids[0]}"]').click()  # HTMX: the dead list is swapped in place
    expect(card.locator(".banner--ok")).to_contain_text("1 dead delivery of ERP (Odoo) will be sent again now")
    expect(card.locator(f'[data-redeliver="{ids[0]}"]')).to_have_count(0)
    expect(card.locator("[data-dead]")).to_have_count(2)
    card.locator(f'[data-redeliver-all="{sub_id}"]').click()
    expect(card.locator(".banner--ok")).to_contain_text("2 dead deliveries of ERP (Odoo) will be sent again now")
    expect(card.locator("[data-no-dead]")).to_be_visible()
    with db.read() as s:
        assert set(s.scalars(select(WebhookDelivery.status))) == {DeliveryStatus.PENDING}

    page.locator(f'[data-replay-open="{sub_id}"]').click()
    replay = page.locator(f'[data-replay-form="{sub_id}"]')
    replay.locator('[name="from"]').fill((clock.now() - dt.timedelta(days=4)).strftime("%Y-%m-%dT%H:%M"))
    replay.locator('[name="to"]').fill(clock.now().strftime("%Y-%m-%dT%H:%M"))
    replay.locator('button[type="submit"]').click()
    expect(page.locator(".banner--ok")).to_contain_text("3 events will be sent to ERP (Odoo) again, oldest first")
    with db.read() as s:
        assert s.query(WebhookDelivery).filter_by(replay=True).count() == 6

    with db.write() as s:  # one dead again, so the list shows at both sizes
        s.get(WebhookDelivery, ids[1]).status = DeliveryStatus.DEAD
    page.goto(f"{url}/webhooks")
    page.locator(f'[data-edit="{sub_id}"]').click()
    page.locator(f'[data-replay-open="{sub_id}"]').click()
    check_layout_at(page, "webhooks at 1280")
    screenshot(page, "webhooks-1280")
    page.set_viewport_size(HANDHELD)
    page.reload()
    page.locator(f'[data-edit="{sub_id}"]').click()
    check_layout_at(page, "webhooks at 360")
    screenshot(page, "webhooks-360")
