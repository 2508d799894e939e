"""A listing's sentence vector, shared by every process through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime


class ListingVector(SQLModel, table=True):
    """The vector of one listing's text under one model (``encoder.fingerprint``), in half precision
    (``repository.stored_form``).
    ``source_updated_at`` is the listing's ``updated_at`` when it was computed: an edit bumps that,
    and the worker computes the vector again (only if the text itself changed: ``digest``)."""

    __tablename__ = "listing_vectors"

    kind: str = Field(primary_key=True, max_length=16)
    listing_id: int = Field(primary_key=True)
    model: str = Field(max_length=64)
    digest: str = Field(max_length=16)
    source_updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    vector: bytes = Field(sa_type=LargeBinary, nullable=False)
