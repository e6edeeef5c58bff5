"""The data stage: sources, checks, splits, preprocessing and the DataModule.

Users reach it as ``aimass_lab.datasets``. Everything is imported lazily, so
``import aimass_lab.data`` imports neither pandas, scikit-learn nor torch.

Examples
--------
>>> from aimass_lab import datasets
>>> ds = datasets.load("iris")  # doctest: +SKIP
>>> ds.input_shape, ds.output_dim  # doctest: +SKIP
((4,), 3)
>>> dm = ds.datamodule(batch_size=32)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimass_lab._lazy import lazy_exports
from aimass_lab.specs import BUILTINS, ENTRY_POINT_GROUP

if TYPE_CHECKING:
    from aimass_lab.data._augment import augment_batch
    from aimass_lab.data._base import RawData, Source
    from aimass_lab.data._datamodule import DataModule
    from aimass_lab.data._dataset import Dataset
    from aimass_lab.data._images import decode_image_bytes
    from aimass_lab.data._load import infer_task, load, report
    from aimass_lab.data._plugins import get_source, register_source, unregister_source
    from aimass_lab.data._preprocess import Preprocessor
    from aimass_lab.data._progress import set_progress
    from aimass_lab.data._records import check_name as check_dataset_name
    from aimass_lab.data._records import registered_names, registered_row
    from aimass_lab.data._registry import (
        add,
        from_csv,
        from_dataframe,
        from_images,
        from_numpy,
        from_parquet,
        from_sql,
        get,
        list_datasets,
        remove,
    )
    from aimass_lab.data._report import DataReport
    from aimass_lab.data._resolve import resolve_spec
    from aimass_lab.data._sources import check_access
    from aimass_lab.data._target import default_target, file_columns

__all__ = [
    "BUILTINS",
    "DataModule",
    "DataReport",
    "Dataset",
    "ENTRY_POINT_GROUP",
    "Preprocessor",
    "RawData",
    "Source",
    "add",
    "augment_batch",
    "check_access",
    "check_dataset_name",
    "decode_image_bytes",
    "default_target",
    "file_columns",
    "from_csv",
    "from_dataframe",
    "from_images",
    "from_numpy",
    "from_parquet",
    "from_sql",
    "get",
    "get_source",
    "infer_task",
    "list",
    "list_datasets",
    "load",
    "make_reviews",
    "register_source",
    "registered_names",
    "registered_row",
    "remove",
    "report",
    "resolve_spec",
    "set_progress",
    "unregister_source",
]

_LAZY: dict[str, tuple[str, str]] = {
    "DataModule": ("aimass_lab.data._datamodule", "DataModule"),
    "DataReport": ("aimass_lab.data._report", "DataReport"),
    "Dataset": ("aimass_lab.data._dataset", "Dataset"),
    "Preprocessor": ("aimass_lab.data._preprocess", "Preprocessor"),
    "RawData": ("aimass_lab.data._base", "RawData"),
    "make_reviews": ("aimass_lab.data._reviews", "make_reviews"),
    "Source": ("aimass_lab.data._base", "Source"),
    "add": ("aimass_lab.data._registry", "add"),
    "check_access": ("aimass_lab.data._sources", "check_access"),
    "check_dataset_name": ("aimass_lab.data._records", "check_name"),
    "registered_names": ("aimass_lab.data._records", "registered_names"),
    "registered_row": ("aimass_lab.data._records", "registered_row"),
    "augment_batch": ("aimass_lab.data._augment", "augment_batch"),
    "decode_image_bytes": ("aimass_lab.data._images", "decode_image_bytes"),
    "default_target": ("aimass_lab.data._target", "default_target"),
    "file_columns": ("aimass_lab.data._target", "file_columns"),
    "from_csv": ("aimass_lab.data._registry", "from_csv"),
    "from_dataframe": ("aimass_lab.data._registry", "from_dataframe"),
    "from_images": ("aimass_lab.data._registry", "from_images"),
    "from_numpy": ("aimass_lab.data._registry", "from_numpy"),
    "from_parquet": ("aimass_lab.data._registry", "from_parquet"),
    "from_sql": ("aimass_lab.data._registry", "from_sql"),
    "get": ("aimass_lab.data._registry", "get"),
    "get_source": ("aimass_lab.data._plugins", "get_source"),
    "infer_task": ("aimass_lab.data._load", "infer_task"),
    "list": ("aimass_lab.data._registry", "list_datasets"),
    "list_datasets": ("aimass_lab.data._registry", "list_datasets"),
    "load": ("aimass_lab.data._load", "load"),
    "register_source": ("aimass_lab.data._plugins", "register_source"),
    "remove": ("aimass_lab.data._registry", "remove"),
    "report": ("aimass_lab.data._load", "report"),
    "resolve_spec": ("aimass_lab.data._resolve", "resolve_spec"),
    "set_progress": ("aimass_lab.data._progress", "set_progress"),
    "unregister_source": ("aimass_lab.data._plugins", "unregister_source"),
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, listed=__all__)
