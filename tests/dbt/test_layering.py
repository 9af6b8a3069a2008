"""dbt flows one way: staging -> utilities -> intermediate -> marts (issue 23).

Read from the parsed manifest (``make dbt-parse``). A model's layer is the folder under
models/ it lives in. Staging reads sources only; every other layer reads its own layer and
the layers below it, never one above: an intermediate model that read a mart would make the
marts depend on each other through the intermediate layer, and a change to a mart would
reach models that should not know it exists.
"""

from __future__ import annotations

#: The layers, lowest first: a model may ref a model of its own layer or of a lower one.
LAYERS = ("staging", "utilities", "intermediate", "marts")


def layer(node: dict) -> str:
    """The layer of a model: the first folder of its path under models/."""
    folder = node["original_file_path"].removeprefix("models/").split("/")[0]
    assert folder in LAYERS, f"{node['original_file_path']}: not in a layer folder {LAYERS}"
    return folder


def upward_refs(manifest: dict) -> list[str]:
    """Every ref from a model to a model of a higher layer, and every ref staging makes."""
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    wrong = []
    for node in models.values():
        own = layer(node)
        for parent_id in node["depends_on"]["nodes"]:
            if parent_id not in models:
                continue  # a source (or a macro): the bottom of the graph
            parent = models[parent_id]
            theirs = layer(parent)
            if own == "staging" or LAYERS.index(theirs) > LAYERS.index(own):
                wrong.append(f"{own}/{node['name']} -> {theirs}/{parent['name']}")
    return sorted(wrong)


def test_every_model_is_in_a_layer_folder(manifest: dict) -> None:
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert models and {layer(n) for n in models} <= set(LAYERS)


def test_no_ref_goes_from_a_lower_layer_to_a_higher_one(manifest: dict) -> None:
    assert upward_refs(manifest) == []


def test_the_check_sees_an_upward_ref() -> None:
    """A hand-made graph: an intermediate model reading a mart, staging reading staging."""

    def model(name: str, path: str, *parents: str) -> tuple[str, dict]:
        return f"model.p.{name}", {
            "resource_type": "model",
            "name": name,
            "original_file_path": f"models/{path}/{name}.sql",
            "depends_on": {"nodes": [f"model.p.{p}" for p in parents] + ["source.p.raw.t"]},
        }

    graph = {
        "nodes": dict(
            [
                model("stg_a", "staging/a"),
                model("stg_b", "staging/a", "stg_a"),
                model("util_days", "utilities"),
                model("int_x", "intermediate/x", "stg_a", "util_days", "dim_y"),
                model("int_z", "intermediate/x", "int_x"),
                model("dim_y", "marts/core", "stg_a", "util_days", "int_z"),
            ]
        )
    }
    assert upward_refs(graph) == ["intermediate/int_x -> marts/dim_y", "staging/stg_b -> staging/stg_a"]


#: More refs than this in one model asks for a split, or for the reason it is one model.
MAX_REFS = 7


def models_with_many_refs(manifest: dict) -> dict[str, int]:
    """Each model that reads more than MAX_REFS distinct models or sources, and how many."""
    counts = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        parents = {p for p in node["depends_on"]["nodes"] if p.split(".")[0] in {"model", "source"}}
        if len(parents) > MAX_REFS:
            counts[node["name"]] = len(parents)
    return counts


def test_a_model_with_many_refs_says_why_it_is_one_model(manifest: dict) -> None:
    """A wide model is a smell unless it is the join point by design: its config meta says so."""
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    unexplained = sorted(
        f"{name} ({count} refs)"
        for name, count in models_with_many_refs(manifest).items()
        if len(str(nodes[name]["config"].get("meta", {}).get("many_refs", "")).split()) < 10
    )
    assert unexplained == [], f"split these, or give config.meta.many_refs a reason: {unexplained}"


def test_the_check_counts_distinct_parents() -> None:
    """A model that reads one model twice and eight sources has nine parents, not ten."""
    parents = [f"source.p.s.t{i}" for i in range(8)] + ["model.p.a", "model.p.a", "macro.p.m"]
    graph = {"nodes": {"model.p.wide": {"resource_type": "model", "name": "wide", "depends_on": {"nodes": parents}}}}
    assert models_with_many_refs(graph) == {"wide": 9}
