"""The page's words: the introduction and the guide to the methods, built from the registry."""

from __future__ import annotations

from nst.methods import METHODS

__all__ = ["INTRO", "method_guide", "missing_weights"]

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
    """The notice shown at the top of the page when the network's weights could not be loaded."""
    return f"⚠️ **The network's weights are not available, so Stylize cannot run yet.** {problem}"
