"""The served model: the champion plus the online feature store of one published snapshot.

Features come from serving/features (the code the batch path's features are checked against), scores,
flags and reason codes from ml.scoring.batch.score_matrix (the batch path's own function, on the matrix
score_frame would build), so a payment gets the same score online as in ml.payment_fraud_scores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import polars as pl

from ml.dataset import rows_matrix, to_matrix
from ml.scoring.batch import reason_codes, score_frame, score_matrix
from ml.scoring.compiled import cache_dir
from ml.specs import load_specs
from serving.champion import PREDICT_THREADS, Champion, compiled, load_champion
from serving.features import OnlineFeatureStore, PaymentEvent
from serving.hotswap import ModelInfo
from serving.schemas import Payment, PaymentScore
from serving.settings import ServingSettings
from serving.snapshot import latest_payments, payment_ids_held, read_champion

PROBE_ROWS = 512  # real payments on which the compiled forest must agree with LightGBM


def to_event(payment: Payment) -> PaymentEvent:
    return PaymentEvent(
        payment_id=payment.payment_id,
        paid_at=payment.paid_at_utc,
        customer_id=payment.customer_id,
        card_fingerprint=payment.card_fingerprint,
        device_id=payment.device_id,
        amount_usd=payment.amount_usd,
        channel=payment.channel,
        merchant_category_code=payment.merchant_category_code,
        ip_country=payment.ip_country,
        is_authorized=payment.is_authorized,
    )


class ChampionScorer:
    def __init__(self, champion: Champion, store: OnlineFeatureStore, snapshot: Path) -> None:
        self.champion, self.store, self.snapshot = champion, store, snapshot
        threshold = champion.model.threshold
        assert threshold is not None  # load_champion refuses a model without one
        self.info = ModelInfo(
            champion.registered.model_name, champion.registered.version, float(threshold), champion.engine
        )

    @property
    def complete_from(self) -> datetime | None:
        return self.store.complete_from

    def score(self, payments: Sequence[Payment]) -> list[PaymentScore]:
        events = [to_event(payment) for payment in payments]
        rows = self.store.feature_rows(events)
        if [row[0] for row in rows] != [event.payment_id for event in events]:
            raise RuntimeError("the feature store returned rows out of order or missing")
        model = self.champion.model
        # a polars frame for one payment costs more than scoring it: the rows go straight into the
        # matrix, the same one score_frame builds from the frame (tests/ml/test_encoding.py)
        matrix = rows_matrix([row[1:] for row in rows], model.codebook, model.spec.features.names)
        scored = score_matrix(model, matrix, self.champion.attribution, PREDICT_THREADS)
        assert scored.flagged is not None and scored.reason_codes is not None
        info = self.info
        return [
            PaymentScore(
                payment_id=event.payment_id,
                score=score,
                is_flagged=flagged,
                operating_threshold=info.threshold,
                model_name=info.name,
                model_version=info.version,
                reason_codes=codes,
            )
            for event, score, flagged, codes in zip(
                events, scored.scores.tolist(), scored.flagged.tolist(), scored.reason_codes, strict=True
            )
        ]

    def record(self, payments: Sequence[Payment]) -> None:
        self.store.record([to_event(payment) for payment in payments])

    def not_in_snapshot(self, payments: Sequence[Payment]) -> list[Payment]:
        held = payment_ids_held(self.snapshot, [payment.payment_id for payment in payments])
        return [payment for payment in payments if payment.payment_id not in held]


def load_scorer(settings: ServingSettings) -> ChampionScorer:
    """The champion of the published snapshot with the snapshot's feature state; compiled if it
    agrees with LightGBM on the features of the snapshot's latest payments."""
    registered = read_champion(settings.snapshot, settings.model_name)
    champion = load_champion(registered, settings.models_dir, load_specs()[settings.model_name])
    model = champion.model
    # the features the model was trained on (its own spec), as batch scoring reads them
    store = OnlineFeatureStore.load(settings.snapshot, spec=model.spec)
    probe_frame = store.features(latest_payments(settings.snapshot, PROBE_ROWS))
    probe = to_matrix(model.codebook.encode(probe_frame), model.spec.features.names)
    champion = compiled(champion, probe, cache_dir(settings.models_dir))
    if probe_frame.height:
        warm_up(champion, probe_frame.head(1))
    return ChampionScorer(champion, store, settings.snapshot)


def warm_up(champion: Champion, frame: pl.DataFrame) -> None:
    """Score one row through every step, reason codes included, before the model takes traffic:
    the first call of each library path costs tens of milliseconds."""
    model = champion.model
    score_frame(model, frame, champion.attribution, PREDICT_THREADS)
    matrix = to_matrix(model.codebook.encode(frame), model.spec.features.names)
    reason_codes(model, matrix, model.spec.reason_codes or 1, champion.attribution, PREDICT_THREADS)
