"""The API's request and response bodies: pydantic models, so FastAPI validates every request
against them and publishes them as the OpenAPI schema the fuzz test runs against.

Value domains follow the warehouse (marts.fct_payments): channel `online` or `in_store`, a 4-digit
merchant category code, ISO 3166 alpha-2 IP country (null in store), a SHA-256 hex card
fingerprint, a non-negative USD amount (zero-amount payments exist). Types are strict: a number sent
as a string, or a string for a boolean, is refused rather than converted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)
from pydantic_core import PydanticCustomError

MAX_BATCH = 100
MAX_AMOUNT_USD = 1_000_000.0
EARLIEST_PAID_AT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_PAID_AT = datetime(2100, 1, 1, tzinfo=UTC)


def _only_strings(value: object) -> object:
    """A timestamp must come as a string: lax parsing would also read a number as Unix time."""
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be an RFC 3339 timestamp string")
    return value


Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Payment(BaseModel):
    """One payment attempt, as the payment service sees it when it asks for a score."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    payment_id: Identifier
    # parsed from its string (JSON has no timestamp type): strict mode would accept only a datetime
    paid_at: Annotated[AwareDatetime, BeforeValidator(_only_strings)] = Field(
        strict=False, description="RFC 3339 timestamp with a UTC offset, between 2000-01-01 and 2100-01-01"
    )
    customer_id: Identifier | None = Field(None, description="null for a guest checkout")
    card_fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 hex of the card")
    device_id: Identifier | None = Field(None, description="null in store")
    amount_usd: float = Field(ge=0, le=MAX_AMOUNT_USD, allow_inf_nan=False)
    channel: Literal["online", "in_store"]
    merchant_category_code: str = Field(pattern=r"^[0-9]{4}$", description="ISO 18245, 4 digits")
    ip_country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2; null in store")
    is_authorized: bool = True

    @field_validator("paid_at")
    @classmethod
    def _paid_at_in_range(cls, value: datetime) -> datetime:
        if not EARLIEST_PAID_AT <= value < LATEST_PAID_AT:
            raise ValueError("must be on or after 2000-01-01T00:00:00Z and before 2100-01-01T00:00:00Z")
        return value

    @property
    def paid_at_utc(self) -> datetime:
        """The payment time as naive UTC, as the warehouse stores it."""
        return self.paid_at.astimezone(UTC).replace(tzinfo=None)


class PaymentBatch(BaseModel):
    """Up to MAX_BATCH payments scored in one request, each payment_id once."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    payments: list[Payment] = Field(min_length=1, max_length=MAX_BATCH)

    @field_validator("payments")
    @classmethod
    def _unique_ids(cls, payments: list[Payment]) -> list[Payment]:
        first: dict[str, int] = {}
        for position, payment in enumerate(payments):
            if payment.payment_id in first:
                raise ValueError(
                    f"payment_id {payment.payment_id!r} appears at positions {first[payment.payment_id]} "
                    f"and {position}; each payment is scored once per request"
                )
            first[payment.payment_id] = position
        return payments


def _request_kind(body: Any) -> str:
    """A JSON object with a `payments` key is a batch; anything else is read as one payment."""
    return "batch" if isinstance(body, dict) and "payments" in body else "payment"


ScoreRequest = Annotated[
    Annotated[Payment, Tag("payment")] | Annotated[PaymentBatch, Tag("batch")],
    Discriminator(_request_kind),
]


def payments_of(request: Payment | PaymentBatch) -> list[Payment]:
    return list(request.payments) if isinstance(request, PaymentBatch) else [request]


class PaymentScore(BaseModel):
    payment_id: str
    score: float = Field(description="Calibrated probability that the payment is fraud")
    is_flagged: bool = Field(description="score >= operating_threshold: send to review")
    operating_threshold: float
    model_name: str
    model_version: int
    reason_codes: list[str] | None = Field(
        description="Features pushing the score up the most, for a flagged payment; null otherwise"
    )


class ScoreResponse(BaseModel):
    results: list[PaymentScore] = Field(description="One per payment, in the order of the request")


class FieldError(BaseModel):
    field: str = Field(description="Where in the body, e.g. payments[3].amount_usd; empty: the whole body")
    reason: str


class ErrorResponse(BaseModel):
    error: str = Field(description="A stable code, e.g. invalid_request, payload_too_large, not_ready")
    message: str
    errors: list[FieldError] = Field(default_factory=list)


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "loading"]
    model_name: str
    model_version: int | None
