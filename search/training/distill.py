"""Training losses: label smoothing, knowledge distillation from a timm teacher, in-place distillation.

Distillation follows the paper's section 5.1: soft (Hinton; KL between tempered softmaxes, eq. 3)
and hard-label (DeiT; cross-entropy on the teacher's argmax, eq. 4), hard being the paper's best
(Table 4). The sandwich rule's smaller subnets learn from the largest subnet's predictions of the
same batch (in-place distillation, BigNAS), which needs no teacher.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from search.training.checkpoint import unloadable
from search.training.settings import TeacherError

KD_MODES = ("none", "hard", "soft")


def load_teacher(name: str, checkpoint: Path, num_classes: int, device: torch.device) -> nn.Module:
    """A frozen timm model with weights from a local file (nothing is downloaded). The checkpoint
    may be a plain state dict or timm's/DeiT's wrapped forms ({"state_dict": ...}, {"model": ...})."""
    import timm

    if not timm.is_model(name):
        raise TeacherError(f"unknown teacher {name!r}; use a timm model name (see timm.list_models())")
    if not Path(checkpoint).is_file():
        raise TeacherError(f"teacher checkpoint {checkpoint} does not exist; pass the local weights of {name} with --teacher-checkpoint")
    model = timm.create_model(name, pretrained=False, num_classes=num_classes)
    try:
        timm.models.load_checkpoint(model, str(checkpoint), strict=True, weights_only=True)  # never unpickle code from a file
    except pickle.UnpicklingError as exc:
        raise TeacherError(f"teacher checkpoint {checkpoint} {unloadable(exc, Path(checkpoint))}; pass a plain state dict of the teacher's weights") from None
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise TeacherError(
            f"teacher checkpoint {checkpoint} does not fit {name} with {num_classes} classes ({first}); "
            "pass weights trained on this data set's classes"
        ) from None
    model.requires_grad_(False)
    return model.eval().to(device)


class DistillationLoss(nn.Module):
    """Ground-truth loss, optionally mixed with a teacher's: (1 - alpha) CE + alpha KD."""

    def __init__(self, mode: str = "none", alpha: float = 0.5, tau: float = 1.0, label_smoothing: float = 0.1) -> None:
        super().__init__()
        if mode not in KD_MODES:
            raise TeacherError(f"unknown distillation {mode!r}; choose one of {', '.join(KD_MODES)}")
        self.mode, self.alpha, self.tau = mode, alpha, tau
        self.ce = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None = None) -> torch.Tensor:
        base = self.ce(logits, labels)
        if self.mode == "none":
            return base
        if teacher_logits is None:
            raise TeacherError(f"{self.mode} distillation needs teacher logits")
        if self.mode == "hard":
            kd = F.cross_entropy(logits, teacher_logits.argmax(dim=1))
        else:
            kd = F.kl_div(
                F.log_softmax(logits / self.tau, dim=1), F.log_softmax(teacher_logits / self.tau, dim=1),
                reduction="batchmean", log_target=True,
            ) * self.tau**2
        return (1 - self.alpha) * base + self.alpha * kd


def inplace_distillation(logits: torch.Tensor, largest_logits: torch.Tensor) -> torch.Tensor:
    """Soft cross-entropy against the largest subnet's (detached) predictions of the same batch."""
    return torch.sum(-F.softmax(largest_logits.detach(), dim=1) * F.log_softmax(logits, dim=1), dim=1).mean()
