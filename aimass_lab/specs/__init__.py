"""The specs: plain, validated, JSON-serialisable descriptions of work.

The same spec is built by a Python call, a widget form, a YAML file given to the CLI and a
JSON body sent to the server extension. A bad spec fails here, with a :class:`SpecError`
naming the field, the value and what is accepted.

This package is the bottom "vocabulary" layer: it imports only :mod:`aimass_lab.errors`,
:mod:`aimass_lab.settings` and small helpers, never a stage. One module per stage holds
that stage's specs (``_data``, ``_model``, ``_train``, ``_search``, ``_compress``,
``_deploy``); ``_refs`` holds model references (``name:version``, aliases), ``_choices``
the closed choices and ``_catalog`` the built-in datasets, source kinds and model families.

Examples
--------
>>> from aimass_lab.specs import TrainSpec
>>> spec = TrainSpec.from_dict({"data": {"name": "digits"}, "model": {"family": "mlp"}})
>>> spec.max_epochs
10
>>> TrainSpec.from_yaml(spec.to_yaml()) == spec
True
"""

from __future__ import annotations

from aimass_lab.specs._alerts import ALERT_METRICS, ALERT_OPS, AlertRule, AlertSpec, parse_rule
from aimass_lab.specs._base import Spec, one_of, read_yaml
from aimass_lab.specs._catalog import (
    BUILTINS,
    CORE_SOURCES,
    ENTRY_POINT_GROUP,
    FAMILIES,
    BuiltinInfo,
    Family,
    add_runtime_source,
    coerce_hparams,
    plugin_sources,
    remove_runtime_source,
    source_names,
)
from aimass_lab.specs._challenge import CHALLENGE_METRICS, ChallengeSpec
from aimass_lab.specs._choices import (
    COMPRESS_METHODS,
    DEPLOY_ENGINES,
    DISTRIBUTIONS,
    LR_SCHEDULES,
    MEASURED_OBJECTIVES,
    PRECISIONS,
    PRUNE_KINDS,
    PRUNERS,
    QUANTIZE_MODES,
    SAMPLERS,
    STRATEGIES,
    TRAIN_HPARAMS,
    CompressMethod,
    DeployEngine,
    Distribution,
    Precision,
    PruneKind,
    Pruner,
    QuantizeMode,
    Sampler,
    Strategy,
)
from aimass_lab.specs._compress import (
    STUDENT_PRESETS,
    BenchmarkSpec,
    CompressMethodSpec,
    CompressSpec,
    DistillSpec,
    LowRankSpec,
    PruneSpec,
    QuantizeSpec,
    parse_method,
)
from aimass_lab.specs._data import (
    AugmentSpec,
    DataSpec,
    LoaderSpec,
    PreprocessSpec,
    SelectSpec,
    SplitSpec,
    TokenizerSpec,
)
from aimass_lab.specs._deploy import BatchingSpec, DeploySpec
from aimass_lab.specs._ensemble import ENSEMBLE_METHODS, EnsembleSpec
from aimass_lab.specs._model import ModelSpec
from aimass_lab.specs._refs import LATEST, NAME_RULE, parse_ref, validate_alias, validate_name
from aimass_lab.specs._search import (
    FAMILY_PARAM,
    SPACE_TRAIN_PARAMS,
    ParamSpec,
    SearchSpec,
    default_space,
    space_params,
)
from aimass_lab.specs._sources import (
    SOURCE_KINDS,
    SOURCE_SCHEME,
    DataSourceSpec,
    parse_principal,
    parse_source_ref,
)
from aimass_lab.specs._train import EarlyStoppingSpec, TrainSpec, split_hparams

__all__ = [
    "ALERT_METRICS",
    "ALERT_OPS",
    "AlertRule",
    "CHALLENGE_METRICS",
    "ChallengeSpec",
    "AlertSpec",
    "parse_principal",
    "parse_rule",
    "parse_source_ref",
    "AugmentSpec",
    "BUILTINS",
    "BatchingSpec",
    "BenchmarkSpec",
    "BuiltinInfo",
    "COMPRESS_METHODS",
    "CORE_SOURCES",
    "CompressMethod",
    "CompressMethodSpec",
    "CompressSpec",
    "DEPLOY_ENGINES",
    "DISTRIBUTIONS",
    "LR_SCHEDULES",
    "DataSourceSpec",
    "DataSpec",
    "LoaderSpec",
    "DeployEngine",
    "DeploySpec",
    "DistillSpec",
    "Distribution",
    "ENSEMBLE_METHODS",
    "ENTRY_POINT_GROUP",
    "EnsembleSpec",
    "EarlyStoppingSpec",
    "FAMILIES",
    "FAMILY_PARAM",
    "Family",
    "LATEST",
    "LowRankSpec",
    "MEASURED_OBJECTIVES",
    "ModelSpec",
    "NAME_RULE",
    "PRECISIONS",
    "PRUNERS",
    "PRUNE_KINDS",
    "ParamSpec",
    "Precision",
    "PreprocessSpec",
    "SOURCE_KINDS",
    "SOURCE_SCHEME",
    "SelectSpec",
    "PruneKind",
    "PruneSpec",
    "Pruner",
    "QUANTIZE_MODES",
    "QuantizeMode",
    "QuantizeSpec",
    "SAMPLERS",
    "SPACE_TRAIN_PARAMS",
    "STRATEGIES",
    "STUDENT_PRESETS",
    "Sampler",
    "SearchSpec",
    "Spec",
    "SplitSpec",
    "TokenizerSpec",
    "Strategy",
    "TRAIN_HPARAMS",
    "TrainSpec",
    "add_runtime_source",
    "coerce_hparams",
    "default_space",
    "one_of",
    "read_yaml",
    "parse_method",
    "parse_ref",
    "plugin_sources",
    "remove_runtime_source",
    "source_names",
    "space_params",
    "split_hparams",
    "validate_alias",
    "validate_name",
]
