"""An unordered bulk insert's duplicate keys mean "already written"; anything else is a failure."""

from __future__ import annotations

import pytest
from connector_service.platform.writes import DUPLICATE_KEY, duplicate_indexes
from pymongo.errors import BulkWriteError


def _error(write_errors: list[dict], concern: list[dict] | None = None) -> BulkWriteError:
    return BulkWriteError({"writeErrors": write_errors, "writeConcernErrors": concern or [], "nInserted": 1})


def test_duplicates_answer_their_positions() -> None:
    err = _error([{"index": 0, "code": DUPLICATE_KEY}, {"index": 3, "code": DUPLICATE_KEY}])
    assert duplicate_indexes(err) == [0, 3]


@pytest.mark.parametrize(
    "err",
    [
        _error([{"index": 0, "code": DUPLICATE_KEY}, {"index": 1, "code": 121}]),  # a validation failure
        _error([{"index": 0, "code": DUPLICATE_KEY}], concern=[{"code": 64, "errmsg": "waiting for replication"}]),
    ],
)
def test_any_other_failure_is_raised_as_it_came(err: BulkWriteError) -> None:
    with pytest.raises(BulkWriteError) as raised:
        duplicate_indexes(err)
    assert raised.value is err
