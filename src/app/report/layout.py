"""A layered (Sugiyama-style) left-to-right layout of a task graph, as plain geometry for the SVG drawing.

Layer 0 is the root (named after the graph, as Snowflake names it); a task sits one layer after its deepest
predecessor; the finalizer gets a layer of its own after every other task, since it runs last. Within a layer,
tasks are ordered by the mean slot of their predecessors (one barycentre pass, which keeps the pipeline's
branches apart and their edges uncrossed), ties broken by the spec's topological order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.graph import GraphSpec

NODE_WIDTH, NODE_HEIGHT = 168, 46
LAYER_GAP, SLOT_GAP, MARGIN = 56, 26, 16
FINALLY_LANE = 28  # room under the boxes for the root -> finalizer edge


class NodeKind(StrEnum):
    ROOT = "root"
    TASK = "task"
    BRANCH = "branch"
    FINALIZER = "finalizer"


@dataclass(frozen=True)
class Node:
    name: str
    kind: NodeKind
    layer: int
    slot: int
    x: float  # top-left corner
    y: float

    @property
    def right(self) -> tuple[float, float]:
        return self.x + NODE_WIDTH, self.y + NODE_HEIGHT / 2

    @property
    def left(self) -> tuple[float, float]:
        return self.x, self.y + NODE_HEIGHT / 2


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    finally_edge: bool = False  # root -> finalizer: "runs after everything", drawn dashed


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


def layered_layout(graph: GraphSpec) -> Layout:
    order = graph.topological_order()
    layer: dict[str, int] = {graph.name: 0}
    for name in order:
        task = graph.task(name)
        if not task.is_finalizer:
            layer[name] = 1 + max((layer[p] for p in task.predecessors), default=0)
    finalizer = graph.finalizer
    if finalizer is not None:
        layer[finalizer.name] = 1 + max(layer.values())

    layers: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    slot: dict[str, int] = {graph.name: 0}
    layers[0].append(graph.name)
    rank = {name: i for i, name in enumerate(order)}
    for depth in range(1, len(layers)):
        members = [name for name in order if layer[name] == depth]

        def barycentre(name: str) -> tuple[float, int]:
            parents = graph.task(name).predecessors or (graph.name,)
            return sum(slot[p] for p in parents) / len(parents), rank[name]

        members.sort(key=barycentre)
        for i, name in enumerate(members):
            slot[name] = i
        layers[depth] = members

    tallest = max(len(members) for members in layers)
    boxes = 2 * MARGIN + tallest * NODE_HEIGHT + (tallest - 1) * SLOT_GAP
    height = boxes + (FINALLY_LANE if finalizer is not None else 0)
    nodes: list[Node] = []
    for depth, members in enumerate(layers):
        column = len(members) * NODE_HEIGHT + (len(members) - 1) * SLOT_GAP
        top = (boxes - column) / 2  # each layer centred vertically
        for i, name in enumerate(members):
            nodes.append(
                Node(
                    name=name,
                    kind=_kind(graph, name),
                    layer=depth,
                    slot=i,
                    x=MARGIN + depth * (NODE_WIDTH + LAYER_GAP),
                    y=top + i * (NODE_HEIGHT + SLOT_GAP),
                )
            )
    edges = [Edge(a, b) for a, b in graph.edges()]
    if finalizer is not None:
        edges.append(Edge(graph.name, finalizer.name, finally_edge=True))
    width = 2 * MARGIN + len(layers) * NODE_WIDTH + (len(layers) - 1) * LAYER_GAP
    return Layout(nodes=tuple(nodes), edges=tuple(edges), width=width, height=height)


def _kind(graph: GraphSpec, name: str) -> NodeKind:
    if name == graph.name:
        return NodeKind.ROOT
    task = graph.task(name)
    if task.is_finalizer:
        return NodeKind.FINALIZER
    return NodeKind.BRANCH if task.is_branch else NodeKind.TASK
