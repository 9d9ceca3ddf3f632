"""Reading an owner's upload in a process of its own, with a time and a memory limit.

An owner's file is untrusted: six 18 KB Word files of empty paragraphs once took minutes each in
the bot's small default thread pool, and no owner got an answer for four minutes; a small file
that unpacks to gigabytes can take the bot's memory. So `read_upload` runs in a child Python
(`python -m bot.knowledge.reading_apart`, ~0.2 s to start) that limits its own address space and
CPU time, is killed when it overruns its time, and can only ever hurt itself. The bot awaits it
without a thread; at most READERS read at once, so uploads cannot crowd out the answers.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
import weakref
from dataclasses import dataclass

from bot.knowledge.documents import TooManyPages
from bot.knowledge.files import KnowledgeFileError
from bot.knowledge.uploads import Upload, read_upload

READERS = 1  # uploads read at once, per bot process: the CPU is for answers
MEMORY_BYTES = 2 * 1024**3  # a reader's address space: a capped Word file needs well under half


@dataclass(frozen=True)
class _Job:
    file_name: str
    data: bytes
    kind: str
    max_pages: int
    chunk_size: int
    chunk_overlap: int
    seconds: float
    memory: int


_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def read_upload_apart(
    file_name: str,
    data: bytes,
    kind: str,
    max_pages: int,
    chunk_size: int,
    chunk_overlap: int,
    *,
    seconds: float,
    memory: int = MEMORY_BYTES,
) -> Upload:
    """`read_upload` in a child process: the same `Upload`, or the same `KnowledgeFileError` /
    `TooManyPages`; one that takes over `seconds` or more than `memory` is a `KnowledgeFileError`
    saying so."""
    job = _Job(file_name, data, kind, max_pages, chunk_size, chunk_overlap, seconds, memory)
    readers = _readers.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(READERS))
    async with readers:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(child.communicate(pickle.dumps(job)), seconds)
        except TimeoutError:
            raise KnowledgeFileError(file_name, f"took over {seconds:g} s to read") from None
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
    return _result(file_name, out)


def _result(file_name: str, out: bytes) -> Upload:
    try:
        outcome, *values = pickle.loads(out)
    except Exception:  # killed (the memory or CPU limit) before it could say anything
        raise KnowledgeFileError(file_name, "needed more memory or time than a document may use") from None
    if outcome == "read":
        return values[0]
    if outcome == "too many pages":
        raise TooManyPages(*values)
    raise KnowledgeFileError(*values)


def _read_here(job: _Job) -> tuple:
    """In the child: limit itself, read, and say what came of it as a plain tuple."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (job.memory, job.memory))
    cpu = int(job.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        upload = read_upload(job.file_name, job.data, job.kind, job.max_pages, job.chunk_size, job.chunk_overlap)
    except TooManyPages as exc:
        return ("too many pages", exc.path, exc.pages, exc.limit)
    except KnowledgeFileError as exc:
        return ("unreadable", exc.path, exc.reason)
    except MemoryError:
        return ("unreadable", job.file_name, "needed more memory than a document may use")
    return ("read", upload)


if __name__ == "__main__":
    sys.stdout.buffer.write(pickle.dumps(_read_here(pickle.loads(sys.stdin.buffer.read()))))
