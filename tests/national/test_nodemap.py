"""The node map file: what it accepts, and the mistake it names when it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from xiaohu import nodemap
from xiaohu.nodemap import NodeMapProblem
from xiaohu.regions.provinces import PROVINCES

PG = "postgresql+psycopg://postgres@127.0.0.1:{port}/xiaohu"
TWO = f"""
broker_url = "amqp://guest:guest@127.0.0.1:5672/%2F"
default = "north"

[nodes.north]
database_url = "{PG.format(port=5432)}"
provinces = ["11", "12"]

[nodes.south]
database_url = "{PG.format(port=5433)}"
provinces = ["*"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nodes.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_catch_all_node_holds_every_province_no_other_names(tmp_path: Path) -> None:
    m = nodemap.load(write(tmp_path, TWO))
    assert m.national and m.names() == ["north", "south"]
    assert m.node_of("11").name == "north" and m.node_of("44").name == "south"
    assert m.node("north").provinces | m.node("south").provinces == set(PROVINCES)
    assert [n.block for n in m] == [0, 1]


def test_without_a_map_one_node_holds_everything() -> None:
    m = nodemap.single("sqlite:///x.db")
    assert not m.national and m.default == nodemap.LOCAL
    assert m.node_of("65").database_url == "sqlite:///x.db"


def test_the_dump_reads_back_as_the_same_map(tmp_path: Path) -> None:
    m = nodemap.load(write(tmp_path, TWO))
    again = nodemap.load(write(tmp_path, nodemap.dump(m)))
    assert [(n.name, n.provinces) for n in again] == [(n.name, n.provinces) for n in m]
    assert (again.default, again.broker_url) == (m.default, m.broker_url)


def test_a_province_moves_to_another_node() -> None:
    m = nodemap.parse(
        {
            "broker_url": "amqp://x/",
            "nodes": {
                "a": {"database_url": PG.format(port=1), "provinces": ["*"]},
                "b": {"database_url": PG.format(port=2), "provinces": ["44"]},
            },
        }
    )
    moved = m.with_province_on("44", "a")
    assert moved.node_of("44").name == "a" and not moved.node("b").provinces
    assert m.node_of("44").name == "b"  # the map itself is unchanged


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("default = 'x'", "[nodes.NAME] tables are missing"),
        (TWO.replace('"11", "12"', '"11", "99"'), "unknown province '99'"),
        (TWO.replace('["*"]', '["12", "*"]'), "province 12 is on two nodes"),
        (TWO.replace('["*"]', '["44"]'), "are on no node"),
        (TWO.replace('default = "north"', 'default = "east"'), "default: 'east'"),
        (TWO.replace("broker_url = ", "# "), "broker_url is required"),
        (TWO.replace("[nodes.south]", "[nodes.South]"), "node name 'South'"),
        (TWO.replace(PG.format(port=5433), "nowhere"), "nodes.south.database_url"),
        (TWO + "\nshards = 3\n", "unknown key 'shards'"),
        (TWO.replace(PG.format(port=5433), "mysql://x/y"), "nodes.south.database_url: postgresql"),
        (TWO.replace('"11", "12"', '"11", "11"'), "nodes.north.provinces: 11 is listed twice"),
        ('moving = ["99"]\n' + TWO, "moving: unknown province '99'"),
        ("[nodes", "not TOML"),
    ],
)
def test_a_wrong_map_is_refused_naming_its_mistake(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(NodeMapProblem, match=named.replace("[", r"\[").replace("*", r"\*")):
        nodemap.load(write(tmp_path, text))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NodeMapProblem, match="cannot be read"):
        nodemap.load(tmp_path / "absent.toml")


def test_the_example_map_of_the_readme_loads() -> None:
    example = Path(__file__).parents[2] / "deploy" / "nodes.example.toml"
    m = nodemap.load(example)
    assert m.names() == ["n1", "n2", "n3"] and m.node_of("44").name == "n2"


def test_a_node_s_row_id_reaches_the_log_unmasked() -> None:
    """Ids of a node's block run past 11 digits; the log masks such runs as phone numbers."""
    from xiaohu.kit.ids import row_id
    from xiaohu.operations.rules import mask_text

    big = 2**40 + 8
    assert mask_text(f"outbox {row_id(big)} waits") == "outbox 1_099_511_627_784 waits"
    assert "*" in mask_text(f"outbox {big} waits")  # what it was before
