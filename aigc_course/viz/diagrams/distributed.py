"""Schematic diagrams of chapter 15 (data-parallel training): the ring all-reduce, round by round. One function
per diagram; each returns the figure (``show=True`` displays it instead)."""

from __future__ import annotations

from matplotlib.figure import Figure

from .draw import PALETTE, arrow, box, canvas, finish, label

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def ring_schedule(n: int) -> list[list[list[frozenset[int]]]]:
    """The contents of every worker's chunks after each round of a ring all-reduce over ``n`` workers.

    Returns ``2(n − 1) + 1`` states; ``states[s][r][c]`` is the set of workers whose chunk ``c`` has been added
    into worker ``r``'s copy of chunk ``c`` after round ``s`` (state 0: before any round). Reduce-scatter round
    ``k`` (``k = 0 … n−2``): worker ``r`` sends chunk ``(r − k) mod n`` to worker ``r + 1``, which adds it to its
    own. All-gather round ``k``: worker ``r`` sends its complete chunk ``(r + 1 − k) mod n`` on, which the receiver
    copies."""
    if n < 2:
        raise ValueError(f"a ring needs at least 2 workers, not {n}")
    state = [[frozenset({r}) for _ in range(n)] for r in range(n)]
    states = [state]
    for phase in ("reduce-scatter", "all-gather"):
        for k in range(n - 1):
            new = [list(row) for row in state]
            for r in range(n):
                c = (r - k) % n if phase == "reduce-scatter" else (r + 1 - k) % n
                dst = (r + 1) % n
                new[dst][c] = state[dst][c] | state[r][c] if phase == "reduce-scatter" else state[r][c]
            state = new
            states.append(state)
    return states


def _chunk_text(workers: frozenset[int], chunk: int, n: int) -> str:
    if len(workers) == n:
        return f"Σ{chunk}".translate(_SUB)
    return "+".join(f"{chr(ord('a') + w)}{chunk}".translate(_SUB) for w in sorted(workers))


def ring_allreduce(n: int = 3, show: bool = True) -> Figure | None:
    """Ring all-reduce over ``n`` workers (2 or 3; more do not fit a slide): each worker's gradient is cut into
    ``n`` chunks (worker ``a`` holds ``a₀ a₁ …``); ``n − 1`` reduce-scatter rounds leave each worker one complete
    sum ``Σ``, ``n − 1`` all-gather rounds pass the sums around. Columns are the states after each round; the
    chunk received in that round is outlined, and the arrows show who sends to whom (always to the next worker
    of the ring)."""
    if not 2 <= n <= 3:
        raise ValueError(f"draw the ring for 2 or 3 workers, not {n}")
    states = ring_schedule(n)
    fig, ax = canvas(title=f"Ring all-reduce over N = {n} workers: chunks of S/N, 2(N−1) = {2 * (n - 1)} rounds")
    cols = len(states)
    left, right = 1.7, 15.8
    col_w = (right - left) / cols
    cw = min(0.95, (col_w - 0.5) / n)  # chunk box width
    ch = 0.8
    row_y = [6.4 - r * 1.45 for r in range(n)]
    for r, y in enumerate(row_y):
        label(ax, 0.8, y, f"worker {chr(ord('a') + r)}\n(rank {r})", fontsize=11)
    for s, state in enumerate(states):
        x0 = left + s * col_w + (col_w - n * cw) / 2
        if s == 0:
            title = "start:\nown gradient"
        elif s < n:
            title = f"reduce-scatter\nround {s}"
        else:
            title = f"all-gather\nround {s - n + 1}"
        label(ax, left + (s + 0.5) * col_w, 7.75, title, fontsize=11)
        for r in range(n):
            for c in range(n):
                workers = state[r][c]
                done = len(workers) == n
                role = "output" if done else ("op" if len(workers) > 1 else "neutral")
                received = s > 0 and workers != states[s - 1][r][c]
                node = box(ax, x0 + (c + 0.5) * cw, row_y[r], _chunk_text(workers, c, n), w=cw - 0.08, h=ch,
                           role=role, fontsize=12 if len(workers) in (1, n) else 10.5)
                if received:
                    ax.add_patch(_outline(node.x, node.y, cw - 0.02, ch + 0.08))
        if s > 0:  # the sends of this round: from the previous column's sender to this column's receiver
            prev_x0 = left + (s - 1) * col_w + (col_w - n * cw) / 2
            for r in range(n):
                dst = (r + 1) % n
                c = next(c for c in range(n) if states[s][dst][c] != states[s - 1][dst][c])
                start = (prev_x0 + (c + 0.5) * cw + 0.1, row_y[r] - ch / 2 + 0.05)
                end = (x0 + (c + 0.5) * cw - 0.1, row_y[dst] + ch / 2 - 0.05)
                if dst == 0:  # the wrap-around link of the ring: drawn dashed, from below
                    start = (prev_x0 + (c + 0.5) * cw + 0.1, row_y[r] - ch / 2 + 0.05)
                    end = (x0 + (c + 0.5) * cw - 0.1, row_y[0] - ch / 2 + 0.05)
                    arrow(ax, start, end, color=PALETTE["memory"], lw=1.3, dashed=True, rad=0.35)
                else:
                    arrow(ax, start, end, color=PALETTE["memory"], lw=1.3)
    y_note = row_y[-1] - 1.35
    box(ax, 3.2, y_note, "partial sum", w=2.0, h=0.6, role="op", fontsize=11)
    box(ax, 5.5, y_note, "complete sum Σ", w=2.3, h=0.6, role="output", fontsize=11)
    label(ax, 7.0, y_note, "outlined: received this round", fontsize=11, ha="left")
    label(ax, 2.2, y_note - 0.9, "arrows: each worker sends one chunk to its neighbour (dashed: the link that closes "
          "the ring)", fontsize=11, ha="left")
    label(ax, 13.2, y_note, "every worker sends 2(N−1) chunks of S/N\n"
          f"= 2(N−1)/N · S bytes (here {2 * (n - 1)}/{n} · S)", fontsize=11)
    return finish(fig, show)


def _outline(x: float, y: float, w: float, h: float):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.15", fc="none",
                          ec=PALETTE["memory"], lw=2.5)


__all__ = ["ring_allreduce", "ring_schedule"]
