"""The references that cross a process boundary: a training request as the training job reads it."""

from __future__ import annotations

from domain.refs import DatasetRef, TrainingRequest

TRAIN = DatasetRef("DS", "v1_train", ("MORTGAGERESPONSE",), ("LOAN_ID",))
REQUEST = TrainingRequest(
    TRAIN,
    DatasetRef("DS", "v1_test", ("MORTGAGERESPONSE",), ("LOAN_ID",)),
    {"max_depth": 4},
    2,
    model_version="v20260210_092849",
    compute_pool="DEMO_POOL",
    target_instances=2,
    min_instances=1,
)


def test_a_training_request_reads_back_as_it_was_written() -> None:
    assert TrainingRequest.from_dict(REQUEST.to_dict()) == REQUEST


def test_a_training_request_names_its_model_version_by_that_key() -> None:
    data = REQUEST.to_dict()
    assert data["model_version"] == "v20260210_092849" and "run_id" not in data


def test_a_training_request_written_before_the_rename_reads_its_run_id_as_the_model_version() -> None:
    old = {k: v for k, v in REQUEST.to_dict().items() if k != "model_version"} | {
        "run_id": "v20250101_000000"
    }
    assert TrainingRequest.from_dict(old).model_version == "v20250101_000000"
