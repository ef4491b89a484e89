"""One look for every figure of the paper: printed sizes, fonts, a colour-blind-safe palette,
and a colour, marker and line style fixed per method across all figures.

    from jepa_torus import figstyle
    figstyle.apply()                                   # rcParams: 8 pt text, 7 pt ticks and legends
    fig, ax = plt.subplots(figsize=figstyle.size("full", 1.8))
    ax.plot(x, y, **figstyle.method("toroidal_N12"))   # label, colour, marker, line style

The paper (paper/main.tex) sets text 6.5 in wide (1 in margins on letter paper) and 9 in high;
``\\genfig[f]{name}`` scales a figure to the column's width or to f of the text height,
whichever is smaller, so a figure drawn at the size it is printed keeps its fonts at the
sizes set here (tests/test_figures.py measures the printed size of every text).
"""
from __future__ import annotations

TEXT_WIDTH_IN = 6.5      # \linewidth of paper/main.tex (468 pt)
TEXT_HEIGHT_IN = 9.0     # \textheight (648 pt)
WIDTHS = {"full": TEXT_WIDTH_IN, "half": 0.49 * TEXT_WIDTH_IN}   # a figure, or one of two minipages
MIN_PRINTED_PT = 7.0     # the smallest text a printed figure may have

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
             "grey": "#999999"}

# method -> (label, colour, marker, line style): the same in every figure
METHODS = {
    "baseline_vicreg": ("VICReg", "black", "o", "-"),
    "baseline_sigreg": ("SIGReg", "grey", "s", "--"),
    "hybrid": ("Hybrid VICReg→SIGReg", "purple", "D", "-."),
    "toroidal_N8": ("Toroidal N=8", "sky", "v", ":"),
    "toroidal_N12": ("Toroidal N=12", "blue", "^", "-"),
    "toroidal_N16": ("Toroidal N=16", "green", "<", "--"),
    "toroidal_head_N12": ("Toroidal N=12 + torus head", "orange", ">", "-."),
    "hamjepa": ("Hamiltonian predictor", "vermillion", "P", ":"),
    "hamjepa_mlp": ("MLP predictor (matched)", "yellow", "X", "--"),
    # the original's setup (EMA target, MLP predictor): the colour of its regulariser, its own marker
    "jepa_ema_vicreg": ("JEPA (EMA), VICReg", "black", "h", ":"),
    "jepa_ema_toroidal_N12": ("JEPA (EMA), toroidal N=12", "blue", "p", "--"),
    "supervised_angles": ("Supervised (angles)", "green", "*", "-"),   # nuisance_torus's upper reference
    "baseline_vicreg_random_init": ("Random-init encoder", "grey", "x", ":"),
    "raw_pixels": ("Raw pixels", "black", "+", (0, (1, 1))),
}

# a method's name where a panel is 0.8 in wide (grids of every method)
SHORT = {"baseline_vicreg": "VICReg", "baseline_sigreg": "SIGReg", "hybrid": "Hybrid", "toroidal_N8": "Tor. N=8",
         "toroidal_N12": "Tor. N=12", "toroidal_N16": "Tor. N=16", "toroidal_head_N12": "N=12+head",
         "hamjepa": "Hamilt.", "hamjepa_mlp": "MLP pred.", "jepa_ema_vicreg": "JEPA VIC.",
         "jepa_ema_toroidal_N12": "JEPA N=12", "supervised_angles": "Supervised",
         "baseline_vicreg_random_init": "Random init", "raw_pixels": "Pixels"}

RC = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
      "legend.fontsize": 7, "legend.frameon": False, "figure.titlesize": 8, "lines.linewidth": 1.0,
      "lines.markersize": 3.5, "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 300,
      "pdf.fonttype": 42}


def apply() -> None:
    """Set matplotlib's rcParams for the paper's figures."""
    import matplotlib as mpl

    mpl.rcParams.update(RC)
    mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=[OKABE_ITO[c] for c in
                                                        ("blue", "orange", "green", "vermillion", "purple", "sky", "black")])


PAD_IN = 0.1   # report.savefig (bbox_inches="tight") pads each side by matplotlib's pad_inches


def size(width: str | float = "full", height_in: float = 1.8) -> tuple[float, float]:
    """figsize for a figure printed ``width`` ("full": 6.5 in, "half": one of two minipages,
    or inches) by ``height_in``: less the padding savefig adds, so that the saved PDF is the
    printed size (with constrained layout, which fills the figure)."""
    w = WIDTHS[width] if isinstance(width, str) else float(width)
    return (w - 2 * PAD_IN, height_in - 2 * PAD_IN)


def method(name: str, markevery: int | None = None) -> dict:
    """plot() keywords of a method: label, colour, marker and line style (unknown: default look)."""
    if name not in METHODS:
        return {"label": name}
    label, colour, marker, ls = METHODS[name]
    kw = {"label": label, "color": OKABE_ITO[colour], "marker": marker, "linestyle": ls}
    return kw | ({"markevery": markevery} if markevery else {})


def handles(axes, order=None) -> tuple[list, list]:
    """The legend entries of several axes, each label once: one legend for a grid whose panels
    show different subsets (a method missing from one panel).  In the order first drawn, or
    with ``order`` (method names), those methods' entries first in that order."""
    seen: dict = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    labels = list(seen)
    if order is not None:
        rank = {method(n)["label"]: i for i, n in enumerate(order)}
        labels.sort(key=lambda label: rank.get(label, len(rank)))   # stable: the rest keep their order
    return [seen[label] for label in labels], labels
