"""Opening the knowledge index: a local version's folder under INDEX_DIR (`bot.index.versions`)
or a Chroma server (CHROMA_URL), with one collection per embedding space."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.config import Settings
from bot.index.chroma import COSINE, KnowledgeIndex
from bot.index.versions import current_version, live_folder


def make_chroma_client(settings: Settings, folder: Path | None = None):
    """A Chroma client: on the local index in `folder`, else an HTTP client on CHROMA_URL."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if folder is None:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    folder.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)


def make_index(
    settings: Settings, index_dir: Path | None = None, create: bool = True, spaces: Sequence[str] | None = None
) -> KnowledgeIndex:
    """Open (or create) the knowledge collection, cosine space, with our own embeddings: on the
    Chroma server (CHROMA_URL), or in the live version under `index_dir` (default INDEX_DIR),
    whose number the index remembers (`KnowledgeIndex.version`). `spaces`: the embedding
    spaces besides the first (default: as EMBEDDING_BACKEND says), each a collection of its
    own named `<CHROMA_COLLECTION>-<space>`. `create=False`: the first collection must exist (a
    published version's); a space's is created empty if missing, as `create` would."""
    remote = bool(settings.chroma_url) and index_dir is None
    root = index_dir or settings.index_path
    version = None if remote else current_version(root)
    folder = None if remote else live_folder(root, version)
    name = settings.chroma_collection
    spaces = extra_spaces(settings) if spaces is None else spaces

    def open_collections(index: KnowledgeIndex) -> None:
        client = make_chroma_client(settings, folder)
        if create:
            primary = client.get_or_create_collection(name, embedding_function=None, metadata=COSINE)
        else:
            primary = client.get_collection(name, embedding_function=None)
        index.collection, index.client = primary, client
        index.open_spaces(spaces)

    if remote:
        index = KnowledgeIndex.opened_on_use(name, settings.data_dir, None, open_collections)
        index.folder = None
        index.open_now()  # an unreachable server fails here, at start
        return index
    return KnowledgeIndex.opened_on_use(name, folder, version, open_collections)


def extra_spaces(settings: Settings) -> list[str]:
    """The embedding spaces besides the first that EMBEDDING_BACKEND keeps ('onnx+e5': e5)."""
    return [part.split("-")[0] for part in settings.embedding_backend.split("+")[1:]]
