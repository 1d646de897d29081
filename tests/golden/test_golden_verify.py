"""``veriframe verify --json`` output is pinned byte for byte on a corpus of public files.

See ``tests/golden/corpus.py`` for the corpus, how the documents were made and when to
regenerate them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.corpus import GOLDEN, SHARED, corpus, golden_name, make_home, verify_json

FILES = corpus() if (SHARED / "c2pa" / "INDEX.csv").is_file() else []


@pytest.fixture(scope="module")
def golden_env(tmp_path_factory: pytest.TempPathFactory) -> object:
    from veriframe._cli import main

    mp = pytest.MonkeyPatch()
    mp.setenv("VERIFRAME_HOME", str(make_home(tmp_path_factory.mktemp("golden") / "home")))
    for var in ("VERIFRAME_TRUST", "VERIFRAME_STORE", "VERIFRAME_POLICY",
                "VERIFRAME_WATERMARK_KEYS", "VERIFRAME_RESOLVERS"):
        mp.delenv(var, raising=False)
    mp.chdir(SHARED)
    yield main
    mp.undo()


@pytest.mark.skipif(not FILES, reason="../shared/c2pa/INDEX.csv not found (shared test data)")
@pytest.mark.parametrize("rel", FILES)
def test_verify_json_is_unchanged(rel: str, golden_env: object) -> None:
    expected = (GOLDEN / golden_name(rel)).read_text(encoding="utf-8")
    code, out = verify_json(rel, golden_env)
    assert f"exit {code}\n{out}" == expected


def test_every_golden_document_has_a_corpus_file() -> None:
    if not FILES:
        pytest.skip("../shared not found")
    names = {golden_name(rel) for rel in FILES}
    assert {p.name for p in Path(GOLDEN).glob("*.json")} == names
