"""The warehouse file: created only by init, one writer at a time across processes, and
transactions whose rollback never hides the error that caused it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from telco_mart.config import Settings
from telco_mart.schema import init_warehouse
from telco_mart.warehouse import WarehouseBusy, WarehouseMissing, connect, transaction
from tests.conftest import REPO_ROOT


def settings_for(tmp_path: Path, **changes: object) -> Settings:
    return dataclasses.replace(
        Settings.from_env(), data_dir=tmp_path, warehouse_path=tmp_path / "warehouse.duckdb", **changes
    )


def test_only_init_creates_a_warehouse_and_says_so_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with pytest.raises(WarehouseMissing, match="telco-mart init"), connect(settings=settings):
        pass
    assert not settings.warehouse_path.exists()
    first_id, created = init_warehouse(settings)
    again_id, created_again = init_warehouse(settings)
    assert created and not created_again and first_id == again_id
    with connect(settings=settings, read_only=True) as con:
        assert con.execute("select warehouse_id from raw.warehouse_identity").fetchall() == [(first_id,)]


HOLDER = """
import sys, time, dataclasses
from pathlib import Path
sys.path.insert(0, {plugins!r})
from telco_mart.config import Settings
from telco_mart.warehouse import writer_lock
settings = dataclasses.replace(Settings.from_env(), warehouse_path=Path({warehouse!r}))
with writer_lock(settings, holder="the nightly backfill"):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_second_writer_waits_then_is_told_who_holds_the_warehouse(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lock_wait_seconds=1.0)
    init_warehouse(settings)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER.format(plugins=str(REPO_ROOT / "plugins"), warehouse=str(settings.warehouse_path)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        began = time.monotonic()
        with pytest.raises(WarehouseBusy, match="the nightly backfill"), connect(settings=settings):
            pass
        assert time.monotonic() - began >= 1.0  # it waited before giving up
        with connect(settings=settings, read_only=True) as con:  # readers need no lock
            assert con.execute("select 1").fetchall() == [(1,)]
    finally:
        holder.kill()
        holder.wait()
    with connect(settings=settings) as con:  # the kernel freed the dead holder's lock
        assert con.execute("select 1").fetchall() == [(1,)]


def test_a_failed_rollback_never_hides_the_error_that_caused_it() -> None:
    con = duckdb.connect()
    con.execute("create table t (x integer primary key)")
    with pytest.raises(duckdb.ConstraintException) as failed, transaction(con):
        con.execute("insert into t values (1), (1)")
    assert "rolling back" not in str(failed.value)  # the rollback went through: no note

    class CommitFails(Exception):
        pass

    with pytest.raises(CommitFails) as failed, transaction(con):
        con.execute("insert into t values (2)")
        con.execute("rollback")  # what a failed commit leaves: no transaction
        raise CommitFails("No space left on device")
    assert "No space left on device" in str(failed.value)
    assert any("rolling back after it failed too" in note for note in failed.value.__notes__)


def test_a_publish_sweeps_the_staging_folders_a_killed_publish_left(tmp_path: Path) -> None:
    from telco_mart.campaigns.publish import sweep_leftovers

    outbox = tmp_path / "outbox"
    (outbox / "2026-06-29").mkdir(parents=True)
    leftovers = [outbox / ".2026-06-30.publishing-1a2b3c4d", outbox / ".2026-06-28.previous-9f8e7d6c"]
    for folder in leftovers:
        folder.mkdir()
        (folder / "vip_care.csv").write_text("half a day\n")
    assert sweep_leftovers(outbox) == sorted(leftovers, key=lambda p: "previous" in p.name)
    assert sorted(p.name for p in outbox.iterdir()) == ["2026-06-29"]
