"""What every config section shares: unknown keys are errors, values are checked as set."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # strict: "5" is not an epoch count; extra="forbid": a typo is an error, not a default;
    # allow_inf_nan=False: `l2: .inf` would pass here and fail deep inside Keras.
    model_config = ConfigDict(
        extra="forbid", strict=True, validate_assignment=True, allow_inf_nan=False
    )
