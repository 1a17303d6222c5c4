"""``smalltown bench store`` runs through on a scratch database, whatever its settings."""

from smalltown.bench import store_bench


async def test_fewer_searches_than_filter_groups_still_run(tmp_path):
    lines: list[str] = []
    figures = await store_bench.run(
        f"sqlite:///{tmp_path}/bench.db", [300], dims=8, searches=5, out=lines.append
    )
    assert store_bench.GROUPS > 5  # the warm-up pass searches every group
    assert figures["vector_inserts_per_s_300"] > 0
    assert figures["vector_filtered_p50_ms_300"] > 0
    assert any("vector search, 300 x 8-d" in line for line in lines)
