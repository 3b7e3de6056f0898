"""The Core ML form of a found model that an app feeds as it is: an image input with the training's
normalisation folded in, the class labels, and outputs named as Apple's own classifiers name them.

A tensor input (`input`, a float MultiArray) and a bare output (`linear_30`) leave an app to
rebuild the training's preprocessing and to know the labels from elsewhere, and nothing checks it
did so right. Here `ImageType` (scale 1/255, bias -mean per channel, RGB) and the std folded into
the stem (`search.supernet.app_form`) make the model take pixels, exact where ImageType's single
scale could not be, and `ClassifierConfig` makes it answer a label and a probability per label, so
Vision's `VNCoreMLRequest` and Xcode's generated class work with it directly. The LUT's probe
networks stay tensor-input: what a LUT times is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search.supernet.app_form import app_inputs, app_module

if TYPE_CHECKING:
    import coremltools as ct
    import torch
    from torch import nn

IMAGE_INPUT = "image"
LABEL_OUTPUT = "classLabel"
PROBABILITIES_OUTPUT = "classLabelProbs"  # Apple's own classifiers' name; coremltools would write classLabel_probs
PIXEL_SCALE = 1 / 255


@dataclass(frozen=True)
class AppInput:
    """What a found model's app form needs beyond its weights: the labels of its outputs in order,
    and the normalisation it was trained on (per RGB channel, on pixels scaled to [0, 1])."""

    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def identity(self) -> dict[str, Any]:
        """What the app form's program depends on beyond the model: part of its export's cache key."""
        return {"classes": list(self.classes), "mean": list(self.mean), "std": list(self.std), "form": IMAGE_INPUT}

    def module(self, model: nn.Module) -> nn.Module:
        return app_module(model, self.std)

    def inputs(self, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return app_inputs(images, self.std)


def image_input(app: AppInput, shape: tuple[int, ...]) -> ct.ImageType:
    """RGB pixels in, `x / 255 - mean` into the model (whose stem divides by the std)."""
    import coremltools as ct

    return ct.ImageType(name=IMAGE_INPUT, shape=shape, scale=PIXEL_SCALE, bias=[-m for m in app.mean], color_layout=ct.colorlayout.RGB)


def classifier(app: AppInput) -> ct.ClassifierConfig:
    import coremltools as ct

    return ct.ClassifierConfig(list(app.classes), predicted_feature_name=LABEL_OUTPUT)


def with_named_outputs(mlmodel: ct.models.MLModel) -> ct.models.MLModel:
    """The classifier's probabilities renamed from coremltools' `classLabel_probs` to Apple's
    `classLabelProbs`; the program's weights are kept where the converter wrote them."""
    import coremltools as ct

    spec = mlmodel.get_spec()
    ct.utils.rename_feature(spec, spec.description.predictedProbabilitiesName, PROBABILITIES_OUTPUT)
    return ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir, skip_model_load=True)
