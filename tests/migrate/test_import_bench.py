"""``smalltown bench import`` runs end to end on a small snapshot and reports each figure."""

from smalltown.bench import import_bench


def test_the_import_benchmark_imports_every_document_and_reports_it(tmp_path):
    lines: list[str] = []
    results = import_bench.run(
        [f"sqlite:///{tmp_path}/bench.db"], docs=600, vectors=60, dims=16, out=lines.append
    )
    (result,) = results
    assert result["provider"] == "sqlite"
    assert result["documents"] == 600
    assert result["rate"] > 0 and result["peak_mb"] > 0
    assert "600 documents" in lines[-1] and "documents/s" in lines[-1]
