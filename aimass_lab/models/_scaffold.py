"""Pretrained-model folders built from a config, for tests, examples and benchmarks.

Nothing downloads at run time, so tests, the example notebook and the benchmarks make their
"pretrained" models here: a Transformers config of a chosen size, randomly initialised
weights saved with ``save_pretrained`` (safetensors), and for text a WordPiece tokenizer
trained on the given texts and saved beside it. The folder is exactly what a model fetched
from a hub looks like, so every stage treats it as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError, accepted
from aimass_lab.models._hf import quiet_transformers

__all__ = ["SIZES", "create_pretrained"]

#: The default text the tokenizer of a scaffold text model is trained on.
_CORPUS = (
    "the phone is great and the battery lasts all day. the laptop is fast, the screen is "
    "bright and the keyboard is quiet. the camera takes sharp pictures, would buy again. "
    "the blender is loud and broke after a week, returning it. the kettle boils water quickly. "
    "the headset sounds good but the microphone is poor. i bought this last month and use it "
    "every day. arrived on tuesday, well packed. my second order from this shop. got it as a "
    "gift. the price is fair, the quality is excellent, highly recommended, five stars. the "
    "design is ugly, the build is cheap and the manual is useless, one star. not recommended, "
    "what a waste of money. very happy with it. the service was friendly and the delivery "
    "was slow. the sound is clear, the size is small, the weight is light. it works, it does "
    "not work, it stopped working. the speaker, the watch, the tablet, the charger, the mouse, "
    "the monitor, the printer, the router, the vacuum, the toaster. amazing, awful, terrible, "
    "perfect, solid, flimsy, sturdy, reliable, disappointing, wonderful, noisy, smooth, "
    "comfortable, heavy, broken, excellent, mediocre, decent, superb, horrible, lovely"
)

#: Named sizes: ``tiny`` for tests, ``small`` for examples, ``base`` as BERT-base / ViT-S/16.
SIZES: dict[str, dict[str, dict[str, int]]] = {
    "text": {
        "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
        "small": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512},
        "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    },
    "image": {
        "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "patch_size": 8},
        "small": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512, "patch_size": 8},
        "base": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6, "intermediate_size": 1536, "patch_size": 16},
    },
}  # fmt: skip


def create_pretrained(
    folder: str | Path,
    kind: str = "text",
    size: str | dict[str, int] = "tiny",
    *,
    texts: Iterable[str] | None = None,
    vocab_size: int = 1000,
    max_length: int = 128,
    image_size: int = 32,
    num_labels: int = 2,
    seed: int = 0,
) -> Path:
    """Write a BERT-style text model (with its tokenizer) or a ViT image model to ``folder``.

    Parameters
    ----------
    folder
        Where to write (created; files in it are replaced).
    kind
        ``"text"`` (BERT encoder + WordPiece tokenizer) or ``"image"`` (ViT).
    size
        ``"tiny"``, ``"small"``, ``"base"`` (BERT-base, ~110M parameters; ViT-S/16, ~22M) or
        a dict of config fields.
    texts
        Texts to train the tokenizer on (text models; default: a few hundred words of plain
        English about products, enough for the built-in ``reviews``; every letter is in
        its vocabulary, so any word is split into known pieces).
    vocab_size, max_length
        The tokenizer's vocabulary and the model's ``max_position_embeddings``.
    image_size
        The image side (image models).
    num_labels
        Classes of the head it is saved with (fine-tuning puts a new head on it).
    seed
        Seeds the random weights.

    Returns
    -------
    Path
        The folder.
    """
    import torch
    import transformers

    if kind not in SIZES:
        raise AimassError(f"unknown kind {kind!r}; accepted: {accepted(SIZES)}")
    if isinstance(size, str):
        if size not in SIZES[kind]:
            raise AimassError(f"unknown size {size!r}; accepted: {accepted(SIZES[kind])}")
        fields: dict[str, Any] = dict(SIZES[kind][size])
    else:
        fields = dict(size)
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config: Any
    model: Any
    if kind == "image":
        config = transformers.ViTConfig(
            image_size=image_size, **{"num_labels": num_labels, **fields}
        )
        model = transformers.ViTForImageClassification(config)
        with quiet_transformers():
            transformers.ViTImageProcessor(
                size={"height": image_size, "width": image_size},
                image_mean=[0.5, 0.5, 0.5],
                image_std=[0.5, 0.5, 0.5],
            ).save_pretrained(out)
    else:
        tokenizer = _wordpiece(texts, vocab_size, max_length)
        tokenizer.save_pretrained(out)
        config = transformers.BertConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=max_length,
            pad_token_id=tokenizer.pad_token_id,
            **{"num_labels": num_labels, **fields},
        )
        model = transformers.BertForSequenceClassification(config)
    with quiet_transformers():
        model.save_pretrained(out, safe_serialization=True)
    return out


def _wordpiece(texts: Iterable[str] | None, vocab_size: int, max_length: int) -> Any:
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    corpus = list(texts) if texts is not None else _CORPUS.split(". ")
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(
        corpus, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special)
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )
