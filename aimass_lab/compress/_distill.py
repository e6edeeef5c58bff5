"""Knowledge distillation: a teacher's softened outputs teach a smaller zoo student."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch

from aimass_lab.compress._base import Candidate, CompressionMethod, Context
from aimass_lab.compress._distiller import Distiller
from aimass_lab.compress._fit import count_params, fit
from aimass_lab.compress._transformer import is_pretrained, smaller_student
from aimass_lab.errors import AimassError, AimassWarning
from aimass_lab.models import build_network, network_options
from aimass_lab.specs import DistillSpec, ModelSpec

__all__ = ["Distill", "Distiller"]  # Distiller: re-exported from _distiller


class Distill(CompressionMethod):
    """Train a zoo student on the teacher's outputs (see :class:`~aimass_lab.specs.DistillSpec`)."""

    name = "distill"
    spec: DistillSpec

    def check(self, candidate: Candidate, ref: str | None = None) -> None:
        """Refuse ``layers`` for a teacher that is not a pretrained Transformers model."""
        if self.spec.layers is not None and not is_pretrained(candidate.config):
            family = (candidate.config.get("model_spec") or {}).get("family", "?")
            raise AimassError(
                f"{self.spec.label}: layers= builds the student from a pretrained teacher's "
                f"own config, but {f'model {ref}' if ref else 'the teacher'} is {family!r}; "
                "accepted: a pretrained teacher, or a zoo student (student='mlp-small', ...)"
            )
        if self.spec.layers is not None:
            hf = candidate.config["pretrained"].get("config") or {}
            total = int(hf.get("num_hidden_layers", 0))
            if not self.spec.layers < total:
                raise AimassError(
                    f"{self.spec.label}: the student must have fewer layers than its teacher "
                    f"({total} layers); accepted: layers=1..{total - 1}"
                )

    def apply(self, candidate: Candidate, ctx: Context) -> Candidate:
        spec = self.spec
        self.check(candidate)
        student_spec = spec.student_spec()
        config = candidate.config
        shape = tuple(int(d) for d in config["input_shape"])
        torch.manual_seed(ctx.spec.seed)
        extra: dict[str, Any] = {}
        if spec.layers is not None:
            student, info = smaller_student(
                candidate.network, config, spec.layers, spec.student_init
            )
            student_spec = ModelSpec.from_dict(
                {
                    **config["model_spec"],
                    "hparams": {
                        **(config["model_spec"].get("hparams") or {}),
                        "finetune": "full",
                    },
                }
            )
            extra = {"pretrained": info}
        else:
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
            **extra,
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
                **({"layers": extra["pretrained"]["student"]} if extra else {}),
            },
        )
