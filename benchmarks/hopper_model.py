#!/usr/bin/env python
"""Why jaxrl's hopper stepped 4.8x slower than MuJoCo Playground's (issue 18, item 5): the physics
alone, model by model and setting by setting, in ONE process, the programs interleaved.

    python benchmarks/hopper_model.py --playground-xml <Playground's dm_control_suite/xmls/hopper.xml>
                                      [--envs 256] [--steps 20] [--repeats 5] [--json out.json]

Each variant is ``vmap(mjx.step)`` (4 physics steps of 0.005 s per env step, ``ctrl`` uniformly random
in [-1, 1], drawn in the graph) over ``--steps`` env steps of ``--envs`` hoppers, ONE ``jax.jit`` of a
``lax.scan``, from the same start states (jaxrl's ``hopper_hop`` reset: random joint angles and
pitch, so the hoppers fall onto the floor and touch it). Variants differ in one thing at a time:

* the model: jaxrl's ``envs/assets/hopper.xml`` (as ``physics="faithful"`` or ``"fast"`` builds it)
  or Playground's own XML (its ``<option>`` and custom numerics as shipped); Playground's file is
  read with ``mujoco`` directly, nothing of Playground is imported;
* the settings that decide the per-step work: Newton / line-search caps, implicit damping in
  Euler (``eulerdamp``), MJX's contact caps (``max_contact_points`` / ``max_geom_pairs``);
* how the model enters the program: closed over (a constant XLA folds; how jaxrl's trainers and
  Playground's envs run) or passed as an argument (traced; how a program that randomises the
  model runs).

Every program is compiled first (timed apart); then ``--repeats`` rounds run every program once, in
turn (the machine's speed drifts between minutes), and each figure is the median over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import mujoco

from common import machine_info, physics_settings, write_json
from jaxrl import envs
from jaxrl.envs.mjx_env import asset_path, mjx

SUBSTEPS = 4


def hopper_model(xml: str, *, iterations=None, ls_iterations=None, floor_only=False, eulerdamp=None,
                 max_contact_points=None, max_geom_pairs=None) -> mujoco.MjModel:
    """``xml`` compiled with the given settings replaced (``None``: the file's own)."""
    spec = mujoco.MjSpec.from_file(xml)
    for name, value in (("max_contact_points", max_contact_points), ("max_geom_pairs", max_geom_pairs)):
        if value is not None:
            spec.add_numeric(name=name, data=[value])
    m = spec.compile()
    if iterations is not None:
        m.opt.iterations = iterations
    if ls_iterations is not None:
        m.opt.ls_iterations = ls_iterations
    if floor_only:  # the fast preset's edit, as jaxrl.envs.mjx_env applies it
        from jaxrl.envs.mjx_env import _only_floor_contacts
        _only_floor_contacts(m)
    if eulerdamp is not None:
        flag = mujoco.mjtDisableBit.mjDSBL_EULERDAMP
        m.opt.disableflags = (m.opt.disableflags & ~flag) if eulerdamp else (m.opt.disableflags | flag)
    return m


def variants(pg_xml: str) -> dict:
    jx = asset_path("hopper.xml")
    return {
        "jaxrl faithful (100 / 50, all contacts)": hopper_model(jx),
        "jaxrl fast (6 / 8, floor contacts)": hopper_model(jx, iterations=6, ls_iterations=8, floor_only=True),
        "jaxrl fast at 4 / 10": hopper_model(jx, iterations=4, ls_iterations=10, floor_only=True),
        "jaxrl fast at 4 / 10, no eulerdamp": hopper_model(jx, iterations=4, ls_iterations=10, floor_only=True,
                                                          eulerdamp=False),
        "jaxrl at Playground's settings (4 / 10, no eulerdamp, contact caps 6 / 2, all contacts)": hopper_model(
            jx, iterations=4, ls_iterations=10, eulerdamp=False, max_contact_points=6, max_geom_pairs=2),
        "Playground's hopper.xml": hopper_model(pg_xml),
    }


def start_data(m: mujoco.MjModel, num_envs: int) -> mjx.Data:
    """jaxrl's hopper_hop reset states (same keys for every variant), forward-computed on ``m``."""
    env, params = envs.make("hopper_hop")
    keys = jax.random.split(jax.random.key(0), num_envs)
    qpos = jax.jit(jax.vmap(lambda k: env.unwrapped.initial_qpos_qvel(k, params)[0]))(keys)
    mx = mjx.put_model(m, impl="jax")
    d0 = mjx.make_data(m, impl="jax")
    return jax.jit(jax.vmap(lambda q: mjx.forward(mx, d0.replace(qpos=q))))(qpos)


def program(m: mujoco.MjModel, num_envs: int, steps: int, traced: bool):
    mx = mjx.put_model(m, impl="jax")

    def run(key, data, model):
        def body(d, k):
            d = d.replace(ctrl=jax.random.uniform(k, (num_envs, m.nu), minval=-1.0, maxval=1.0))
            d = jax.lax.fori_loop(0, SUBSTEPS, lambda _, d: jax.vmap(mjx.step, (None, 0))(model, d), d)
            return d, jnp.sum(d.qpos[:, 0])

        d, out = jax.lax.scan(body, data, jax.random.split(key, steps))
        return d, jnp.sum(out)

    data = start_data(m, num_envs)
    args = (jax.random.key(1), data, mx) if traced else (jax.random.key(1), data)
    fn = run if traced else (lambda k, d: run(k, d, mx))
    t = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, args, time.perf_counter() - t


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--playground-xml", required=True, help="Playground's dm_control_suite/xmls/hopper.xml")
    p.add_argument("--envs", type=int, default=256)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--traced", action="store_true", help="also time every variant with the model traced")
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    doc = {"machine": machine_info(), "args": vars(a), "variants": {}}
    progs = {}
    for name, m in variants(a.playground_xml).items():
        for traced in ((False, True) if a.traced else (False,)):
            key = name + (" [model traced]" if traced else "")
            compiled, args, compile_s = program(m, a.envs, a.steps, traced)
            progs[key] = (compiled, args)
            doc["variants"][key] = {"settings": physics_settings(m, SUBSTEPS), "compile_s": compile_s,
                                    "contacts": int(args[1]._impl.contact.dist.shape[-1]), "runs_s": []}
            print(f"compiled {key} ({compile_s:.1f} s)", flush=True)
    for _ in range(a.repeats):
        for key, (compiled, args) in progs.items():
            t = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            doc["variants"][key]["runs_s"].append(time.perf_counter() - t)
    print(f"\n| variant | contacts | env steps/s (median of {a.repeats}) | / Playground's | compile s |\n|---|---:|---:|---:|---:|")
    pg = statistics.median(doc["variants"]["Playground's hopper.xml"]["runs_s"])
    for key, row in doc["variants"].items():
        row["run_s"] = statistics.median(row["runs_s"])
        row["steps_per_s"] = a.envs * a.steps / row["run_s"]
        row["over_playground"] = pg / row["run_s"]
        print(f"| {key} | {row['contacts']} | {row['steps_per_s']:,.0f} | {row['over_playground']:.2f} | {row['compile_s']:.1f} |")
    write_json(a.json, doc)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
