"""Schematic diagrams of chapters 07-08 (language models): the LSTM cell, causal attention, a GPT block, the
KV cache and LoRA. One function per diagram; each returns the figure (``show=True`` displays it instead)."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .draw import PALETTE, arrow, box, canvas, finish, label, op


def lstm_cell(show: bool = True) -> Figure | None:
    """One LSTM step: the cell state ``c`` runs along the top, changed only by ``× f`` and ``+ i·g``; the four
    gates are computed from ``[h_{t-1}, x_t]``; the new hidden state is ``o · tanh(c_t)``."""
    fig, ax = canvas(title="An LSTM cell: one step t")
    y_c = 7.4
    label(ax, 0.9, y_c, r"$c_{t-1}$", fontsize=14)
    forget = op(ax, 4.6, y_c, "×")
    plus = op(ax, 8.4, y_c, "+")
    label(ax, 15.2, y_c, r"$c_t$", fontsize=14)
    arrow(ax, (1.5, y_c), forget.side("left"), color=PALETTE["memory"], lw=2.5)
    arrow(ax, forget.side("right"), plus.side("left"), color=PALETTE["memory"], lw=2.5)
    arrow(ax, plus.side("right"), (14.6, y_c), color=PALETTE["memory"], lw=2.5)
    label(ax, 6.5, y_c + 0.55, "cell state: only × and +", fontsize=11, color=PALETTE["memory"])
    gates = {}
    for name, x, fn, role in (("f", 4.6, "σ", "forget"), ("i", 7.0, "σ", "input"), ("g", 9.4, "tanh", "candidate"),
                              ("o", 11.8, "σ", "output")):
        gates[name] = box(ax, x, 3.4, f"{role}\n{name} = {fn}(·)", w=2.0, h=1.1, role="param", fontsize=11)
    inp = box(ax, 8.2, 1.0, r"$[h_{t-1},\ x_t]$", w=9.4, h=0.8, role="input", fontsize=13)
    for g in gates.values():
        arrow(ax, (g.x, inp.side("top")[1]), g.side("bottom"))
    arrow(ax, gates["f"].side("top"), forget.side("bottom"))
    ig = op(ax, 8.4, 5.4, "×")
    arrow(ax, gates["i"].side("top"), ig.side("left"), rad=-0.2)
    arrow(ax, gates["g"].side("top"), ig.side("right"), rad=0.2)
    arrow(ax, ig.side("top"), plus.side("bottom"))
    tanh = op(ax, 13.6, 5.9, "tanh", r=0.45, fontsize=11)
    arrow(ax, (13.6, y_c), tanh.side("top"), color=PALETTE["memory"])
    out = op(ax, 13.6, 3.4, "×")
    arrow(ax, tanh.side("bottom"), out.side("top"))
    arrow(ax, gates["o"].side("right"), out.side("left"))
    arrow(ax, out.side("right"), (15.0, 3.4), color=PALETTE["output"], lw=2.2)
    label(ax, 15.4, 3.4, r"$h_t$", fontsize=14, color=PALETTE["output"])
    label(ax, 2.3, 5.0, r"$c_t = f\odot c_{t-1} + i\odot g$" "\n" r"$h_t = o\odot\tanh(c_t)$", fontsize=13)
    return finish(fig, show)


def causal_attention(T: int = 5, show: bool = True) -> Figure | None:
    """Causal self-attention for ``T`` positions: scores ``QKᵀ/√d``, the future masked to −∞, a softmax per row,
    and the weighted average of the values."""
    fig, ax = canvas(title="Causal self-attention")
    x = box(ax, 1.3, 4.5, "X\n(T × C)", w=1.8, h=1.4, role="input")
    proj = {}
    for name, y in (("Q", 7.0), ("K", 4.5), ("V", 2.0)):
        proj[name] = box(ax, 4.1, y, f"{name} = X W{name}", w=2.2, h=0.9, role="param")
        arrow(ax, x.side("right"), proj[name].side("left"))
    cell = 0.62
    x0, y0 = 6.6, 2.6  # lower-left corner of the T × T score grid
    for i in range(T):  # row i = query i (top row first)
        for j in range(T):
            masked = j > i
            ax.add_patch(Rectangle((x0 + j * cell, y0 + (T - 1 - i) * cell), cell, cell,
                                   fc="0.85" if masked else PALETTE["op"], ec="white", lw=1.5,
                                   alpha=1.0 if masked else 0.35 + 0.65 / (i + 1)))
            if masked:
                label(ax, x0 + (j + 0.5) * cell, y0 + (T - 0.5 - i) * cell, "−∞", fontsize=9, color="0.4")
    grid_top, grid_mid = y0 + T * cell, y0 + T * cell / 2
    label(ax, x0 + T * cell / 2, grid_top + 0.9, r"scores $QK^\top/\sqrt{d}$" "\n" "(row = query, column = key)",
          fontsize=11)
    label(ax, x0 + T * cell + 0.2, grid_top - 0.1, "future keys\nmasked", fontsize=11, color="0.35", ha="left")
    arrow(ax, proj["Q"].side("right"), (x0, grid_top - 0.3))
    arrow(ax, proj["K"].side("right"), (x0, grid_mid))
    soft = box(ax, 11.5, 4.5, "softmax\nper row", w=1.9, h=1.2)
    arrow(ax, (x0 + T * cell, grid_mid), soft.side("left"))
    mix = op(ax, 13.4, 4.5, "×")
    arrow(ax, soft.side("right"), mix.side("left"), text="A")
    arrow(ax, proj["V"].side("right"), mix.side("bottom"), rad=0.15)
    arrow(ax, mix.side("right"), (15.0, 4.5), color=PALETTE["output"], lw=2.2)
    label(ax, 15.3, 5.1, "AV", fontsize=13, color=PALETTE["output"])
    label(ax, 11.8, 1.2, "row i: a weighted average of the values of positions 1 … i", fontsize=11)
    return finish(fig, show)


def gpt_block(show: bool = True) -> Figure | None:
    """A pre-norm GPT block on the residual stream: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))``, stacked ``L``
    times between the embeddings and the head."""
    fig, ax = canvas(title="A GPT block (pre-norm), repeated L times")
    y = 6.6
    emb = box(ax, 1.4, y, "token\nembedding\n(+ position\nor shift)", w=2.2, h=1.6, role="input", fontsize=10)
    add1, add2 = op(ax, 7.2, y, "+"), op(ax, 12.6, y, "+")
    head = box(ax, 14.9, y, "LN →\nhead →\nlogits", w=1.8, h=1.6, role="output", fontsize=11)
    arrow(ax, emb.side("right"), add1.side("left"), color=PALETTE["memory"], lw=2.5)
    arrow(ax, add1.side("right"), add2.side("left"), color=PALETTE["memory"], lw=2.5)
    arrow(ax, add2.side("right"), head.side("left"), color=PALETTE["memory"], lw=2.5)
    label(ax, 9.9, y + 0.55, "residual stream x (B, T, C)", fontsize=11, color=PALETTE["memory"])
    for x_ln, x_f, x_add, name, note in ((3.6, 5.6, 7.2, "causal\nmulti-head\nattention", "moves information\n"
                                          "between positions"),
                                         (9.0, 11.0, 12.6, "MLP\nC → 4C → C\n(GELU)", "processes each\nposition")):
        ln = box(ax, x_ln, 3.4, "LayerNorm", w=1.9, h=0.9, role="param", fontsize=11)
        f = box(ax, x_f, 3.4, name, w=2.1, h=1.6, fontsize=11)
        arrow(ax, (x_ln, y), ln.side("top"))
        arrow(ax, ln.side("right"), f.side("left"))
        arrow(ax, f.side("top"), (x_add, y - 0.35), rad=-0.25)
        label(ax, x_f, 1.7, note, fontsize=11, color="0.35")
    label(ax, 8.0, 0.6, "each sub-layer adds a correction to x; the identity path lets gradients through deep stacks",
          fontsize=11)
    return finish(fig, show)


def kv_cache(cached: int = 5, show: bool = True) -> Figure | None:
    """Decoding with a KV cache: the new token computes only its own query, key and value, appends the key and
    value to the cache and attends over all of them (one layer shown)."""
    fig, ax = canvas(title="Generation with a KV cache (one layer)")
    cell = 0.8
    x0 = 4.0
    for name, y in (("K cache", 6.4), ("V cache", 4.2)):
        label(ax, x0 - 1.2, y + cell / 2, name, fontsize=12)
        for j in range(cached + 1):
            new = j == cached
            ax.add_patch(Rectangle((x0 + j * cell, y), cell, cell, ec="white", lw=1.5,
                                   fc=PALETTE["output"] if new else PALETTE["memory"], alpha=1.0 if new else 0.55))
        label(ax, x0 + (cached + 0.5) * cell, y - 0.35, "new", fontsize=10, color=PALETTE["output"])
    label(ax, x0 + cached * cell / 2, 7.75, f"positions 1 … {cached}: stored, not recomputed", fontsize=11)
    tok = box(ax, 12.6, 1.2, f"new token (position {cached + 1})", w=4.2, h=0.8, role="input", fontsize=11)
    qkv = box(ax, 12.6, 3.0, "q, k, v of the new\nposition only", w=3.4, h=1.1, role="param", fontsize=11)
    arrow(ax, tok.side("top"), qkv.side("bottom"))
    arrow(ax, qkv.side("left"), (x0 + (cached + 1) * cell + 0.1, 6.4 + cell / 2), rad=-0.2)
    arrow(ax, qkv.side("left"), (x0 + (cached + 1) * cell + 0.1, 4.2 + cell / 2), rad=-0.1)
    label(ax, 9.6, 5.6, "append\nk and v", fontsize=11)
    att = box(ax, 12.6, 6.0, "attention of q over\nall cached k, v", w=3.4, h=1.1, fontsize=11)
    arrow(ax, qkv.side("top"), att.side("bottom"))
    arrow(ax, (x0 + (cached + 1) * cell + 0.2, 6.9), att.side("left"), dashed=True, rad=-0.1)
    arrow(ax, att.side("top"), (12.6, 8.0), color=PALETTE["output"], lw=2.2)
    label(ax, 14.9, 7.8, "next-token\nlogits", fontsize=11, color=PALETTE["output"])
    label(ax, 4.8, 2.1, "work per token: one position, not the whole context\n"
                        "memory: 2 × layers × positions × C numbers per sequence", fontsize=11, ha="left")
    return finish(fig, show)


def lora(show: bool = True) -> Figure | None:
    """LoRA: a frozen ``W`` plus a trainable low-rank path ``(α/r) B A``; ``B`` starts at zero, and after training
    ``(α/r) B A`` can be merged into ``W``."""
    fig, ax = canvas(title=r"LoRA: $h = Wx + \frac{\alpha}{r} BAx$")
    x = box(ax, 1.4, 4.5, r"$x$" "\n" r"($d_{in}$)", w=1.6, h=1.4, role="input", fontsize=13)
    w = box(ax, 7.2, 6.6, "W  (frozen)\n" r"$d_{out} \times d_{in}$", w=4.2, h=2.0, role="neutral", fontsize=13)
    a = box(ax, 5.4, 2.4, "A\n" r"$r \times d_{in}$", w=2.0, h=1.1, role="param", fontsize=12)
    b = box(ax, 9.0, 2.4, "B\n" r"$d_{out} \times r$", w=2.0, h=1.1, role="param", fontsize=12)
    scale = op(ax, 11.4, 2.4, r"$\frac{\alpha}{r}$", r=0.5, fontsize=14)
    plus = op(ax, 12.9, 4.5, "+")
    arrow(ax, x.side("right"), w.side("left"), rad=-0.15)
    arrow(ax, x.side("right"), a.side("left"), rad=0.15)
    arrow(ax, a.side("right"), b.side("left"), text="r numbers")
    arrow(ax, b.side("right"), scale.side("left"))
    arrow(ax, scale.side("top"), plus.side("bottom"), rad=0.2)
    arrow(ax, w.side("right"), plus.side("top"), rad=-0.2)
    arrow(ax, plus.side("right"), (14.6, 4.5), color=PALETTE["output"], lw=2.2)
    label(ax, 15.1, 4.5, r"$h$", fontsize=14, color=PALETTE["output"])
    label(ax, 7.2, 1.0, r"trainable: $r\,(d_{in} + d_{out})$ numbers; A random, B = 0 at the start", fontsize=11)
    label(ax, 7.2, 8.2, "pretrained weights: no gradients, no optimizer state", fontsize=11, color="0.35")
    return finish(fig, show)


def alignment_pipeline(show: bool = True) -> Figure | None:
    """Chapter 16's three stages: pretraining on raw text → supervised fine-tuning on instructions (loss on the
    response only) → DPO on pairs of the SFT model's own replies ranked by a program, with the SFT model frozen
    as the reference."""
    fig, ax = canvas(title="From a language model to an assistant: pretrain → SFT → DPO")
    raw = box(ax, 2.2, 7.0, "raw text: Shakespeare,\ntweets, the bookshop FAQ", w=3.8, h=1.2, role="input")
    base = box(ax, 2.2, 3.8, "base GPT\nnext character", w=3.0, h=1.2, role="param")
    inst = box(ax, 6.6, 7.0, "instructions + responses\n(note, tweet, voice)", w=3.8, h=1.2, role="input")
    sft = box(ax, 6.6, 3.8, "SFT GPT\nloss on responses only", w=3.4, h=1.2, role="param")
    samples = box(ax, 10.2, 7.0, "k sampled replies\nper prompt", w=2.8, h=1.2)
    judge = box(ax, 13.9, 7.0, "a program ranks them:\nchosen ≻ rejected", w=3.4, h=1.2, role="output")
    ref = box(ax, 10.2, 1.6, "reference = SFT GPT\n(frozen)", w=3.2, h=1.2, role="neutral")
    dpo = box(ax, 13.9, 3.8, "DPO policy\n−log σ(β·Δ log-ratio)", w=3.4, h=1.2, role="param")
    arrow(ax, raw.side("bottom"), base.side("top"), text="stage 1")
    arrow(ax, base.side("right"), sft.side("left"))
    arrow(ax, inst.side("bottom"), sft.side("top"), text="stage 2")
    arrow(ax, sft.side("right"), samples.side("left"), rad=-0.2)
    arrow(ax, samples.side("right"), judge.side("left"))
    arrow(ax, judge.side("bottom"), dpo.side("top"), text="stage 3")
    arrow(ax, sft.side("bottom"), ref.side("left"), rad=0.2)
    arrow(ax, ref.side("right"), dpo.side("bottom"), rad=0.2)
    label(ax, 8.0, 0.4, "β sets how far the policy may move from the reference: the KL it pays for the reward",
          fontsize=11)
    return finish(fig, show)
