"""The embedding cache: a new cache file opened by the ingest's threads at once is set up once
and used, not given up (a fresh clone's first start embedded its whole first index without it)."""

from __future__ import annotations

import threading

import numpy as np

from bot.index.cache import VectorCache


def test_a_new_cache_opened_by_several_threads_at_once_is_used_by_all(tmp_path, caplog):
    for trial in range(40):  # the race is narrow: before the mend about one trial in ten lost it
        cache = VectorCache(tmp_path / f"cache-{trial}" / "minilm.sqlite3")
        together = threading.Barrier(4)

        def embed(thread: int, cache=cache, together=together) -> None:
            texts = [f"passage {thread}-{n}" for n in range(16)]
            together.wait()
            assert cache.get(texts) == {}
            cache.put(texts, np.full((16, 4), thread, dtype=np.float32))

        threads = [threading.Thread(target=embed, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert "not usable" not in caplog.text, trial
        kept = cache.get([f"passage {n}-3" for n in range(4)])
        assert [float(kept[n][0]) for n in range(4)] == [0.0, 1.0, 2.0, 3.0]
