"""A payment event as the payment service would publish it, for the streaming tests."""

from __future__ import annotations

import json


def event(**changes: object) -> bytes:
    payment = {
        "payment_id": "pay_1",
        "order_id": "ord_1",
        "customer_id": "C1",
        "card_fingerprint": "ab" * 32,
        "device_id": "dev_1",
        "amount": "10.00",
        "currency": "EUR",
        "paid_at": "2025-03-01T23:30:00-02:00",
        "channel": " Online ",
        "merchant_category_code": "5411",
        "ip_country": "de",
        "payment_status": "AUTHORIZED",
    }
    return json.dumps({"published_on": "2025-03-01", "payment": payment | changes}).encode()
