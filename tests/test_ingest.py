from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hrlrec import contract, ingest
from hrlrec.config import Config
from hrlrec.errors import ContractError
from hrlrec.layout import SUCCESS, day_dir
from hrlrec.simulator import land
from hrlrec.workspace import Workspace
from tests.conftest import DAY

LOGGED = contract.schema_with(["propensity"])  # the simulator logs its propensities


def _ws(cfg: Config, root: Path) -> Workspace:
    """A workspace at `root`: its landing zone is root/landing, its raw store root/data/raw."""
    return Workspace(root, cfg)


def _copy_landing(src: Path, w: Workspace) -> Path:
    """Copy the day from the landing zone `src` into the workspace's landing zone."""
    shutil.copytree(day_dir(src, DAY), w.layout.landing_day(DAY))
    return w.layout.landing_day(DAY)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _rewrite(day_dir: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    """Replace the day's data with `change(table)`, keeping the _SUCCESS marker."""
    table = pq.read_table(day_dir)
    for f in day_dir.glob("*.parquet"):
        f.unlink()
    pq.write_table(change(table), day_dir / "part-00000.parquet")


def test_clean_day_lands_with_the_contract_schema(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    result = ingest.run(_ws(cfg, tmp_path), DAY, backfill=False, landing=landing_day)
    out = pq.read_table(result.out_dir)
    src = pq.read_table(day_dir(landing_day, DAY))
    assert out.schema.remove_metadata().equals(LOGGED)
    assert out.num_rows == src.num_rows == result.rows
    assert out.equals(src.cast(LOGGED))
    assert (result.out_dir / SUCCESS).is_file()
    assert sum(result.rows_per_channel.values()) == result.rows


def test_reingesting_a_day_gives_identical_files(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    first = _digest(ingest.run(w, DAY, backfill=False, landing=landing_day).out_dir)
    second = _digest(ingest.run(w, DAY, backfill=False, landing=landing_day).out_dir)
    assert first == second
    assert len(list(w.layout.raw.iterdir())) == 1  # no leftovers beside the day


def test_simulator_source_fills_a_missing_landing_day(cfg: Config, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    landed = land.run(w, DAY, backfill=False)
    assert landed.simulated == [DAY]
    result = ingest.run(w, DAY, backfill=False)
    assert result.rows > 0
    assert (w.layout.landing_day(DAY) / SUCCESS).is_file()


def test_safe_widenings_are_cast_and_extra_columns_ignored(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    day = _copy_landing(landing_day, w)

    def widen(t: pa.Table) -> pa.Table:
        t = t.set_column(t.schema.get_field_index("position"), "position", pc.cast(t["position"], pa.int64()))
        t = t.set_column(t.schema.get_field_index("clicked"), "clicked", pc.cast(t["clicked"], pa.bool_()))
        t = t.set_column(
            t.schema.get_field_index("dwell_time_s"), "dwell_time_s", pc.cast(t["dwell_time_s"], pa.float64())
        )
        t = t.set_column(t.schema.get_field_index("channel"), "channel", pc.dictionary_encode(t["channel"]))
        t = t.set_column(
            t.schema.get_field_index("event_time"), "event_time", pc.cast(t["event_time"], pa.timestamp("ns", tz="UTC"))
        )
        return t.append_column("experiment_arm", pa.array(["a"] * t.num_rows))

    _rewrite(day, widen)
    result = ingest.run(w, DAY, backfill=False)
    out = pq.read_table(result.out_dir)
    assert out.schema.remove_metadata().equals(LOGGED)
    assert result.ignored_columns == ["experiment_arm"]
    assert out.equals(pq.read_table(day_dir(landing_day, DAY)).cast(LOGGED))


def test_several_files_in_subfolders_are_read_in_a_stable_order(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    day = _copy_landing(landing_day, w)
    table = pq.read_table(day)
    for f in day.glob("*.parquet"):
        f.unlink()
    half = table.num_rows // 2
    (day / "hour=00").mkdir()
    pq.write_table(table.slice(0, half), day / "hour=00" / "a.parquet")
    pq.write_table(table.slice(half), day / "b.parquet")
    (day / "_tmp_writer.parquet").write_bytes(b"half written")  # ignored: underscore files are not data
    result = ingest.run(w, DAY, backfill=False)
    assert result.files_in == 2 and result.rows == table.num_rows


# -- malformed inputs: each one rejected with a clear message, nothing written -------


def _drop(column: str) -> Callable[[pa.Table], pa.Table]:
    return lambda t: t.drop_columns([column])


def _replace(column: str, make: Callable[[pa.Table], pa.Array]) -> Callable[[pa.Table], pa.Table]:
    return lambda t: t.set_column(t.schema.get_field_index(column), column, make(t))


MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing column": (lambda d: _rewrite(d, _drop("item_id")), "missing column(s): item_id"),
    "user_id as text": (
        lambda d: _rewrite(d, _replace("user_id", lambda t: pc.cast(t["user_id"], pa.string()))),
        "column 'user_id' has type string, contract needs int64 (no lossless cast); example rows: row 0:",
    ),
    "dwell as text": (
        lambda d: _rewrite(d, _replace("dwell_time_s", lambda t: pc.cast(t["dwell_time_s"], pa.string()))),
        "column 'dwell_time_s' has type string",
    ),
    "ds of another day": (
        lambda d: _rewrite(d, _replace("ds", lambda t: pa.array(["2026-11-01"] * t.num_rows))),
        "column 'ds' disagrees with the partition ds=2026-11-02",
    ),
    "no _SUCCESS": (lambda d: (d / SUCCESS).unlink(), "no _SUCCESS marker"),
    "truncated file": (
        lambda d: (d / "part-00000.parquet").write_bytes((d / "part-00000.parquet").read_bytes()[:5000]),
        "part-00000.parquet: not a readable Parquet file",
    ),
    "not parquet at all": (
        lambda d: (d / "part-00000.parquet").write_bytes(b"user_id,channel\n1,news\n"),
        "not a readable Parquet file",
    ),
    "empty day, no rows": (lambda d: _rewrite(d, lambda t: t.slice(0, 0)), "no rows; an empty day is not ingested"),
    "empty day, no files": (
        lambda d: [f.unlink() for f in d.glob("*.parquet")],
        "no Parquet files in the partition",
    ),
    "position overflows int16": (
        lambda d: _rewrite(d, _replace("position", lambda t: pa.array([70_000] + [0] * (t.num_rows - 1), pa.int64()))),
        "column 'position': 1 value(s) cannot be cast without loss (values outside the int16 range); "
        "examples row 0: 70000",
    ),
    "timestamp without zone": (
        lambda d: _rewrite(d, _replace("event_time", lambda t: pc.cast(t["event_time"], pa.timestamp("us")))),
        "timestamp has no time zone",
    ),
    "a 1 MB channel value": (
        lambda d: _rewrite(
            d, _replace("channel", lambda t: pa.array(["x" * 1_000_000, *t["channel"].to_pylist()[1:]]))
        ),
        "column 'channel': 1 value(s) longer than 256 bytes, which no log holds; examples row 0: "
        "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (1,000,002 characters)",
    ),
    "a 1 MB tag": (
        lambda d: _rewrite(
            d,
            _replace(
                "item_tags",
                lambda t: pa.array(
                    [*t["item_tags"].to_pylist()[:3], ["ok", "t" * 1_000_000], *t["item_tags"].to_pylist()[4:]],
                    pa.list_(pa.string()),
                ),
            ),
        ),
        "column 'item_tags': 1 value(s) longer than 256 bytes, which no log holds; examples row 3: ['ok', 'ttt",
    ),
    "tags as one string": (
        lambda d: _rewrite(d, _replace("item_tags", lambda t: pa.array(["a,b"] * t.num_rows))),
        "column 'item_tags' has type string, contract needs list<",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_day_is_rejected_and_nothing_changes(
    case: str, cfg: Config, landing_day: Path, tmp_path: Path
) -> None:
    w = _ws(cfg, tmp_path)
    raw = w.layout.raw
    good = ingest.run(w, DAY, backfill=False, landing=landing_day)  # yesterday's good copy of the day
    before = _digest(raw)
    day = _copy_landing(landing_day, w)
    corrupt, message = MALFORMED[case]
    corrupt(day)
    with pytest.raises(ContractError) as err:
        ingest.run(w, DAY, backfill=False)
    assert message in str(err.value)
    assert len(str(err.value)) < 2000, "error messages show short previews, never whole values"
    assert _digest(raw) == before, "a rejected day must not touch the ingested copy"
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith(".")) == [good.out_dir.name]


def test_missing_partition_is_named(cfg: Config, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    with pytest.raises(ContractError, match="ds=2026-11-02: landing partition for 2026-11-02 does not exist"):
        ingest.run(w, DAY, backfill=False)
    assert not w.layout.raw.exists() or not any(w.layout.raw.iterdir())


def test_leftovers_of_a_killed_run_are_cleared(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    raw = w.layout.raw
    leftover = raw / f".ds={DAY}.tmp-deadbeef"
    leftover.mkdir(parents=True)
    (leftover / "part-00000.parquet").write_bytes(b"half")
    ingest.run(w, DAY, backfill=False, landing=landing_day)
    assert sorted(p.name for p in raw.iterdir()) == [f"ds={DAY}"]


def test_large_day_rolls_into_several_files(
    cfg: Config, landing_day: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "ROWS_PER_FILE", 10_000)
    monkeypatch.setattr(ingest, "BATCH_ROWS", 4_096)
    result = ingest.run(_ws(cfg, tmp_path), DAY, backfill=False, landing=landing_day)
    assert result.files_out == -(-result.rows // 10_000)
    assert pq.read_table(result.out_dir).equals(pq.read_table(day_dir(landing_day, DAY)))


def test_a_day_left_as_old_copy_by_a_killed_swap_is_put_back(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    raw = w.layout.raw
    first = _digest(ingest.run(w, DAY, backfill=False, landing=landing_day).out_dir)
    # Killed between "old aside" and "new in": only the hidden old copy is left.
    w.layout.raw_day(DAY).rename(raw / f".ds={DAY}.old-cafebabe")
    day = _copy_landing(landing_day, w)
    MALFORMED["position overflows int16"][0](day)  # and the next run fails while writing
    with pytest.raises(ContractError):
        ingest.run(w, DAY, backfill=False)
    assert _digest(w.layout.raw_day(DAY)) == first  # the old copy was restored, not deleted


def test_a_null_channel_is_left_to_validation(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    day = _copy_landing(landing_day, w)
    _rewrite(day, _replace("channel", lambda t: pa.array([None, *t["channel"].to_pylist()[1:]], pa.string())))
    result = ingest.run(w, DAY, backfill=False)
    assert result.rows_per_channel["(null)"] == 1


def test_uint64_overflow_names_its_rows(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    day = _copy_landing(landing_day, w)
    huge = pa.array([2**63 + 5] + [1] * 0, pa.uint64())
    _rewrite(
        day, _replace("user_id", lambda t: pa.concat_arrays([huge, pa.array([1] * (t.num_rows - 1), pa.uint64())]))
    )
    with pytest.raises(
        ContractError, match=r"column 'user_id': 1 value\(s\) cannot be cast.*row 0: 9223372036854775813"
    ):
        ingest.run(w, DAY, backfill=False)


def test_a_day_without_propensities_lands_with_the_required_columns_only(
    cfg: Config, landing_day: Path, tmp_path: Path
) -> None:
    w = _ws(cfg, tmp_path)
    day = _copy_landing(landing_day, w)
    _rewrite(day, lambda t: t.drop_columns(["propensity"]))
    result = ingest.run(w, DAY, backfill=False)
    out = pq.read_table(result.out_dir)
    assert out.schema.remove_metadata().equals(contract.SCHEMA)


def test_propensities_are_cast_from_float64_and_refused_as_integers(
    cfg: Config, landing_day: Path, tmp_path: Path
) -> None:
    w = _ws(cfg, tmp_path)
    day = _copy_landing(landing_day, w)
    as_double = pc.cast(pq.read_table(day).column("propensity"), pa.float64())
    _rewrite(day, lambda t: t.set_column(t.schema.get_field_index("propensity"), "propensity", as_double))
    out = pq.read_table(ingest.run(w, DAY, backfill=False).out_dir)
    assert out.schema.field("propensity").type == pa.float32()
    _rewrite(day, lambda t: t.set_column(t.schema.get_field_index("propensity"), "propensity",
                                         pa.array([1] * t.num_rows, pa.int8())))  # fmt: skip
    with pytest.raises(ContractError, match=r"column 'propensity' has type int8, contract needs float"):
        ingest.run(w, DAY, backfill=False)


def test_propensities_in_some_files_of_a_day_only_are_refused(cfg: Config, landing_day: Path, tmp_path: Path) -> None:
    w = _ws(cfg, tmp_path)
    day = _copy_landing(landing_day, w)
    table = pq.read_table(day)
    for f in day.glob("*.parquet"):
        f.unlink()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), day / "part-00000.parquet")
    pq.write_table(table.slice(half).drop_columns(["propensity"]), day / "part-00001.parquet")
    with pytest.raises(ContractError, match=r"optional column 'propensity' is in 1 of 2 files .*part-00001.parquet"):
        ingest.run(w, DAY, backfill=False)
    assert not w.layout.raw_day(DAY).exists()
