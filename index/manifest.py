"""The manifest: what an index version holds and how it was made, as JSON beside its files."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from newsbot.index.errors import IndexCorrupt, IndexIncompatible

FORMAT_NAME = "newsbot-index"
FORMAT_VERSION = 8  # 2: paragraph vectors and term frequencies; 3: terms per sentence; 4: terms per paragraph;
# 5: the FAISS index type chosen by size (exact or IVF,SQ8), its parameters recorded here; 6: a paragraph index;
# 7: an FTS5 index of the sentences' terms in the metadata (lexical candidates); 8: republished copies of a story
# grouped (index/syndication.py): one indexed article per story, its copies in the metadata, counted here
MANIFEST_FILE = "manifest.json"
VECTORS_FILE = "vectors.faiss"
METADATA_FILE = "metadata.sqlite"
PARAGRAPH_VECTORS_FILE = "paragraph_vectors.npy"
PARAGRAPH_INDEX_FILE = "paragraphs.faiss"
SENTENCE_PARAGRAPHS_FILE = "sentence_paragraphs.npy"
TERMS_FILE = "term_frequencies.json"
READER_FILES = (MANIFEST_FILE, VECTORS_FILE, METADATA_FILE, PARAGRAPH_VECTORS_FILE, PARAGRAPH_INDEX_FILE,
                SENTENCE_PARAGRAPHS_FILE, TERMS_FILE)  # what a reader loads: each must have a checksum to be trusted


@dataclass(frozen=True)
class Manifest:
    """Everything needed to decide whether an index can answer for a given model."""

    model: str
    dimension: int
    metric: str
    faiss_index: str  # the FAISS class, e.g. IndexFlatIP or IndexIVFScalarQuantizer
    faiss_factory: str  # the `faiss.index_factory` string it was built from, e.g. Flat or IVF4096,SQ8
    faiss_training_sample: int  # vectors its k-means was trained on (0: not trained)
    faiss_search: dict[str, int]  # search-time parameters set on every load, e.g. {"nprobe": 32}
    paragraph_faiss_factory: str  # the same for the paragraph index, chosen by the number of paragraphs
    paragraph_faiss_search: dict[str, int]
    articles: int  # every article read, copies included
    copies: int  # articles grouped as copies of another's story, not indexed: articles - copies stories are
    sentences: int
    paragraphs: int
    corpus_fingerprint: str
    segmenter: str
    embedding: str
    built_at: str
    build_seconds: float
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    def write(self, folder: Path) -> None:
        (folder / MANIFEST_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> Manifest:
    """Read and validate a version's manifest; the errors say what to run."""
    path = folder / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorrupt(f"the index at {folder} has no {MANIFEST_FILE}; run `newsbot index` to rebuild it") from None
    except (OSError, ValueError) as error:
        raise IndexCorrupt(f"the index manifest {path} cannot be read ({error}); "
                           "run `newsbot index` to rebuild it") from None
    return manifest_from_dict(data, folder, path)


def manifest_from_dict(data: object, folder: object, path: object) -> Manifest:
    """Validate a manifest's JSON, read from `path` of the index at `folder` (for the messages)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise IndexIncompatible(f"{folder} is not a newsbot index; run `newsbot index` to build one")
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexIncompatible(
            f"the index at {folder} has format version {data.get('format_version')!r}, this newsbot reads "
            f"version {FORMAT_VERSION}; run `newsbot index` to rebuild it")
    names = {f.name for f in fields(Manifest)}
    try:
        manifest = Manifest(**{k: v for k, v in data.items() if k in names})
    except TypeError as error:
        raise IndexCorrupt(f"the index manifest {path} is incomplete ({error}); run `newsbot index`") from None
    if not (isinstance(manifest.dimension, int) and isinstance(manifest.sentences, int) and isinstance(manifest.copies, int)
            and isinstance(manifest.model, str) and isinstance(manifest.faiss_factory, str)
            and all(_parameters(search) for search in (manifest.faiss_search, manifest.paragraph_faiss_search))):
        raise IndexCorrupt(f"the index manifest {path} has fields of the wrong type; run `newsbot index`")
    return manifest


def _parameters(search: object) -> bool:
    return isinstance(search, dict) and all(isinstance(k, str) and isinstance(v, int) for k, v in search.items())
