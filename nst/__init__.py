"""nst-mmd: neural style transfer as distribution alignment (Li et al., IJCAI 2017).

A style loss is a distance between the distributions of a CNN layer's feature vectors:
Gram matching is MMD² with the kernel (xᵀy)². The library offers linear, polynomial
and Gaussian MMD, batch-normalisation statistics, two optimal-transport distances (mean +
covariance, sliced Wasserstein) and their fusions; the photo's colours can be kept, several
paintings blended, and a run can go coarse to fine. `register_method` adds a distance of
one's own.
"""

from .config import LIMITS, STYLE_LAYERS, Settings
from .errors import NSTError
from .features import InputConvention, VGGFeatures, random_extractor
from .methods import METHOD_NAMES, METHODS, get_method, register_method
from .recipe import Recipe, read_recipe, save_with_recipe
from .record import RunRecord, run_record
from .request import Request
from .stylize import Result, Step, iter_stylize, stylize
from .version import __version__
from .weights import load_extractor, load_weights

__all__ = [
    "__version__",
    "LIMITS",
    "METHODS",
    "METHOD_NAMES",
    "NSTError",
    "Recipe",
    "Request",
    "Result",
    "RunRecord",
    "STYLE_LAYERS",
    "Settings",
    "Step",
    "InputConvention",
    "VGGFeatures",
    "get_method",
    "iter_stylize",
    "load_extractor",
    "load_weights",
    "random_extractor",
    "read_recipe",
    "register_method",
    "run_record",
    "save_with_recipe",
    "stylize",
]
