"""The engine: seeds as an axis, one compile per stage, frozen diverged seeds, resume, sharding.

A toy two-role model (a linear map and a bias, least squares) keeps compilation fast; the DDN's
own behaviour is in test_train_ddn.py.
"""

import functools
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdis.train import checkpoint, engine
from jaxdis.train.optimizers import make_optimizer, thesis_rmsprop

N_TRAIN, DIM, BATCH = 70, 6, 16  # 70 // 16 = 4 steps per epoch, a ragged tail of 6 dropped


def _init(key):
    return {"weights": {"w": jax.random.normal(key, (DIM, 2))}, "bias": {"b": jnp.zeros(2)}}


def _least_squares(params, constants, batch, key, epoch):
    del constants, key, epoch

    def loss(p):
        target = batch[:, :2]
        return jnp.mean(jnp.sum((batch @ p["weights"]["w"] + p["bias"]["b"] - target) ** 2, -1))

    value, grads = jax.value_and_grad(loss)(params)
    return {"loss": value}, grads


def _probe(params, constants, probe_x, key):
    del constants, key
    return {"weight_norm": jnp.sum(params["weights"]["w"] ** 2), "probe_mean": jnp.mean(probe_x)}


PROGRAM = engine.Program(
    stages=(engine.Stage("weights_only", 2, ("weights",), _least_squares),
            engine.Stage("both", 3, ("weights", "bias"), _least_squares)),
    optimizer=make_optimizer({"weights": thesis_rmsprop(1e-2), "bias": thesis_rmsprop(1e-1)}),
    init_params=_init, probe_metrics=_probe, batch_size=BATCH)

X = jax.random.normal(jax.random.PRNGKey(42), (N_TRAIN, DIM))
PROBE = X[:20]


def _tree_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _tree_allclose(a, b, rtol):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64),
                                   rtol=rtol, atol=1e-6)


def _collect():
    log = []

    def on_chunk(stage, first_epoch, metrics, states, following):
        log.append((stage.name, first_epoch, metrics, following))
    return log, on_chunk


S = 3  # every test runs 3 seeds in one-epoch calls, so they share the compiled programs
KEYS = engine.seed_keys(0, S)


def _single_seed_run(key):
    """The twin: one seed, unvmapped, epoch by epoch."""
    state = engine.init_state(PROGRAM, key)
    for stage_index, stage in enumerate(PROGRAM.stages):
        for epoch in range(stage.epochs):
            state, _ = engine.compiled_epochs(PROGRAM, stage_index, 1, vmapped=False)(
                state, X, PROBE, jnp.int32(epoch))
    return state


@functools.lru_cache(maxsize=None)
def _single_seed_runs():
    return [_single_seed_run(key) for key in KEYS]


def test_a_vmapped_sweep_equals_separate_single_seed_runs_with_the_same_keys():
    swept = engine.run_program(PROGRAM, engine.init_states(PROGRAM, KEYS), X, PROBE)
    for i, single in enumerate(_single_seed_runs()):
        _tree_allclose(jax.tree.map(lambda leaf: leaf[i], swept), single, rtol=1e-5)


def test_seed_i_does_not_depend_on_how_many_seeds_run_together():
    assert np.array_equal(engine.seed_keys(7, 5)[:2], engine.seed_keys(7, 2))


def test_an_epoch_takes_n_train_over_batch_steps_and_drops_the_ragged_tail():
    states = engine.init_states(PROGRAM, KEYS)
    out = engine.run_program(PROGRAM, states, X, PROBE)
    assert np.all(np.asarray(out.step) == 5 * (N_TRAIN // BATCH))


def test_a_stage_leaves_the_roles_it_does_not_train_exactly_as_they_were():
    states = engine.init_states(PROGRAM, KEYS)
    after, _ = engine.compiled_epochs(PROGRAM, 0, 1)(states, X, PROBE, jnp.int32(0))
    assert _tree_equal(after.params["bias"], states.params["bias"])
    assert _tree_equal(after.opt_state.inner_states["bias"], states.opt_state.inner_states["bias"])
    assert not _tree_equal(after.params["weights"], states.params["weights"])


def test_each_stage_compiles_once_however_many_chunks_it_runs():
    log, on_chunk = _collect()
    for _ in range(2):  # two whole runs (the other tests of this file add more)
        engine.run_program(PROGRAM, engine.init_states(PROGRAM, KEYS), X, PROBE, epochs_per_call=1,
                           on_chunk=on_chunk)
    assert len(log) == 10  # five one-epoch calls per run
    assert engine.TRACE_COUNTS[("weights_only", 1, True)] == 1
    assert engine.TRACE_COUNTS[("both", 1, True)] == 1
    # Metrics come back once per call, per seed and epoch, as NumPy arrays.
    name, first, metrics, following = log[-1]
    assert (name, first, following) == ("both", 2, engine.Position(2, 0))
    assert metrics["loss"].shape == (S, 1) and metrics["alive"].dtype == bool


def test_a_diverging_seed_is_frozen_and_reported_while_the_others_train_on():
    # Seed 1's learning rate makes its weights overflow float32 within a few steps.
    lrs = jnp.array([1e-2, 1e36, 1e-2])
    states = engine.init_states(PROGRAM, KEYS, hyperparams={"weights": {"learning_rate": lrs}})
    log, on_chunk = _collect()
    out = engine.run_program(PROGRAM, states, X, PROBE, on_chunk=on_chunk)
    alive = np.concatenate([m["alive"] for _, _, m, _ in log], axis=1)
    assert alive[[0, 2]].all() and not alive[1, -1]
    died = int(out.died_at_step[1])
    assert 0 <= died < 8 and list(np.asarray(out.died_at_step)[[0, 2]]) == [-1, -1]
    # The frozen seed's state stays finite and no longer changes ...
    assert all(np.isfinite(leaf[1]).all() for leaf in jax.tree.leaves(out.params))
    again, _ = engine.compiled_epochs(PROGRAM, 1, 1)(out, X, PROBE, jnp.int32(0))
    frozen = lambda tree: jax.tree.map(lambda leaf: leaf[1], tree)  # noqa: E731
    assert _tree_equal(frozen(again.params), frozen(out.params))
    assert _tree_equal(frozen(again.opt_state), frozen(out.opt_state))
    # ... and the healthy seeds are what they would be without it.
    for i in (0, 2):
        _tree_allclose(jax.tree.map(lambda leaf: leaf[i], out.params),
                       _single_seed_runs()[i].params, rtol=1e-5)


class _Killed(Exception):
    pass


def _run_with_checkpoints(folder, states, start=engine.Position(), kill_after=None):
    calls = []

    def on_chunk(stage, first_epoch, metrics, new_states, following):
        checkpoint.save_checkpoint(folder, new_states, following, {"chunks": len(calls) + 1})
        calls.append(metrics)
        if kill_after is not None and len(calls) == kill_after:
            raise _Killed

    final = engine.run_program(PROGRAM, states, X, PROBE, start=start, on_chunk=on_chunk)
    return final, calls


def test_resume_from_a_killed_run_gives_the_uninterrupted_result_bit_for_bit(tmp_path):
    fresh = engine.init_states(PROGRAM, KEYS)
    uninterrupted, metrics_full = _run_with_checkpoints(tmp_path / "a", fresh)

    with pytest.raises(_Killed):  # killed after 3 of 5 epochs (inside the second stage)
        _run_with_checkpoints(tmp_path / "b", fresh, kill_after=3)
    restored, position, extra = checkpoint.load_checkpoint(tmp_path / "b", fresh)
    assert position == engine.Position(1, 1) and extra == {"chunks": 3}
    assert not _tree_equal(restored, uninterrupted)
    resumed, metrics_rest = _run_with_checkpoints(tmp_path / "b", restored, start=position)
    assert _tree_equal(resumed, uninterrupted)
    for got, want in zip(metrics_rest, metrics_full[3:]):
        assert all(np.array_equal(got[k], want[k]) for k in want)
    assert not [p for p in os.listdir(tmp_path / "b") if ".tmp" in p]  # no half-written files


def test_a_corrupt_or_mismatched_checkpoint_is_a_clear_error(tmp_path):
    states = engine.init_states(PROGRAM, KEYS)
    checkpoint.save_checkpoint(tmp_path, states, engine.Position(0, 1))
    other = jax.tree.map(lambda leaf: leaf[:2], states)
    with pytest.raises(ValueError, match="shapes differ|cannot be restored"):
        checkpoint.load_checkpoint(tmp_path, other)
    checkpoint.checkpoint_path(tmp_path).write_bytes(b"not msgpack")
    with pytest.raises(ValueError, match="state.msgpack"):
        checkpoint.load_checkpoint(tmp_path, states)
    with pytest.raises(FileNotFoundError):
        checkpoint.load_checkpoint(tmp_path / "none", states)


# A model with per-seed constants and a projection: least squares toward a target scaled by the
# seed's constant, the weights projected onto a ball after every update.
def _scaled_least_squares(params, constants, batch, key, epoch):
    del key, epoch

    def loss(p):
        target = constants["scale"] * batch[:, :2]
        return jnp.mean(jnp.sum((batch @ p["weights"]["w"] + p["bias"]["b"] - target) ** 2, -1))

    value, grads = jax.value_and_grad(loss)(params)
    return {"loss": value}, grads


def _onto_ball(params, constants):
    w = params["weights"]["w"]
    norm = jnp.sqrt(jnp.sum(w ** 2))
    w = w * jnp.minimum(1.0, constants["radius"] / norm)
    return {**params, "weights": {"w": w}}


CONSTANT_PROGRAM = engine.Program(
    stages=(engine.Stage("both", 2, ("weights", "bias"), _scaled_least_squares),),
    optimizer=make_optimizer({"weights": thesis_rmsprop(1e-1), "bias": thesis_rmsprop(1e-1)}),
    init_params=_init, probe_metrics=_probe, batch_size=BATCH, projection=_onto_ball)
CONSTANTS = {"scale": jnp.array([0.5, 1.0, 3.0]), "radius": jnp.array([0.3, 1.0, 10.0])}


def test_constants_ride_with_their_seed_untrained_and_a_sweep_equals_single_runs():
    swept = engine.run_program(CONSTANT_PROGRAM, engine.init_states(
        CONSTANT_PROGRAM, KEYS, constants=CONSTANTS), X, PROBE)
    assert _tree_equal(swept.constants, CONSTANTS)
    for i, key in enumerate(KEYS):
        one = {name: value[i] for name, value in CONSTANTS.items()}
        state = engine.init_state(CONSTANT_PROGRAM, key, constants=one)
        for epoch in range(2):
            state, _ = engine.compiled_epochs(CONSTANT_PROGRAM, 0, 1, vmapped=False)(
                state, X, PROBE, jnp.int32(epoch))
        _tree_allclose(jax.tree.map(lambda leaf: leaf[i], swept.params), state.params, rtol=1e-5)


def test_the_projection_follows_every_update_inside_the_step():
    state = engine.init_state(CONSTANT_PROGRAM, KEYS[0],
                              constants={"scale": jnp.float32(3.0), "radius": jnp.float32(0.3)})
    batch, key = X[:BATCH], jax.random.PRNGKey(5)
    stepped, _ = engine.compiled_step(CONSTANT_PROGRAM, 0)(state, batch, key, jnp.int32(0))
    # The twin: the optimizer's update by hand, then the projection.
    _, grads = _scaled_least_squares(state.params, state.constants, batch, key, 0)
    updates, _ = CONSTANT_PROGRAM.optimizer.update(grads, state.opt_state, state.params)
    want = _onto_ball(optax.apply_updates(state.params, updates), state.constants)
    _tree_allclose(stepped.params, want, rtol=1e-6)
    assert float(jnp.sqrt(jnp.sum(stepped.params["weights"]["w"] ** 2))) <= 0.3 * (1 + 1e-6)


def _probe_loss(params, constants, probe_x, key):
    del constants, key
    target = probe_x[:, :2]
    error = probe_x @ params["weights"]["w"] + params["bias"]["b"] - target
    return {"probe_loss": jnp.mean(jnp.sum(error ** 2, -1)), "flat": jnp.float32(1.0)}


def _selecting(select_on, select_mode, epochs=(2, 3)):
    return engine.Program(
        stages=tuple(engine.Stage(name, n, ("weights", "bias"), _least_squares)
                     for name, n in zip(("first", "second"), epochs)),
        optimizer=make_optimizer({"weights": thesis_rmsprop(3e-1), "bias": thesis_rmsprop(3e-1)}),
        init_params=_init, probe_metrics=_probe_loss, batch_size=BATCH,
        select_on=select_on, select_mode=select_mode)


def test_selection_keeps_each_seeds_best_epoch_across_stages():
    program = _selecting("probe_loss", "min")
    log, on_chunk = _collect()
    out = engine.run_program(program, engine.init_states(program, KEYS), X, PROBE,
                             on_chunk=on_chunk)
    losses = np.concatenate([m["probe_loss"] for _, _, m, _ in log], axis=1)  # (S, 5 epochs)
    want_epoch = np.argmin(losses, axis=1) + 1
    assert np.array_equal(out.best["epoch"], want_epoch)
    assert np.array_equal(log[-1][2]["best_epoch"][:, -1], want_epoch)
    # The kept parameters score what the chosen epoch scored.
    again = jax.vmap(_probe_loss, in_axes=(0, None, None, None))(out.best["params"], {}, PROBE, 0)
    np.testing.assert_allclose(again["probe_loss"], losses.min(axis=1), rtol=1e-5)


def test_patience_stops_a_sweep_and_saves_it_as_finished(tmp_path):
    from jaxdis.runs import RunDir
    from jaxdis.train import runner

    program = _selecting("flat", "max", epochs=(2, 6))  # equal scores: epoch 1 stays the best
    run_dir = RunDir(tmp_path / "run")
    states, _ = runner.train_sweep(program, S, 0, X, PROBE, run_dir, patience=3)
    records = [r for r in run_dir.read_metrics() if r["stage"] != "init"]
    assert max(r["global_epoch"] for r in records) == 4  # epochs 2, 3, 4 did not improve
    assert np.all(states.best["epoch"] == 1) and np.all(states.step == 4 * (N_TRAIN // BATCH))
    again, resumed = runner.train_sweep(program, S, 0, X, PROBE, run_dir, patience=3)
    assert resumed and np.array_equal(again.step, states.step)
    with pytest.raises(ValueError, match="patience"):
        runner.train_sweep(PROGRAM, S, 0, X, PROBE, run_dir, patience=3)


def test_bad_arguments_name_what_was_expected():
    with pytest.raises(ValueError, match="keys"):
        engine.init_states(PROGRAM, jnp.zeros((3,), jnp.uint32))
    with pytest.raises(ValueError, match="one value per seed"):
        engine.init_states(PROGRAM, KEYS, hyperparams={"weights": {"learning_rate": jnp.ones(2)}})
    with pytest.raises(ValueError, match=r"constants\['scale'\].*leading axis of 3"):
        engine.init_states(PROGRAM, KEYS, constants={"scale": jnp.ones(2)})
    with pytest.raises(ValueError, match="batch_size"):
        engine.minibatch_indices(jax.random.PRNGKey(0), 10, 16)
    with pytest.raises(ValueError, match="divisible"):
        engine.shard_seeds({"w": jnp.zeros((3, 2))}, engine.seed_mesh(jax.devices()[:1] * 2))
    with pytest.raises(ValueError, match="select_mode"):
        _selecting("probe_loss", "lowest")
    with pytest.raises(ValueError, match="'nothing' is not a metric"):
        engine.run_program(_selecting("nothing", "max"), engine.init_states(
            _selecting("nothing", "max"), KEYS), X, PROBE)
    assert engine.padded_seed_count(30, 4) == 32 and engine.padded_seed_count(8, 4) == 8


SHARDED_SCRIPT = textwrap.dedent("""
    import json, jax, jax.numpy as jnp, numpy as np
    import tests.test_train_engine as t
    from jaxdis.train import engine
    assert jax.device_count() == 4, jax.devices()
    states = engine.init_states(t.PROGRAM, engine.seed_keys(11, 4))
    stage_1 = engine.compiled_epochs(t.PROGRAM, 0, 2)  # the first stage, whole, in one call
    plain, plain_metrics = stage_1(states, t.X, t.PROBE, jnp.int32(0))
    mesh = engine.seed_mesh()
    sharded, metrics = stage_1(engine.shard_seeds(states, mesh), engine.replicate(t.X, mesh),
                               engine.replicate(t.PROBE, mesh), jnp.int32(0))
    leaf = sharded.params["weights"]["w"]
    diff = max(float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))))
               for a, b in zip(jax.tree.leaves((plain, plain_metrics)),
                               jax.tree.leaves((sharded, metrics))))
    print(json.dumps({"devices": len(leaf.sharding.device_set), "max_abs_diff": diff,
                      "shard_rows": [s.data.shape[0] for s in leaf.addressable_shards]}))
""")


def test_the_seed_axis_sharded_over_four_devices_equals_the_unsharded_run():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", SHARDED_SCRIPT], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4 and result["shard_rows"] == [1, 1, 1, 1]
    assert result["max_abs_diff"] < 1e-5


# ----------------------------------------------------------------------------- the runner's checkpoints

def _sweep(run_dir, **kwargs):
    from jaxdis.train import runner

    return runner.train_sweep(PROGRAM, S, 0, X, PROBE, run_dir, **kwargs)


def _counting_saves(monkeypatch, kill_after=None):
    """Counts checkpoint saves (and raises _Killed after the given one, as a kill would)."""
    save = checkpoint.save_checkpoint
    positions = []

    def counted(folder, states, position, extra=None):
        save(folder, states, position, extra)
        positions.append(position)
        if kill_after is not None and len(positions) == kill_after:
            raise _Killed

    monkeypatch.setattr(checkpoint, "save_checkpoint", counted)
    return positions


def test_seed_indices_give_models_the_keys_of_the_seeds_they_name(tmp_path):
    from jaxdis.runs import RunDir

    paired, _ = _sweep(RunDir(tmp_path / "paired"), seed_indices=[1, 0, 1])
    plain, _ = _sweep(RunDir(tmp_path / "plain"))
    for model, seed in enumerate([1, 0, 1]):  # model i trains exactly as seed seed_indices[i]
        assert _tree_equal(jax.tree.map(lambda leaf: leaf[model], paired.params),
                           jax.tree.map(lambda leaf: leaf[seed], plain.params))
    with pytest.raises(ValueError, match="seed_indices: expected 3 ints >= 0"):
        _sweep(RunDir(tmp_path / "bad"), seed_indices=[0, 1])


def test_by_default_a_checkpoint_is_written_at_each_stage_end_not_after_every_epoch(
        tmp_path, monkeypatch):
    from jaxdis.runs import RunDir

    saves = _counting_saves(monkeypatch)
    _sweep(RunDir(tmp_path / "run"))  # 5 one-epoch calls, well inside a minute
    assert saves == [engine.Position(1, 0), engine.Position(2, 0)]  # stage 1's end, the end
    assert os.listdir(tmp_path / "run" / "checkpoints") == ["state.msgpack"]  # one file, kept


def test_checkpoint_seconds_zero_writes_one_checkpoint_per_call(tmp_path, monkeypatch):
    from jaxdis.runs import RunDir

    saves = _counting_saves(monkeypatch)
    _sweep(RunDir(tmp_path / "run"), checkpoint_seconds=0)
    assert len(saves) == 5


def test_a_killed_sweep_resumes_where_it_says_bit_for_bit_and_clears_half_written_files(
        tmp_path, monkeypatch, capsys):
    from jaxdis.runs import RunDir

    whole = RunDir(tmp_path / "whole")
    uninterrupted, _ = _sweep(whole, checkpoint_seconds=0)

    killed = RunDir(tmp_path / "killed")
    _counting_saves(monkeypatch, kill_after=3)  # after stage 1 (2 epochs) and 1 epoch of stage 2
    with pytest.raises(_Killed):
        _sweep(killed, checkpoint_seconds=0)
    monkeypatch.undo()
    half_written = killed.path / "checkpoints" / "state.msgpack.tmp1234"
    half_written.write_bytes(b"")  # what a kill in the middle of a save leaves
    resumed, was_resumed = _sweep(killed, checkpoint_seconds=0)

    assert was_resumed
    assert "resuming from stage 2 of 2 (both), epoch 2 of 3" in capsys.readouterr().out
    assert not half_written.exists()
    assert _tree_equal(resumed, uninterrupted)
    assert killed.read_metrics() == whole.read_metrics()
