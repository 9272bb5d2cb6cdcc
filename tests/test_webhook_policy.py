"""Where webhooks may go (station/webhook_policy.py): public addresses, or private networks named in
STATION_WEBHOOK_NETWORKS; never a URL with credentials, another scheme, or a name that resolves inside."""
from __future__ import annotations

import socket

import pytest

from station import webhook_policy as policy

LAN = policy.parse_networks("10.20.0.0/16, 127.0.0.1/32")


def lookup_to(*addresses):
    def lookup(host, port, *_):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    return lookup


@pytest.mark.parametrize("url, words", [
    ("ftp://erp.example.com/x", "must start with https:// or http://"),
    ("file:///etc/passwd", "must start with https:// or http://"),
    ("gopher://127.0.0.1:25/", "must start with https:// or http://"),
    ("https://", "names no host"),
    ("https://user:pw@erp.example.com/", "Leave the user name and password out"),
    ("https://erp.example.com/a b", "spaces or control characters"),
    ("https://erp.example.com:99999/", "not a URL Station can send to"),
    ("https://erp.example.com/#x", "#fragment"),
    ("https://erp.example.com/" + "a" * 500, "longer than 500"),
    ("", "Give the receiver's URL"),
])
def test_urls_of_the_wrong_form_are_refused_in_words(url, words):
    assert words in policy.refusal(url, (), lookup=lookup_to("93.184.216.34"))


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("10.20.1.5", "private"), ("192.168.1.1", "private"), ("172.16.0.1", "private"),
    ("169.254.169.254", "link-local"), ("100.64.0.1", "carrier-grade NAT"), ("0.0.0.0", "unspecified"),
    ("::1", "loopback"), ("fd00::1", "private"), ("fe80::1", "link-local"), ("224.0.0.1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"),
])
def test_addresses_inside_are_refused_unless_their_network_is_named(address, kind):
    url = f"http://[{address}]/hook" if ":" in address else f"http://{address}/hook"
    assert kind in policy.refusal(url, ())
    named = policy.parse_networks("127.0.0.1" if address.startswith("::ffff:") else address)  # that host alone
    assert policy.refusal(url, named) is None


def test_a_name_is_judged_by_every_address_it_resolves_to():
    assert policy.refusal("https://erp.example.com/", (), lookup=lookup_to("93.184.216.34")) is None
    words = policy.refusal("https://erp.example.com/", (), lookup=lookup_to("93.184.216.34", "10.20.1.5"))
    assert "erp.example.com (10.20.1.5) is a private or reserved address" in words
    assert "STATION_WEBHOOK_NETWORKS" in words
    assert policy.refusal("https://erp.example.com/", LAN, lookup=lookup_to("10.20.1.5")) is None
    assert "10.99.0.1" in policy.refusal("https://erp.example.com/", LAN, lookup=lookup_to("10.99.0.1"))


def test_the_target_is_the_address_that_was_checked():
    target, why = policy.resolve("https://erp.example.com:8443/in?site=1", (), lookup=lookup_to("93.184.216.34"))
    assert why is None and target == policy.Target("https", "erp.example.com", 8443, "/in?site=1", "93.184.216.34")


def test_a_bad_allow_list_is_named():
    with pytest.raises(ValueError, match="STATION_WEBHOOK_NETWORKS: 'lan' is not a network"):
        policy.parse_networks("10.0.0.0/8, lan")
