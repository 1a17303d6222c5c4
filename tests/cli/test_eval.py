"""``smalltown eval diffusion``: a bad request is refused plainly; a run prints who knew."""

from smalltown.cli import main

LLM_VARIABLES = ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST")


def test_too_few_residents_is_refused(capsys):
    assert main(["eval", "diffusion", "--residents", "1"]) == 2
    assert "--residents 2 or more" in capsys.readouterr().out


def test_a_short_run_with_the_offline_brain_prints_its_figures(capsys, monkeypatch, tmp_path):
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMALLTOWN_EMBEDDINGS", "hashed")
    database = f"sqlite:///{tmp_path}/eval.db"
    assert main(["eval", "diffusion", "--minutes", "1", "--database", database]) == 0
    out = capsys.readouterr().out
    assert "offline brain" in out and "game time: 1 min" in out
    assert "knew of the party: " in out and "of 5" in out and "turned up: " in out
