"""The simulated Model Registry: native model files, versions, default, aliases, tags, lineage, scoring."""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.jobs.training import run_training
from adapters.simulator.registry import SimModelRegistry
from domain.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidData, InvalidName, NotFound
from domain.refs import DatasetRef, ModelArtifact
from tests.support.training_data import request_for, write_dataset


@pytest.fixture
def registry(account: LocalAccount) -> SimModelRegistry:
    return SimModelRegistry(account)


@pytest.fixture
def artifact(account: LocalAccount) -> ModelArtifact:
    outcome = run_training(request_for(account.files), account.files)
    assert outcome is not None
    return outcome.artifact


DATASET = DatasetRef("MORTGAGE_DATASET", "v1", label_cols=("MORTGAGERESPONSE",), exclude_cols=("LOAN_ID",))


def log(registry: SimModelRegistry, artifact: ModelArtifact, version: str, **extra: object) -> None:
    registry.log_version(
        model_name="mortgage_model",
        version=version,
        artifact=artifact,
        metrics={"test_accuracy": 0.8},
        dataset=DATASET,
        **extra,  # type: ignore[arg-type]
    )


def test_names_resolve_like_snowflake_identifiers(
    registry: SimModelRegistry, artifact: ModelArtifact
) -> None:
    info = registry.log_version(
        model_name="mortgage_model",
        version="v20260210_092849",
        artifact=artifact,
        metrics={"test_accuracy": 0.81},
        dataset=DATASET,
        comment="XGBoost for loan approval",
        evidence={"decision": "promote"},
    )
    assert (info.model_name, info.version) == ("MORTGAGE_MODEL", "V20260210_092849")
    assert info.metrics == {"test_accuracy": 0.81}
    assert info.dataset == DATASET
    assert info.comment == "XGBoost for loan approval"
    assert registry.list_versions("MORTGAGE_MODEL")[0].evidence == {"decision": "promote"}


def test_the_first_version_becomes_the_default_and_later_ones_do_not(
    registry: SimModelRegistry, artifact: ModelArtifact
) -> None:
    log(registry, artifact, "v1")
    log(registry, artifact, "v2")
    default = registry.default_version("MORTGAGE_MODEL")
    assert default is not None and default.version == "V1"
    assert [v.is_default for v in registry.list_versions("mortgage_model")] == [True, False]


def test_a_version_survives_the_deletion_of_its_run_artifact(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    log(registry, artifact, "v1")
    Path(artifact.uri).unlink()
    metrics = registry.score("mortgage_model", "v1", write_dataset(account.files, "DS", "v2_test", seed=5))
    assert metrics["accuracy"] > 0.7
    assert "test_accuracy" not in metrics


def test_a_duplicate_version_raises_and_writes_nothing(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    log(registry, artifact, "v1", comment="first")
    with pytest.raises(AlreadyExists, match="MORTGAGE_MODEL version V1 already existed"):
        log(registry, artifact, "V1", comment="second")
    [only] = registry.list_versions("mortgage_model")
    assert only.comment == "first"
    with account.cursor() as cur:
        assert cur.execute("select count(*) from REGISTRY_LINEAGE").fetchone() == (1,)


def test_lineage_rows_name_the_dataset_version(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    log(registry, artifact, "v1")
    with account.cursor() as cur:
        rows = cur.execute("select * from REGISTRY_LINEAGE").fetchall()
    assert rows == [("MORTGAGE_MODEL", "V1", "MORTGAGE_DATASET", "v1")]


def test_promotion_moves_the_default_and_the_champion_aliases(
    registry: SimModelRegistry, artifact: ModelArtifact
) -> None:
    for v in ("v1", "v2", "v3"):
        log(registry, artifact, v)
    registry.promote("mortgage_model", "v1")
    assert registry.aliases("mortgage_model") == {"CHAMPION": "V1"}
    registry.promote("mortgage_model", "v2")
    registry.promote("mortgage_model", "v3")
    assert registry.aliases("mortgage_model") == {"CHAMPION": "V3", "PREVIOUS_CHAMPION": "V2"}
    assert registry.get_version("mortgage_model", "champion").version == "V3"
    default = registry.default_version("mortgage_model")
    assert default is not None and default.version == "V3"
    assert default.aliases == frozenset({"CHAMPION"})


def test_promoting_the_champion_again_changes_nothing(
    registry: SimModelRegistry, artifact: ModelArtifact
) -> None:
    log(registry, artifact, "v1")
    log(registry, artifact, "v2")
    registry.promote("mortgage_model", "v2")
    before = registry.list_versions("mortgage_model")
    registry.promote("mortgage_model", "v2")
    assert registry.list_versions("mortgage_model") == before


def test_promoting_an_unknown_version_changes_nothing(
    registry: SimModelRegistry, artifact: ModelArtifact
) -> None:
    log(registry, artifact, "v1")
    with pytest.raises(NotFound, match="V9"):
        registry.promote("mortgage_model", "v9")
    assert registry.aliases("mortgage_model") == {}


def test_tags_belong_to_the_model(registry: SimModelRegistry, artifact: ModelArtifact) -> None:
    log(registry, artifact, "v1")
    registry.set_tag("mortgage_model", "stage", "production")
    registry.set_tag("mortgage_model", "stage", "staging")
    assert registry.tags("MORTGAGE_MODEL") == {"STAGE": "staging"}
    with pytest.raises(NotFound, match="OTHER_MODEL"):
        registry.set_tag("other_model", "stage", "x")


def test_the_default_and_aliased_versions_cannot_be_deleted(
    registry: SimModelRegistry, artifact: ModelArtifact
) -> None:
    for v in ("v1", "v2", "v3"):
        log(registry, artifact, v)
    registry.promote("mortgage_model", "v2")
    with pytest.raises(Conflict, match="default version"):
        registry.delete_version("mortgage_model", "v2")
    with pytest.raises(Conflict, match="PREVIOUS_CHAMPION"):
        registry.delete_version("mortgage_model", "v1")


def test_an_aliased_version_is_deleted_with_its_alias_when_asked(
    registry: SimModelRegistry, artifact: ModelArtifact
) -> None:
    for v in ("v1", "v2"):
        log(registry, artifact, v)
    registry.promote("mortgage_model", "v2")

    registry.delete_version("mortgage_model", "v1", drop_aliases=True)

    assert [v.version for v in registry.list_versions("mortgage_model")] == ["V2"]
    assert registry.aliases("mortgage_model") == {"CHAMPION": "V2"}


@pytest.mark.parametrize(
    ("damage", "error", "says"),
    [
        (lambda f: f.write_bytes(b"\xe8" * 64 + f.read_bytes()[64:]), InvalidData, "is damaged"),
        (lambda f: f.write_bytes(f.read_bytes()[:1000]), InvalidData, "is damaged"),
        (lambda f: f.unlink(), NotFound, "is missing"),
    ],
)
def test_a_damaged_or_missing_model_file_names_the_file_the_version_and_the_repair(
    registry: SimModelRegistry,
    artifact: ModelArtifact,
    account: LocalAccount,
    damage: Callable[[Path], object],
    error: type[Exception],
    says: str,
) -> None:
    log(registry, artifact, "v1")
    model_file = account.files / "registry" / "MORTGAGE_MODEL" / "V1" / "model.ubj"
    damage(model_file)
    dataset = write_dataset(account.files, "DS", "v3", rows=50)

    with pytest.raises(error) as raised:
        registry.score("mortgage_model", "v1", dataset)

    assert f"the model file {model_file} of MORTGAGE_MODEL version V1 {says}" in str(raised.value)
    assert "models --drop V1 --force" in str(raised.value)


def test_deleting_a_version_removes_its_rows_and_file(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    log(registry, artifact, "v1")
    log(registry, artifact, "v2")
    registry.delete_version("mortgage_model", "v2")
    assert [v.version for v in registry.list_versions("mortgage_model")] == ["V1"]
    assert not (account.files / "registry" / "MORTGAGE_MODEL" / "V2").exists()
    with pytest.raises(NotFound):
        registry.delete_version("mortgage_model", "v2")


def test_version_folders_a_crash_left_unlogged_are_removed_on_the_next_open(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    log(registry, artifact, "v1")
    model_folder = account.files / "registry" / "MORTGAGE_MODEL"
    (model_folder / "V2").mkdir()  # killed after making the folder
    (model_folder / "V3").mkdir()  # killed after copying the file, before the commit
    shutil.copyfile(artifact.uri, model_folder / "V3" / "model.ubj")

    SimModelRegistry(account)

    assert sorted(p.name for p in model_folder.iterdir()) == ["V1"]
    assert (model_folder / "V1" / "model.ubj").is_file()


def test_a_disk_full_while_logging_names_the_path_and_leaves_no_version_folder(
    registry: SimModelRegistry,
    artifact: ModelArtifact,
    account: LocalAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = account.files / "registry" / "MORTGAGE_MODEL" / "V1" / "model.ubj"

    def disk_full(src: str, dst: str) -> None:
        Path(dst).touch()  # the 0-byte file a full disk leaves
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(BackendUnavailable, match=re.escape(f"no space left on {target}")):
        log(registry, artifact, "v1")

    assert not target.parent.exists()
    assert registry.list_versions("mortgage_model") == []


def test_a_version_whose_files_cannot_be_deleted_is_dropped_with_a_warning_naming_them(
    registry: SimModelRegistry,
    artifact: ModelArtifact,
    account: LocalAccount,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log(registry, artifact, "v1")
    log(registry, artifact, "v2")
    real_unlink = os.unlink

    def refuse(path: str, *args: object, **kwargs: object) -> None:
        if str(path).endswith("model.ubj") or kwargs.get("dir_fd") is not None:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_unlink(path)

    monkeypatch.setattr(os, "unlink", refuse)
    registry.delete_version("mortgage_model", "v2")

    assert [v.version for v in registry.list_versions("mortgage_model")] == ["V1"]
    assert "could not delete" in caplog.text and "of MORTGAGE_MODEL version V2" in caplog.text


def test_an_unknown_model_lists_nothing_and_has_no_default(registry: SimModelRegistry) -> None:
    assert registry.list_versions("nothing_here") == []
    assert registry.default_version("nothing_here") is None
    with pytest.raises(NotFound):
        registry.get_version("nothing_here", "v1")


def test_a_file_that_is_not_an_xgboost_model_is_refused(registry: SimModelRegistry, tmp_path: Path) -> None:
    bogus = tmp_path / "model.ubj"
    bogus.write_bytes(b"not a model")
    with pytest.raises(InvalidData, match="not a readable XGBoost model"):
        log(registry, ModelArtifact(str(bogus)), "v1")
    assert registry.list_versions("mortgage_model") == []


def test_a_missing_model_file_is_not_found(registry: SimModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        log(registry, ModelArtifact(str(tmp_path / "gone.ubj")), "v1")


def test_invalid_names_are_refused(registry: SimModelRegistry, artifact: ModelArtifact) -> None:
    with pytest.raises(InvalidName):
        log(registry, artifact, 'x"; drop table REGISTRY_VERSIONS; --')


def test_quoted_names_cannot_escape_the_registry_folder(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    registry.log_version(
        model_name='"../../escape"', version="v1", artifact=artifact, metrics={}, dataset=DATASET
    )
    assert not (account.home / "escape").exists()
    assert registry.get_version('"../../escape"', "v1").model_name == "../../escape"


def test_scoring_on_data_with_other_features_is_refused(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    log(registry, artifact, "v1")
    ref = write_dataset(account.files, "DS", "v3", rows=50)
    fewer = DatasetRef(ref.name, ref.version, ref.label_cols, (*ref.exclude_cols, "FLAG"))
    with pytest.raises(InvalidData, match="differ from the model's"):
        registry.score("mortgage_model", "v1", fewer)


def test_scoring_reads_a_dataset_with_a_quoted_name(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    log(registry, artifact, "v1")
    ref = write_dataset(account.files, "my ds/x", "v3", rows=50)
    assert set(registry.score("mortgage_model", "v1", ref)) >= {"accuracy"}


def test_deleting_a_version_in_a_copied_home_leaves_the_original_home_alone(
    artifact: ModelArtifact, tmp_path: Path
) -> None:
    original, copy = tmp_path / "original", tmp_path / "copy"
    with LocalAccount(original) as account:
        registry = SimModelRegistry(account)
        log(registry, artifact, "v1")
        log(registry, artifact, "v2")
    shutil.copytree(original, copy)
    with LocalAccount(copy) as account:
        SimModelRegistry(account).delete_version("mortgage_model", "v2")
    assert (original / "files" / "registry" / "MORTGAGE_MODEL" / "V2" / "model.ubj").is_file()
    assert not (copy / "files" / "registry" / "MORTGAGE_MODEL" / "V2").exists()


def test_rows_with_absolute_model_paths_resolve_in_the_current_home(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount, tmp_path: Path
) -> None:
    log(registry, artifact, "v1")
    log(registry, artifact, "v2")
    with account.cursor() as cur:  # as rows were written before paths were stored relative
        cur.execute(
            "update REGISTRY_VERSIONS set MODEL_PATH = ?", [str(tmp_path / "elsewhere" / "model.ubj")]
        )
    ref = write_dataset(account.files, "DS", "v3", rows=50)
    assert registry.score("mortgage_model", "v1", ref)
    registry.delete_version("mortgage_model", "v2")
    assert not (account.files / "registry" / "MORTGAGE_MODEL" / "V2").exists()


def test_promoting_the_previous_champion_back_swaps_the_aliases(
    registry: SimModelRegistry, artifact: ModelArtifact
) -> None:
    for v in ("v1", "v2"):
        log(registry, artifact, v)
    registry.promote("mortgage_model", "v2")

    registry.promote("mortgage_model", "v1")

    assert registry.aliases("mortgage_model") == {"CHAMPION": "V1", "PREVIOUS_CHAMPION": "V2"}


def test_a_version_that_holds_an_alias_gets_no_second_one_as_on_snowflake(
    registry: SimModelRegistry, artifact: ModelArtifact, account: LocalAccount
) -> None:
    for v in ("v1", "v2"):
        log(registry, artifact, v)
    with account.cursor() as cur:  # an alias set outside the pipeline (ALTER MODEL … SET ALIAS = STAGING)
        cur.execute("insert into REGISTRY_ALIASES values ('MORTGAGE_MODEL', 'STAGING', 'V2')")

    with pytest.raises(Conflict, match=r"version V2 holds the alias STAGING; .*one alias per model version"):
        registry.promote("mortgage_model", "v2")

    assert registry.aliases("mortgage_model") == {"STAGING": "V2"}
    default = registry.default_version("mortgage_model")
    assert default is not None and default.version == "V1"
