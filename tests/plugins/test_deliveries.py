"""The DAG's first task: is anything delivered for the run's date? Decided from the landing folder alone."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from datetime import date
from pathlib import Path

import pytest

from telco_mart.config import Settings
from telco_mart.pipeline import NothingDelivered, check_deliveries, run_delivery_check
from tests.conftest import FEED_COUNT, SMALL_END


@pytest.fixture
def landing_settings(small_landing: Path, tmp_path: Path) -> Settings:
    """A copy of the small landing, with a warehouse path that must never appear."""
    shutil.copytree(small_landing, tmp_path / "landing")
    landing = tmp_path / "landing"
    return dataclasses.replace(
        Settings.from_env(), data_dir=tmp_path, landing_dir=landing, warehouse_path=tmp_path / "w"
    )


def test_a_delivered_day_is_counted_feed_by_feed(landing_settings: Settings) -> None:
    landed = {
        feed.name: n
        for feed in landing_settings.landing_dir.iterdir()
        if (n := len(list((feed / str(SMALL_END)).glob("*"))))
    }
    found = check_deliveries(SMALL_END, landing_settings)
    assert found == {"delivery_date": str(SMALL_END), "files": sum(landed.values()), "feeds": landed}
    assert not landing_settings.warehouse_path.exists()  # the decision opens no warehouse


def test_a_day_without_files_is_nothing_delivered_whatever_else_lies_there(
    landing_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    day = date(2026, 2, 1)
    landing = landing_settings.landing_dir
    (landing / "plans" / str(day)).mkdir()  # an empty delivery folder
    (landing / "cells" / str(day)).mkdir()
    (landing / "cells" / str(day) / ".cells.csv.part").write_text("cell_id\n")  # a copy in progress
    (landing / "cells" / str(day) / "README.txt").write_text("not a feed file")
    nothing = rf"^nothing delivered for {day}: none of the {FEED_COUNT} feeds has a file"
    with pytest.raises(NothingDelivered, match=nothing):
        check_deliveries(day, landing_settings)
    with caplog.at_level(logging.WARNING, logger="telco_mart.pipeline"):
        assert run_delivery_check(day, landing_settings) is False
    assert f"nothing delivered for {day}" in caplog.text
    (landing / "cells" / str(day) / "cells_late.csv").write_text("cell_id\n")
    assert check_deliveries(day, landing_settings)["feeds"] == {"cells": 1}


def test_a_missing_landing_folder_is_an_error_not_an_empty_day(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"landing folder .* does not exist"):
        run_delivery_check(SMALL_END, dataclasses.replace(Settings.from_env(), landing_dir=tmp_path / "landing"))
