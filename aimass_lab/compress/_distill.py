"""Knowledge distillation: a teacher's softened outputs teach a smaller zoo student."""

from __future__ import annotations

import copy
import warnings

import torch

from aimass_lab.compress._base import Candidate, CompressionMethod, Context
from aimass_lab.compress._distiller import Distiller
from aimass_lab.compress._fit import count_params, fit
from aimass_lab.errors import AimassWarning
from aimass_lab.models import build_network, network_options
from aimass_lab.specs import DistillSpec

__all__ = ["Distill", "Distiller"]  # Distiller: re-exported from _distiller


class Distill(CompressionMethod):
    """Train a zoo student on the teacher's outputs (see :class:`~aimass_lab.specs.DistillSpec`)."""

    name = "distill"
    spec: DistillSpec

    def apply(self, candidate: Candidate, ctx: Context) -> Candidate:
        spec = self.spec
        student_spec = spec.student_spec()
        config = candidate.config
        shape = tuple(int(d) for d in config["input_shape"])
        torch.manual_seed(ctx.spec.seed)
        student = build_network(
            student_spec, shape, int(config["output_dim"]), **network_options(config)
        )
        teacher = copy.deepcopy(candidate.network).eval()
        n_student, _ = count_params(student)
        n_teacher, _ = count_params(teacher)
        if n_student >= n_teacher:
            warnings.warn(
                f"the student {spec.label.split('=', 1)[1]!r} ({student_spec.family}, "
                f"{n_student:,} parameters) is not smaller than its teacher ({n_teacher:,} "
                "parameters); distillation is meant to train a smaller model. Pick a smaller "
                "student, e.g. 'mlp-small' or {'family': 'mlp', 'hparams': {'hidden': 16}}",
                AimassWarning,
                stacklevel=2,
            )
        fit(
            student,
            ctx,
            config,
            epochs=spec.epochs,
            lr=spec.lr,
            teacher=teacher,
            temperature=spec.temperature,
            alpha=spec.alpha,
            batch_size=spec.batch_size,
        )
        new_config = {
            **config,
            "model_spec": student_spec.to_dict(),
            "hparams": student_spec.resolved_hparams(),
        }
        return Candidate(
            student,
            new_config,
            spec.label,
            details={
                "student": student_spec.to_dict(),
                "teacher_params": n_teacher,
                "student_params": n_student,
                "temperature": spec.temperature,
                "alpha": spec.alpha,
                "epochs": spec.epochs,
            },
        )
