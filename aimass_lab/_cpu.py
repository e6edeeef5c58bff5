"""The CPU's int8 instruction set, and the int8 quantisation settings that hold accuracy on it.

ONNX Runtime multiplies uint8 activations by int8 weights (U8S8) on x86. With VNNI
(``VPDPBUSD``: AVX512-VNNI, AVX-VNNI, AMX) the products are summed in int32. Without it
(AVX2, and AVX-512 without VNNI) it uses ``VPMADDUBSW``, which adds each pair of adjacent
u8 x s8 products into a *saturating int16*: 255 x 127 x 2 = 64,770 does not fit in 32,767,
so a model whose activations and weights are both large gives wrong results (a relative
error of 0.2 on a small regression MLP). ONNX Runtime's remedy is ``reduce_range``: 7-bit
weights (-64..63), so a pair is at most 255 x 64 x 2 = 32,640 and never saturates, at the
cost of one bit of weight precision. ARM (``SDOT``/``UDOT``/``SMMLA``) sums in int32.

The instruction set is read once from the CPU (``/proc/cpuinfo`` on Linux) and can be set
with the ``AIMASS_CPU_ISA`` environment variable (one of :data:`ISAS`), e.g. to quantise on
one machine for another, or to test the settings of a CPU you do not have.

This module imports nothing heavy: it is used by ``compress`` and by the inference server.
"""

from __future__ import annotations

import functools
import platform
from typing import Any

from aimass_lab.errors import AimassError
from aimass_lab.settings import env_name, settings

__all__ = [
    "ISAS",
    "ISA_ENV",
    "detect_isa",
    "int8_mismatch",
    "int8_settings",
    "saturates",
]

#: Environment variable that overrides the detected instruction set.
ISA_ENV = env_name("cpu_isa")

#: The instruction sets told apart, newest first within each family.
#: x86 with VNNI: ``amx``, ``avx512-vnni``, ``avx-vnni``; x86 without: ``avx512``, ``avx2``,
#: ``sse``; ARM: ``arm64-i8mm``, ``arm64-dotprod``, ``arm64``; anything else: ``unknown``.
ISAS: tuple[str, ...] = (
    "amx",
    "avx512-vnni",
    "avx-vnni",
    "avx512",
    "avx2",
    "sse",
    "arm64-i8mm",
    "arm64-dotprod",
    "arm64",
    "unknown",
)
_X86_VNNI = ("amx", "avx512-vnni", "avx-vnni")
#: x86 without VNNI: ONNX Runtime's U8S8 kernels use the saturating VPMADDUBSW.
_X86_SATURATING = ("avx512", "avx2", "sse")


def saturates(isa: str) -> bool:
    """Whether ONNX Runtime's u8 x s8 kernels on ``isa`` sum pairs in saturating int16."""
    return isa in _X86_SATURATING


def _from_flags(flags: set[str], machine: str) -> str:
    if machine in ("aarch64", "arm64"):
        if "i8mm" in flags:
            return "arm64-i8mm"
        if "asimddp" in flags or "dotprod" in flags:
            return "arm64-dotprod"
        return "arm64"
    if machine not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return "unknown"
    if "amx_int8" in flags:
        return "amx"
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512-vnni"
    if "avx_vnni" in flags or "avxvnni" in flags:
        return "avx-vnni"
    if "avx512bw" in flags:
        return "avx512"
    if "avx2" in flags:
        return "avx2"
    return "sse"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=1)
def _detected() -> str:
    machine = platform.machine().lower()
    flags = _cpu_flags()
    if not flags and machine in ("arm64", "aarch64"):
        return "arm64"  # macOS and others without /proc/cpuinfo: NEON is always there
    if not flags and machine in ("x86_64", "amd64"):
        return "avx2"  # unknown x86: assume the saturating kernels, the safe side
    return _from_flags(flags, machine)


def detect_isa() -> str:
    """This machine's int8 instruction set (one of :data:`ISAS`).

    ``AIMASS_CPU_ISA`` overrides what the CPU reports.

    Raises
    ------
    AimassError
        When ``AIMASS_CPU_ISA`` is set to a name that is not in :data:`ISAS`.
    """
    override = (settings().cpu_isa or "").strip()
    if override:
        if override not in ISAS:
            raise AimassError(
                f"{ISA_ENV}={override!r} is not an instruction set; accepted: "
                + ", ".join(repr(i) for i in ISAS)
            )
        return override
    return _detected()


def int8_settings(isa: str) -> dict[str, Any]:
    """The ONNX Runtime int8 settings that hold accuracy on ``isa``.

    The same for dynamic and static (QDQ) quantisation: static int8 activations are shifted
    to uint8 by ONNX Runtime's x86 kernels, so they meet the same ``VPMADDUBSW``.

    Parameters
    ----------
    isa
        One of :data:`ISAS`: the CPU the model is quantised *for* (where it will be served).

    Returns
    -------
    dict
        ``isa``, ``reduce_range`` (7-bit weights on x86 without VNNI) and ``why``.
    """
    if isa not in ISAS:
        raise AimassError(
            f"unknown instruction set {isa!r}; accepted: " + ", ".join(repr(i) for i in ISAS)
        )
    if saturates(isa):
        why = (
            f"{isa} has no VNNI: ONNX Runtime's u8 x s8 kernels add pairs of products in "
            "saturating int16 (VPMADDUBSW), so weights are quantised to 7 bits (reduce_range)"
        )
        return {"isa": isa, "reduce_range": True, "why": why}
    why = (
        "int32 accumulation (VNNI)"
        if isa in _X86_VNNI
        else "int32 accumulation (ARM dot product)"
        if isa.startswith("arm64")
        else "no known saturating int8 kernel"
    )
    return {"isa": isa, "reduce_range": False, "why": f"{isa}: {why}; full 8-bit weights"}


def int8_mismatch(config: dict[str, Any], serving_isa: str | None = None) -> str | None:
    """A warning when an int8 model was quantised for a CPU whose settings do not hold here.

    ``config`` is a model version's config; its ``compression.int8`` entry (written by
    quantisation) names the instruction set it was quantised for and ``reduce_range``.
    ``serving_isa`` defaults to this machine's (:func:`detect_isa`), read only for an int8
    model, so a float model loads whatever ``AIMASS_CPU_ISA`` says. Returns ``None`` when
    the model is not int8, or when its settings are safe on ``serving_isa``.
    """
    int8 = (config.get("compression") or {}).get("int8")
    if not isinstance(int8, dict):
        return None
    if serving_isa is None:
        serving_isa = detect_isa()
    target = str(int8.get("isa", "unknown"))
    if saturates(serving_isa) and not int8.get("reduce_range", False):
        return (
            f"this int8 model was quantised for {target} with full 8-bit weights, but this "
            f"CPU is {serving_isa} (no VNNI): ONNX Runtime's int8 kernels can saturate here "
            "and answer with a large error. Quantise it again for this CPU "
            f"(quantize:...:target_cpu={serving_isa}) before serving it here"
        )
    if target != serving_isa:
        return (
            f"this int8 model was quantised for {target} and is served on {serving_isa}; "
            "its settings are safe here, but latency and accuracy were measured on the other CPU"
        )
    return None
