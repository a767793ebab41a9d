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
turn (the machine's speed drifts between minutes), and each figure is the median over the rounds
(``envs.compile_program`` / ``envs.run_rounds`` / ``envs.bare_run``, shared with benchmarks/envs.py;
since 2026-12-03's review the controls are drawn by ``envs.random_action``, the recorded run drew them
with one uniform per key).
"""

from __future__ import annotations

import argparse
import sys

import jax
import mujoco
import numpy as np

from common import machine_info, physics_settings, write_json
from envs import Program, bare_run, compile_program, run_rounds
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


def program(m: mujoco.MjModel, num_envs: int, steps: int, traced: bool) -> Program:
    """``envs.bare_run`` on ``m`` (controls uniform in [-1, 1]) from :func:`start_data`, compiled."""
    bounds = np.ones(m.nu, np.float32)
    run = bare_run(SUBSTEPS, num_envs, steps, -bounds, bounds)
    return compile_program(run, (jax.random.key(1), start_data(m, num_envs)), mjx.put_model(m, impl="jax"),
                           traced, num_envs * steps)


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
            progs[key] = prog = program(m, a.envs, a.steps, traced)
            doc["variants"][key] = {"settings": physics_settings(m, SUBSTEPS),
                                    "contacts": int(prog.args[1]._impl.contact.dist.shape[-1])}
            print(f"compiled {key} ({prog.compile_s:.1f} s)", flush=True)
    pg_key = "Playground's hopper.xml"
    print(f"\n| variant | contacts | env steps/s (median of {a.repeats}) | / Playground's | compile s |\n|---|---:|---:|---:|---:|")
    for key, figures in run_rounds(progs, a.repeats).items():  # interleaved rounds
        doc["variants"][key].update(figures)
    for key, row in doc["variants"].items():
        row["over_playground"] = doc["variants"][pg_key]["run_s"] / row["run_s"]
        print(f"| {key} | {row['contacts']} | {row['steps_per_s']:,.0f} | {row['over_playground']:.2f} | {row['compile_s']:.1f} |")
    write_json(a.json, doc)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
