"""The page's words, every tab's: introductions, explanations, guides and messages."""

from __future__ import annotations

from nst.methods import METHODS
from nst.regions import PALETTE

__all__ = ["LATEX_INLINE", "INTRO", "method_guide", "missing_weights", "format_seconds", "EXPLAIN_INTRO", "TOY_TEXT",
           "IDENTITY_TEXT", "FEATURES_TEXT", "DISTANCES_TEXT", "HINT", "TOY_PRESET_NAMES", "TOY_GAP_TITLES",
           "paper_intro", "COLOR_LABELS", "BLEND_LABELS", "BLEND_INFO", "REGIONS_INFO"]

# Markdown components render $…$ as inline LaTeX with these delimiters.
LATEX_INLINE = [{"left": "$", "right": "$", "display": False}]

INTRO = """\
# Neural style transfer as distribution alignment
After *Demystifying Neural Style Transfer* (Li, Wang, Liu and Hou, IJCAI 2017): the style of a painting is the
**distribution** of its VGG feature vectors, and the classic Gram-matrix loss is one distance between two such
distributions (MMD² with the kernel $(x^\\top y)^2$). Give a photo and a painting, choose how the distributions are
compared, and watch the image move towards the painting's statistics.
"""


def method_guide() -> str:
    """One line per registered method: what it matches and its kernel."""
    lines = [f"- **{m.name}** ({m.title}) matches {m.matches}: ${m.kernel}$" for m in METHODS.values()]
    return ("Richer statistics carry more of the style: the methods below go from means to whole "
            "distributions, and a fusion mixes two of them.\n" + "\n".join(lines))


def missing_weights(problem: str) -> str:
    """The notice at the top of the page when no network could be loaded: `problem`'s first
    line as the headline, its "  - " lines (the ways to fix it) as a list, the rest folded away."""
    headline, *rest = problem.splitlines()
    fixes = [line.strip()[2:] for line in rest if line.startswith("  - ")]
    details = [line for line in rest if not line.startswith("  - ") and not line.startswith("To fix")]
    text = f"⚠️ **Stylize cannot run yet: {headline}.**"
    if fixes:
        text += "\n\nFix it in one of these ways, then start the app again:\n" + "\n".join(f"- {f}" for f in fixes)
    if details:
        text += "\n\n<details><summary>Where it looked</summary>\n\n" + "\n\n".join(details) + "\n</details>"
    return text


def format_seconds(seconds: float) -> str:
    """'about 40 s', 'about 3 min', 'about 2.5 h'."""
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


# ----- Paper

def paper_intro(paper: str, size: int, steps: int) -> str:
    """The Paper tab's introduction: `paper` is the manifest's citation, `size` and `steps` those of cells
    rendered on demand."""
    return (
        f"**{paper}** Each figure below is a grid of stylizations defined in "
        f"`examples/paper/figures.json`, pre-rendered on the paper's own network, Oxford's ImageNet VGG-19 "
        f"(`python -m nst.paper all`); click a cell to see its parameters and the network that made it. "
        f"A cell missing from the pre-rendered folder is rendered here on demand at {size} px and {steps} steps "
        f"(press **Render**) and kept for the next visitor. "
        f"γ and the fusion weights follow this library's definitions: every style term is scale-free, so γ "
        f"values are not numerically the paper's, and a fusion is a convex combination of the methods' losses "
        f"(the paper's official code applies its 0.5/0.5 fusion weights so that they come out as 0.25 : 1)."
    )


# ----- Why it works

EXPLAIN_INTRO = r"""
## Why it works: a style is a distribution
A layer of a CNN turns an image into a cloud of feature vectors, one per position. Style transfer pushes the
photo's cloud towards the painting's cloud, and each method measures the distance between the two clouds in
its own way. The classic Gram-matrix loss is one of them: the *maximum mean discrepancy* (MMD) with the kernel
$k(x,y)=(x^\top y)^2$.
"""


TOY_TEXT = r"""
### 1. Try it in 2-D
Here every point is a feature vector with just two channels. Pick two clouds, then press a method: the blue
points follow the gradient of that method's loss towards the orange ones. **Linear** moves every point by the
same vector (it sees only the means), **BN** shifts and stretches each axis (per-axis mean and spread),
**Gram** multiplies every point by one $2\times2$ matrix until $E[xx^\top]=\Sigma+\mu\mu^\top$ agrees (mean and
spread can trade against each other), and **Gaussian MMD** moves each point on its own until the whole shape
matches. Two distances go beyond the paper: **Mean + covariance** (the Wasserstein-2 distance between
Gaussians fitted to the clouds) moves the cloud by one affine map until mean and covariance agree, and
**Sliced Wasserstein** sorts the points along many directions and matches them rank by rank, so it too
reaches the whole shape. The right-hand plot shows which gaps each method closes.
"""


IDENTITY_TEXT = r"""
### 2. Gram matching is an MMD: the identity on real features
Write a layer's responses to an image as a matrix $X$ with $N$ channels and $M$ positions; column $x_i$ is
the feature vector at position $i$. With the normalised Gram matrix $\hat G = XX^\top/M$, expanding
$(x^\top y)^2=\sum_{a,b}x_a x_b\,y_a y_b$ gives, for any $M_F$ and $M_S$,

$$\|\hat G_F-\hat G_S\|_F^2=\underbrace{\frac{1}{M_F^2}\sum_{i,i'}k(f_i,f_{i'})+\frac{1}{M_S^2}\sum_{j,j'}k(s_j,s_{j'})-\frac{2}{M_F M_S}\sum_{i,j}k(f_i,s_j)}_{\mathrm{MMD}^2_k},\qquad k(x,y)=(x^\top y)^2 .$$

Gatys et al.'s loss is $E=\frac{1}{4N^2M^2}\|G_F-G_S\|_F^2$ with $G=XX^\top$: for equal $M$ that is
$\|\hat G_F-\hat G_S\|_F^2/4N^2$, the form used below (it also allows unequal $M$). So
$\mathrm{MMD}^2/E=4N^2$ whatever the images. The table computes $E$ from Gram matrices and MMD² from all
$M^2$ kernel values, in float64, on the same positions (a random {positions} per image where there are more).
"""


FEATURES_TEXT = """
### 3. The feature clouds
At the chosen layer each position of an image gives one feature vector with N numbers. The plot shows
{samples} of them per image, projected onto the two directions along which all the points together vary most
(PCA). After a good run the result's cloud (green) lies over the style's (orange) rather than the content's
(blue). The bars show each channel's mean and standard deviation, the numbers BN matching makes equal, for the
16 channels with the largest mean in the style.
"""


DISTANCES_TEXT = """
### 4. How far is each layer from the style?
Each method's style term, the number the optimiser pushes down, between the content photo and the style and
between the result and the style. A term is the method's loss divided by its value for an all-zero feature map,
so 1 means "as far as a blank image" and numbers compare across methods and layers (Gaussian: through
{features} random Fourier features per layer). A ratio below 1 means the run brought that statistic closer;
optimising one method usually lowers the others too.
"""


# The Stylize tab's colour modes by `nst.colors.COLOR_MODES` key.
COLOR_LABELS = {
    "style": "the painting's",
    "luminance": "the photo's (stylize luminance only)",
    "match": "the photo's (recolour the painting first)",
}


# The blends of several paintings by `nst.config.BLENDS` key.
BLEND_LABELS = {
    "mixture": "one mixed distribution",
    "sum": "a sum of separate losses",
}
BLEND_INFO = ("Mixture: the result's features match the mixture of the paintings' feature distributions "
              "(for Gram matching, the weighted mean of their Gram matrices). Sum: one style loss per painting, "
              "added with the weights; the result lands between the paintings' distributions")


# What the regions editor's brush colours mean (`nst.regions.PALETTE`).
REGIONS_INFO = (f"Paint on the photo with **{PALETTE[0][0]}** for the style painting and "
                + ", ".join(f"**{name}**" for name, _ in PALETTE[1:])
                + " for the more paintings, in their order. Each region is matched to its own painting; "
                  "unpainted parts keep the photo (content only). Leave it empty to style the whole photo.")


HINT = "Add a style image and a content photo (or run a stylization), then press **Analyse**."

# The playground's clouds by `nst.explain.TOY_PRESETS` key, in the menus.
TOY_PRESET_NAMES = {
    "blob": "Gaussian blob",
    "stretched": "Stretched, tilted blob",
    "moons": "Two moons",
    "ring": "Ring",
    "clusters": "Two clusters",
    "drawn": "Drawn points (table below)",
    "copy": "Copy of the source: rotated, squeezed, moved",
}

# The gaps of `nst.explain.toy_gaps` by key, in the gap plot's legend.
TOY_GAP_TITLES = {
    "mean": "means",
    "std": "per-axis spreads",
    "cov": "covariance",
    "gram": "second moments E[xxᵀ]",
    "mmd": "whole shape (MMD)",
}
