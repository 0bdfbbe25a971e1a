"""The run's seed (``--seed``): the model's answers are asked with it, it is stored with the run's scoring,
and a resume keeps it (another seed typed on resume is a one-line error)."""

from __future__ import annotations

from helpers import answer, optimize, run_id_of, shop

from autotrace.store import RunStore, state_dir


def test_the_seed_reaches_the_model_and_the_store_and_a_resume_keeps_it(tmp_path, llm_server) -> None:
    folder = shop(tmp_path)
    llm_server.script(answer(MARKUP=1.0))
    ran = optimize(folder, llm_server, "--seed", "3", "--steps", "1", "--no-probe", "--no-measured-step",
                   "--in-process")
    assert ran.returncode in (0, 1), ran.stderr
    assert llm_server.chat_requests[0].json["seed"] == 3
    run_id = run_id_of(ran)
    with RunStore(state_dir(folder) / "autotrace.db") as store:
        stored = store.get_run(run_id)
    assert stored is not None and stored.scoring is not None and stored.scoring.seed == 3
    other = optimize(folder, llm_server, "--resume", run_id, "--seed", "4", "--in-process")
    assert other.returncode == 2
    assert other.stderr.strip().splitlines() == [
        f"autotrace: error: run {run_id} was started with --seed 3, not --seed 4: drop --seed to resume it as it was, "
        "or start a new run"]
