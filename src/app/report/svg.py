"""Draw a laid-out task graph as inline SVG: one box per task coloured by its state in a run, the branch's
chosen edge bold and its unchosen edges faded, the finalizer linked to the root by a dashed "finally" edge.

The SVG is built as text here (Graphviz is not a pip package); every name and state is XML-escaped. Colours
come from the page's CSS classes (``state-…``), so the grid and the graphs share one palette.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from app.report.layout import NODE_HEIGHT, NODE_WIDTH, Layout, Node, NodeKind

_ARROW = 7.0


def graph_svg(layout: Layout, states: Mapping[str, str], chosen: Mapping[str, str], title: str) -> str:
    """``states``: task name -> state; ``chosen``: branch task name -> the successor it returned.

    Names match case-insensitively (history reports ``GRAPH$TASK`` in upper case).
    """
    upper_states = {k.upper(): v for k, v in states.items()}
    upper_chosen = {k.upper(): v.upper() for k, v in chosen.items()}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" width="{layout.width:g}" '
        f'height="{layout.height:g}" viewBox="0 0 {layout.width:g} {layout.height:g}">',
        f"<title>{escape(title)}</title>",
    ]
    for edge in layout.edges:
        source, target = layout.node(edge.source), layout.node(edge.target)
        css = "edge"
        if edge.finally_edge:
            css += " finally"
        elif source.kind is NodeKind.BRANCH and source.name.upper() in upper_chosen:
            css += " chosen" if upper_chosen[source.name.upper()] == target.name.upper() else " unchosen"
        parts.append(_edge(source, target, css, layout.height))
    for node in layout.nodes:
        state = "" if node.kind is NodeKind.ROOT else upper_states.get(node.name.upper(), "")
        parts.append(_node(node, state))
    parts.append("</svg>")
    return "\n".join(parts)


def _edge(source: Node, target: Node, css: str, height: float) -> str:
    if "finally" in css:
        # Under every other box: from the root's bottom to the finalizer's bottom.
        x1, y1 = source.x + NODE_WIDTH / 2, source.y + NODE_HEIGHT
        x2, y2 = target.x + NODE_WIDTH / 2, target.y + NODE_HEIGHT
        low = height - 3
        path = f"M{x1:g},{y1:g} C{x1:g},{low:g} {x2:g},{low:g} {x2:g},{y2 + _ARROW:g}"
        head = _head(x2, y2, "up")
        label = f'<text class="edge-label" x="{(x1 + x2) / 2:g}" y="{low - 4:g}">finally</text>'
    else:
        (x1, y1), (x2, y2) = source.right, target.left
        mid = (x1 + x2) / 2
        path = f"M{x1:g},{y1:g} C{mid:g},{y1:g} {mid:g},{y2:g} {x2 - _ARROW:g},{y2:g}"
        head = _head(x2, y2, "right")
        label = ""
    return (
        f'<g class="{css}" data-from="{escape(source.name)}" data-to="{escape(target.name)}">'
        f'<path d="{path}"/>{head}{label}</g>'
    )


def _head(x: float, y: float, pointing: str) -> str:
    a = _ARROW
    if pointing == "right":
        points = f"{x:g},{y:g} {x - a:g},{y - a / 2:g} {x - a:g},{y + a / 2:g}"
    else:
        points = f"{x:g},{y:g} {x - a / 2:g},{y + a:g} {x + a / 2:g},{y + a:g}"
    return f'<polygon class="arrow" points="{points}"/>'


def _node(node: Node, state: str) -> str:
    css = f"node {node.kind.value}" + (f" state-{state}" if state else "")
    x, y, w, h = node.x, node.y, NODE_WIDTH, NODE_HEIGHT
    if node.kind is NodeKind.BRANCH:  # a hexagon, as Snowsight marks a branching task
        c = 12
        shape = (
            f'<polygon points="{x + c:g},{y:g} {x + w - c:g},{y:g} {x + w:g},{y + h / 2:g} '
            f'{x + w - c:g},{y + h:g} {x + c:g},{y + h:g} {x:g},{y + h / 2:g}"/>'
        )
    else:
        radius = h / 2 if node.kind is NodeKind.ROOT else 6
        shape = f'<rect x="{x:g}" y="{y:g}" width="{w}" height="{h}" rx="{radius:g}"/>'
    caption = state or ("root" if node.kind is NodeKind.ROOT else "")
    if node.kind is NodeKind.FINALIZER:
        caption = f"finalizer · {caption}" if caption else "finalizer"
    return (
        f'<g class="{escape(css)}" data-task="{escape(node.name)}">{shape}'
        f'<text class="name" x="{x + w / 2:g}" y="{y + h / 2 - 3:g}">{escape(node.name)}</text>'
        f'<text class="state" x="{x + w / 2:g}" y="{y + h / 2 + 13:g}">{escape(caption)}</text></g>'
    )
