"""The cheap schema check that lets a start on an up-to-date database skip Alembic's import."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from bot.storage import Storage
from bot.storage.revisions import head_revision, up_to_date
from tests.storage.test_storage import newest_revision


def test_the_head_read_from_the_files_is_alembics():
    assert head_revision() == newest_revision()


def test_a_file_that_does_not_parse_or_two_heads_leave_it_to_alembic(tmp_path):
    (tmp_path / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (tmp_path / "0002_b.py").write_text('revision = "0002"\ndown_revision = "0001"\n')
    assert head_revision(tmp_path) == "0002"
    (tmp_path / "0003_c.py").write_text('revision = "0003"\ndown_revision = "0001"\n')  # a second head
    assert head_revision(tmp_path) is None
    (tmp_path / "0003_c.py").write_text('revision = "0003"\ndown_revision = ("0001", "0002")\n')  # a merge
    assert head_revision(tmp_path) is None


async def test_up_to_date_only_at_the_head(tmp_path):
    path = tmp_path / "t.db"
    with create_engine(f"sqlite:///{path}").connect() as connection:
        assert not up_to_date(connection)  # empty: no version table
    storage = await Storage.open(f"sqlite+aiosqlite:///{path}")
    await storage.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert up_to_date(connection)
    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = '0011'"))
    with engine.connect() as connection:
        assert not up_to_date(connection)
    engine.dispose()
