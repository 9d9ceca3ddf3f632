"""Knowledge: the consultants' files → documents → chunks, and the ingest that indexes them.

- `files`: find the knowledge files and read their bytes safely (`discover`, `read_bytes`)
- `documents`: bytes → `Document` (front matter, PDF, DOCX)
- `chunks`: `Document` → heading-aware, token-bounded `Chunk`s and their index metadata, and
  the questions each section answers (`section_questions`)
- `asked`: a section's `Asked:` block, the other ways owners ask its question
- `tokens`: the one token count everyone uses
- `uploads`: an owner's own document → what was read and its passages, by page (`read_upload`);
  `reading_apart` reads one in a child process with a time and a memory limit
- `ocr`: the text in an owner's photo, read with Tesseract's CLI, as a short Markdown document
- `ingest`: plan, embed and store what changed (`ingest`, `Recipe`, `Plan`, `Report`)
- `lint`: what a consultant should fix in the files before owners meet them (`lint`)
- `runner`: an ingest as a command runs it: a lock, a new index version, published (or held back)
- `answers`: a consultant's answer → a knowledge entry under `answers/`, owner details removed
- `rollback`: the previous index version live again, a rolled-back entry moved out of the ingest's reach

May import `bot.index` (ingest writes into it) and `bot.config`; never the advisor,
storage, review or channels. The files, documents, asked, answers, chunks, uploads, ocr and tokens modules know
nothing of the index or of embeddings.
"""

from bot.knowledge.chunks import Chunk, chunk_metadata, sections, split_document
from bot.knowledge.documents import Document, load_document, parse_document, split_front_matter
from bot.knowledge.files import KnowledgeFileError, Skipped, discover, file_hash, read_bytes, relative_path
from bot.knowledge.tokens import count_tokens, token_encoding

__all__ = [
    "Chunk",
    "Document",
    "KnowledgeFileError",
    "Skipped",
    "chunk_metadata",
    "count_tokens",
    "discover",
    "file_hash",
    "load_document",
    "parse_document",
    "read_bytes",
    "relative_path",
    "sections",
    "split_document",
    "split_front_matter",
    "token_encoding",
]
