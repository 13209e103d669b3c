"""The report's layered layout of a task graph, and the SVG drawn from it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from app.report.layout import NODE_HEIGHT, NODE_WIDTH, Layout, NodeKind, layered_layout
from app.report.svg import graph_svg
from domain.config import PipelineConfig
from domain.graph import GraphSpec, TaskKind, TaskSpec
from domain.pipeline import pipeline_graph

SVG = "{http://www.w3.org/2000/svg}"


def task(name: str, *preds: str, **kw: bool) -> TaskSpec:
    return TaskSpec(name=name, kind=TaskKind.SQL, definition="select 1", predecessors=preds, **kw)


def layers(layout: Layout) -> dict[str, int]:
    return {n.name: n.layer for n in layout.nodes}


def test_the_pipeline_is_layered_root_first_and_the_finalizer_alone_after_every_other_task() -> None:
    graph = pipeline_graph(PipelineConfig())
    layout = layered_layout(graph)
    assert layers(layout) == {
        graph.name: 0,
        "prepare_data": 1,
        "train_model": 2,
        "check_model_quality": 3,
        "promote_model": 4,
        "send_alert": 4,
        "cleanup": 5,
    }
    assert layout.node("cleanup").kind is NodeKind.FINALIZER
    assert layout.node("check_model_quality").kind is NodeKind.BRANCH
    assert layout.node(graph.name).kind is NodeKind.ROOT


def test_a_task_sits_one_layer_after_its_deepest_predecessor() -> None:
    graph = GraphSpec("G", (task("a"), task("b", "a"), task("c", "b"), task("d", "a", "c"), task("e")))
    assert layers(layered_layout(graph)) == {"G": 0, "a": 1, "e": 1, "b": 2, "c": 3, "d": 4}


def test_boxes_never_overlap_and_fit_in_the_drawing() -> None:
    graph = GraphSpec(
        "G",
        (
            task("a"),
            task("b"),
            task("c"),
            task("x", "a", "b"),
            task("y", "c"),
            task("fin", is_finalizer=True),
        ),
    )
    layout = layered_layout(graph)
    boxes = [(n.x, n.y, n.x + NODE_WIDTH, n.y + NODE_HEIGHT) for n in layout.nodes]
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        assert x1 >= 0 and x2 <= layout.width and y1 >= 0 and y2 <= layout.height
        for u1, v1, u2, v2 in boxes[i + 1 :]:
            assert x2 <= u1 or u2 <= x1 or y2 <= v1 or v2 <= y1, "two boxes overlap"


def test_a_layer_is_ordered_by_its_predecessors_so_edges_do_not_cross() -> None:
    # "z" follows the lower of the two top-level tasks and "w" the upper: "w" must be drawn above "z".
    graph = GraphSpec("G", (task("top"), task("bottom"), task("z", "bottom"), task("w", "top")))
    layout = layered_layout(graph)
    assert layout.node("top").y < layout.node("bottom").y
    assert layout.node("w").y < layout.node("z").y


def test_the_finalizer_hangs_off_the_root_by_one_dashed_finally_edge_and_only_with_a_finalizer() -> None:
    with_finalizer = layered_layout(pipeline_graph(PipelineConfig()))
    assert [(e.source, e.target) for e in with_finalizer.edges if e.finally_edge] == [
        (pipeline_graph(PipelineConfig()).name, "cleanup")
    ]
    without = layered_layout(GraphSpec("G", (task("a"), task("b", "a"))))
    assert not any(e.finally_edge for e in without.edges)


def test_the_svg_marks_the_chosen_branch_and_fades_the_other_and_colours_nodes_by_state() -> None:
    graph = pipeline_graph(PipelineConfig())
    svg = graph_svg(
        layered_layout(graph),
        {"PREPARE_DATA": "SUCCEEDED", "send_alert": "SKIPPED", "promote_model": "SUCCEEDED"},
        {"check_model_quality": "promote_model"},
        title="run 1",
    )
    root = ET.fromstring(svg)  # well-formed XML, as inline SVG in HTML must be
    edges = {
        (g.get("data-from"), g.get("data-to")): g.get("class")
        for g in root.iter(f"{SVG}g")
        if g.get("data-to")
    }
    assert edges[("check_model_quality", "promote_model")] == "edge chosen"
    assert edges[("check_model_quality", "send_alert")] == "edge unchosen"
    assert edges[("train_model", "check_model_quality")] == "edge"
    nodes = {g.get("data-task"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-task")}
    assert nodes["prepare_data"] == "node task state-SUCCEEDED"
    assert nodes["send_alert"] == "node task state-SKIPPED"
    assert nodes["train_model"] == "node task"  # no state in this run: no colour


def test_the_svg_escapes_its_title() -> None:
    svg = graph_svg(layered_layout(GraphSpec("G", (task("a"),))), {}, {}, title='<run> & "x"')
    assert ET.fromstring(svg).find(f"{SVG}title").text == '<run> & "x"'  # type: ignore[union-attr]
    assert "<run>" not in svg
